#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time over its seed corpus (read-only: new inputs go to a
# temporary folder, so the suite never writes into the source tree). Usage: run-fuzzer.sh BIN CORPUS SECONDS
set -eu
bin=$1; corpus=$2; seconds=${3:-10}
[ -x "$bin" ] || { echo "fuzzer binary $bin is missing (was the fuzz build made?)"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new"
exec_args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/")
if "$bin" "${exec_args[@]}" "$work/new" "$corpus" > "$work/log" 2>&1; then
  grep -E 'stat::number_of_executed_units|Done' "$work/log" | tail -2
  exit 0
fi
tail -40 "$work/log"
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  [ -e "$f" ] && { echo "reproducer ($f), base64:"; base64 -w0 "$f"; echo; }
done
exit 1
