#!/usr/bin/env bash
# Cold start: wall time from process start to exit of a minimal program that
# sends one PutEvents configured from the environment, for (a) our blocking
# client, (b) our async client, (c) the official SDK with aws-config (the
# same programs as benches/footprint/run.sh, from benches/minimal/programs.sh).
# Builds the three once in release (one shared target directory, reused on
# the next run), starts `sink_server --count` on 127.0.0.1, then runs each
# program RUNS times (default 30) interleaved a b c, a b c, ... so drift hits
# all three alike. Each run is timed as a whole process (fork, exec, start,
# configuration from the environment, one call, exit); its exit status must
# be 0 and the sink must have counted exactly one more accepted PutEvents.
# Environment of each run: fixed test credentials, AWS_REGION,
# AWS_ENDPOINT_URL=http://127.0.0.1:PORT, AWS_EC2_METADATA_DISABLED=true,
# HOME an empty temporary folder (no profile files), no other AWS_* variable
# and no proxy variable.
# Prints median and p90 per program and the ratio ours / official.
# Usage: RUNS=30 COLDSTART_DIR=/tmp/coldstart bash benches/coldstart/run.sh
set -euo pipefail
export LC_ALL=C   # EPOCHREALTIME with a dot
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${COLDSTART_DIR:-/tmp/coldstart}"
runs="${RUNS:-30}"
per_run_limit=20    # seconds one program may take before it counts as failed
total_limit=900     # seconds for the whole timed loop
[[ "$runs" =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 1000)) || { echo "RUNS must be 1..1000" >&2; exit 2; }
mkdir -p "$work"

. "$repo/benches/minimal/programs.sh"
make_programs "$work" "$repo"

echo "building the three programs (release, shared target $work/target) and sink_server..." >&2
for p in a b c; do
  name=$(program_name "$p")
  (cd "$work/$name" && CARGO_TARGET_DIR="$work/target" cargo build --release -q 2> "$work/$name.build.log") \
    || { cat "$work/$name.build.log" >&2; exit 1; }
done
bench_target="${CARGO_TARGET_DIR:-$repo/target}"
(cd "$repo" && cargo build --release -q -p personalize-events-benches --bin sink_server)
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
accepted() { local last; last=$(tail -n 1 "$work/sink.out"); [[ "$last" == accepted\ * ]] && echo "${last#accepted }" || echo 0; }

# The environment of every run.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^AWS_|^(http|https|all|no)_proxy$|^(HTTP|HTTPS|ALL|NO)_PROXY$' || true)
rm -rf "$work/home"; mkdir -p "$work/home"
export HOME="$work/home"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$url" AWS_EC2_METADATA_DISABLED=true

# run_one p: runs program p once; prints its wall time in microseconds.
run_one() {
  local name bin start end status before
  name=$(program_name "$1"); bin="$work/target/release/$name"
  before=$(accepted)
  start=$EPOCHREALTIME
  status=0
  timeout "$per_run_limit" "$bin" >> "$work/$name.out" 2>> "$work/$name.err" || status=$?
  end=$EPOCHREALTIME
  ((status == 0)) || { echo "$name exited with status $status (see $work/$name.err)" >&2; exit 1; }
  local after; after=$(accepted)
  ((after == before + 1)) || { echo "$name: sink counted $before then $after accepted, not one more" >&2; exit 1; }
  echo $(( (${end/./} - ${start/./}) ))
}

# One untimed run each first, so the binaries are in the page cache (as a
# deployed binary is) and a broken setup fails before the timed loop.
: > "$work/fp-blocking.out"; : > "$work/fp-async.out"; : > "$work/fp-official.out"
for p in a b c; do run_one "$p" > /dev/null; done
# The baseline: the same fork/exec/timeout wrapping around /bin/true.
baseline=()
declare -A times=([a]="" [b]="" [c]="")
echo "load before: $(uptime)" >&2
begin=$SECONDS
for i in $(seq "$runs"); do
  ((SECONDS - begin < total_limit)) || { echo "stopped after $((i - 1)) rounds: over $total_limit s" >&2; break; }
  for p in a b c; do times[$p]+="$(run_one "$p") "; done
  s=$EPOCHREALTIME; timeout "$per_run_limit" /bin/true; e=$EPOCHREALTIME
  baseline+=("$(( ${e/./} - ${s/./} ))")
done
echo "load after: $(uptime)" >&2
echo "accepted by the sink in all: $(accepted)" >&2

# stats "t1 t2 ...": median and p90 (nearest rank) in ms.
stats() {
  tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(0.9 * NR); if (r < 0.9 * NR) r++; if (r < 1) r = 1
    printf "%.1f %.1f %d\n", m / 1000, v[r] / 1000, NR }'
}
read -r ma pa na <<< "$(stats "${times[a]}")"
read -r mb pb nb <<< "$(stats "${times[b]}")"
read -r mc pc nc <<< "$(stats "${times[c]}")"
read -r m0 p0 n0 <<< "$(stats "${baseline[*]}")"
printf '| program | runs | median | p90 | median ours / official |\n|---|---|---|---|---|\n'
printf '| ours, blocking (fp-blocking) | %s | %s ms | %s ms | %s |\n' "$na" "$ma" "$pa" "$(awk -v a="$ma" -v c="$mc" 'BEGIN { printf "%.2f", a / c }')"
printf '| ours, async (fp-async) | %s | %s ms | %s ms | %s |\n' "$nb" "$mb" "$pb" "$(awk -v a="$mb" -v c="$mc" 'BEGIN { printf "%.2f", a / c }')"
printf '| official SDK + aws-config (fp-official) | %s | %s ms | %s ms | 1 |\n' "$nc" "$mc" "$pc"
printf '| baseline: `timeout` + /bin/true | %s | %s ms | %s ms | |\n' "$n0" "$m0" "$p0"
echo "(programs, outputs and logs in $work)"
