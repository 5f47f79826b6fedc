#!/usr/bin/env bash
# Footprint of a minimal program that sends one PutEvents: clean release build
# time, crates compiled, and stripped binary size, for (a) our blocking
# client, (b) our async client, (c) the official SDK with aws-config.
# Each builds in a fresh target directory (sources already downloaded count
# as free). Usage: bash benches/footprint/run.sh [a b c]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${FOOTPRINT_DIR:-$(mktemp -d /tmp/footprint.XXXXXX)}"
which="${*:-a b c}"

make_program() { # name, deps (toml), main.rs body
  local dir="$work/$1"; mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
$2

[profile.release]
strip = true

[workspace]
TOML
  printf '%s\n' "$3" > "$dir/src/main.rs"
}

make_program fp-blocking "personalize-events-blocking = { path = \"$repo/transport-blocking\" }" '
fn main() {
    use personalize_events_blocking::{Client, Event, PutEventsInput};
    let client = Client::from_env().expect("configuration");
    let input = PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", std::time::SystemTime::now()).item_id("item-1"));
    println!("{:?}", client.put_events(input));
}'

make_program fp-async "personalize-events-hyper = { path = \"$repo/transport-hyper\" }
tokio = { version = \"1\", features = [\"rt\", \"macros\"] }" '
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use personalize_events_hyper::{Client, Event, PutEventsInput};
    let client = Client::from_env().expect("configuration");
    let input = PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", std::time::SystemTime::now()).item_id("item-1"));
    println!("{:?}", client.put_events(input).await);
}'

make_program fp-official "aws-config = \"1\"
aws-sdk-personalizeevents = \"1\"
tokio = { version = \"1\", features = [\"rt\", \"macros\"] }" '
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use aws_sdk_personalizeevents::{primitives::DateTime, types::Event, Client};
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&config);
    let event = Event::builder().event_type("click").item_id("item-1")
        .sent_at(DateTime::from(std::time::SystemTime::now())).build().expect("event");
    println!("{:?}", client.put_events().tracking_id("tracking-id").session_id("session-1")
        .event_list(event).send().await);
}'

printf '| program | clean release build | crates compiled | stripped binary |\n|---|---|---|---|\n'
for p in $which; do
  case "$p" in a) name=fp-blocking;; b) name=fp-async;; c) name=fp-official;; *) continue;; esac
  dir="$work/$name"
  (cd "$dir" && cargo fetch -q >/dev/null 2>&1 || true)
  start=$(date +%s.%N)
  (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --release 2> "$dir/build.log")
  end=$(date +%s.%N)
  crates=$(grep -c '^ *Compiling ' "$dir/build.log" || true)
  size=$(stat -c %s "$dir/target/release/$name")
  awk -v n="$name" -v s="$start" -v e="$end" -v c="$crates" -v b="$size" \
    'BEGIN { printf "| %s | %.0f s | %s | %.1f MiB |\n", n, e - s, c, b / 1048576 }'
done
echo "(programs and logs in $work)"
