#!/usr/bin/env bash
# Cold start: wall time from process start to exit of a minimal program that
# sends one PutEvents configured from the environment, for (a) our blocking
# client, (b) our async client, (c) the official SDK with aws-config (the
# same programs as benches/footprint/run.sh, from benches/minimal/programs.sh).
# Builds the three once in release (one shared target directory, reused on
# the next run) and the sink and the timer (`coldstart`, in the benches
# package), copies each program to a new file as a deployment does (see
# below; AS_BUILT=1 to time the linker's output in place), starts
# `sink_server --count` on 127.0.0.1, then has the timer
# run each program RUNS times (default 30) interleaved a b c base, a b c
# base, ... so drift hits all alike. Each run is timed as a whole process
# (spawn, exec, start, configuration from the environment, one call, exit);
# its exit status must be 0 and the sink must have counted exactly one more
# accepted PutEvents. The baseline, /bin/true spawned the same way, is the
# floor every run pays; a Rust hello world of the same profile is shown
# beside it.
# Environment of each run: fixed test credentials, AWS_REGION,
# AWS_ENDPOINT_URL=http://127.0.0.1:PORT, AWS_EC2_METADATA_DISABLED=true,
# HOME an empty temporary folder (no profile files), no other AWS_* variable
# and no proxy variable.
# Prints median and p90 per program and the ratios ours / official, as a
# markdown table.
# Usage: RUNS=30 COLDSTART_DIR=/tmp/coldstart [AS_BUILT=1] bash benches/coldstart/run.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${COLDSTART_DIR:-/tmp/coldstart}"
runs="${RUNS:-30}"
per_run_limit=20    # seconds one run may take before it is killed and counts as failed
total_limit=900     # seconds for the whole timed loop
[[ "$runs" =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 1000)) || { echo "RUNS must be 1..1000" >&2; exit 2; }
mkdir -p "$work"

. "$repo/benches/minimal/programs.sh"
make_programs "$work" "$repo"
# A second floor: what any Rust program of the same profile costs.
make_program "$work" fp-hello "" 'fn main() { println!("hello"); }'

echo "building the three programs and a hello world (release, shared target $work/target), sink_server and the timer..." >&2
for name in fp-blocking fp-async fp-official fp-hello; do
  (cd "$work/$name" && CARGO_TARGET_DIR="$work/target" cargo build --release -q 2> "$work/$name.build.log") \
    || { cat "$work/$name.build.log" >&2; exit 1; }
done
bench_target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p personalize-events-benches --bin sink_server --bin coldstart)
sink_bin="$bench_target/release/sink_server"

# The sink: stdin held open on fd 3 through a fifo (it stops when that closes,
# or after its own --seconds bound); stdout to a file the runs check.
rm -f "$work/sink.in" "$work/sink.out"
mkfifo "$work/sink.in"
"$sink_bin" --count --seconds $((total_limit + 60)) < "$work/sink.in" > "$work/sink.out" &
sink_pid=$!
exec 3> "$work/sink.in"
cleanup() { exec 3>&- || true; wait "$sink_pid" 2>/dev/null || true; }
trap cleanup EXIT
url=""
for _ in $(seq 100); do
  url=$(head -n 1 "$work/sink.out" 2>/dev/null || true)
  [[ "$url" == http://127.0.0.1:* ]] && break
  url=""; sleep 0.1
done
[[ -n "$url" ]] || { echo "sink_server did not print its URL within 10 s" >&2; exit 1; }

# The environment of every run.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^AWS_|^(http|https|all|no)_proxy$|^(HTTP|HTTPS|ALL|NO)_PROXY$' || true)
rm -rf "$work/home"; mkdir -p "$work/home"
export HOME="$work/home"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$url" AWS_EC2_METADATA_DISABLED=true

# The timer (benches/src/bin/coldstart.rs) spawns each program directly and
# times it from just before the spawn to `wait` returning; it checks each
# exit status and the sink's count, kills a run over its limit, and times
# /bin/true spawned the same way as the floor every run pays.
for name in fp-blocking fp-async fp-official fp-hello true; do : > "$work/$name.out"; : > "$work/$name.err"; done
# Each program is timed as deployed: copied to a new file (as unzipping a
# Lambda package, extracting an image layer or `cargo install` writes it),
# not where the linker left it. A binary the linker has just written sits
# in the page cache in a way that costs every one of them more page faults
# at start (0.3 to 0.8 ms here, 2 ms for the official program), which a
# deployed copy does not pay. AS_BUILT=1 times the linker's files instead.
deployed="$work/deployed"
rm -rf "$deployed"; mkdir -p "$deployed"
for name in fp-blocking fp-async fp-official fp-hello; do
  if [[ "${AS_BUILT:-0}" == 1 ]]; then
    ln -s "$work/target/release/$name" "$deployed/$name"
  else
    cp "$work/target/release/$name" "$deployed/$name"
  fi
done
bin() { echo "$deployed/$(program_name "$1")"; }
echo "uptime: $(uptime)" >&2
"$bench_target/release/coldstart" --runs "$runs" --sink-log "$work/sink.out" --logs "$work" \
  --run-limit-secs "$per_run_limit" --total-limit-secs "$total_limit" \
  --program "ours, blocking (fp-blocking)=$(bin a)" \
  --program "ours, async (fp-async)=$(bin b)" \
  --official "official SDK + aws-config (fp-official)=$(bin c)" \
  --baseline "baseline: /bin/true, spawned the same way=/bin/true" \
  --baseline "baseline: a Rust hello world, same profile (fp-hello)=$deployed/fp-hello"
echo "(programs, outputs and logs in $work)"
