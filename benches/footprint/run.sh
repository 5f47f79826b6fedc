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

# The programs themselves are written once, for this script and coldstart.
. "$repo/benches/minimal/programs.sh"
make_programs "$work" "$repo"

printf '| program | clean release build | crates compiled | stripped binary |\n|---|---|---|---|\n'
for p in $which; do
  name=$(program_name "$p") || continue
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
