# The three minimal programs that send one PutEvents configured from the
# environment, shared by benches/footprint/run.sh and benches/coldstart/run.sh
# so both measure the same code: (a) fp-blocking, our blocking client,
# (b) fp-async, our async client, (c) fp-official, the official SDK with
# aws-config. Each exits 0 when the call succeeded and 1 (printing the error)
# when it did not. Source this file, then: make_programs WORK_DIR REPO_DIR.
# Each program is its own one-package workspace under WORK_DIR/<name>.

# program_name a|b|c: the package (and binary) name of one program.
program_name() {
  case "$1" in
    a) echo fp-blocking ;;
    b) echo fp-async ;;
    c) echo fp-official ;;
    *) return 1 ;;
  esac
}

# write_if_changed FILE: stdin to FILE, leaving FILE (and its mtime, which
# cargo's incremental build goes by) alone when it already holds the same.
write_if_changed() {
  local tmp="$1.new"
  cat > "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

# make_program WORK_DIR name deps(toml) main.rs
make_program() {
  local dir="$1/$2"
  mkdir -p "$dir/src"
  write_if_changed "$dir/Cargo.toml" <<TOML
[package]
name = "$2"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
$3

[profile.release]
strip = true

[workspace]
TOML
  printf '%s\n' "$4" | write_if_changed "$dir/src/main.rs"
}

# make_programs WORK_DIR REPO_DIR: writes all three programs.
make_programs() {
  local work="$1" repo="$2"
  make_program "$work" fp-blocking \
    "personalize-events-blocking = { path = \"$repo/transport-blocking\" }" '
fn main() {
    use personalize_events_blocking::{Client, Event, PutEventsInput};
    let client = Client::from_env().expect("configuration");
    let input = PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", std::time::SystemTime::now()).item_id("item-1"));
    match client.put_events(input) {
        Ok(output) => println!("{output:?}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}'

  make_program "$work" fp-async \
    "personalize-events-hyper = { path = \"$repo/transport-hyper\" }
tokio = { version = \"1\", features = [\"rt\", \"macros\"] }" '
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use personalize_events_hyper::{Client, Event, PutEventsInput};
    let client = Client::from_env().expect("configuration");
    let input = PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", std::time::SystemTime::now()).item_id("item-1"));
    match client.put_events(input).await {
        Ok(output) => println!("{output:?}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}'

  make_program "$work" fp-official "aws-config = \"1\"
aws-sdk-personalizeevents = \"1\"
tokio = { version = \"1\", features = [\"rt\", \"macros\"] }" '
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use aws_sdk_personalizeevents::{primitives::DateTime, types::Event, Client};
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&config);
    let event = Event::builder().event_type("click").item_id("item-1")
        .sent_at(DateTime::from(std::time::SystemTime::now())).build().expect("event");
    let sent = client.put_events().tracking_id("tracking-id").session_id("session-1")
        .event_list(event).send().await;
    match sent {
        Ok(output) => println!("{output:?}"),
        Err(e) => {
            eprintln!("{e:?}");
            std::process::exit(1);
        }
    }
}'
}
