#!/usr/bin/env bash
# The determinism gate: the same 10,000-tick, 500-player scenario run by a GCC -O0, a GCC -O3 (the
# release build) and a Clang -O2 build of sim/ must print byte-identical hash streams (a quick
# hash every tick, a full hash every 100 ticks), with one region owning the map and as one region
# of a split map; then each replays the golden logs to their committed hash streams. Usage: determinism-gate.sh AUX_DIR  (tools/test.sh makes the builds).
set -eu
aux=$1
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
args=(--seed 20261124 --players 500 --ticks 10000 --chunks 16 --npcs 100 --full-every 100 --remote-regions 2 --hostile 5)
flavours=(gate-gcc-O0 release gate-clang-O2)
status=0
# The scenario twice: one region owning every chunk, then region 1 of a map split into 3 strips
# (random ticks and NPCs only in its strip, a leftover column owned by no region).
for run in whole split; do
  extra=(); [ $run = split ] && extra=(--split-regions 3)
  for f in "${flavours[@]}"; do
    bin="$aux/$f/bin/strata-scenario"
    [ -x "$bin" ] || { echo "gate: $bin is missing"; exit 1; }
    "$bin" "${args[@]}" "${extra[@]}" --hash-stream "$out/$f.$run.txt" 2> "$out/$f.err" || { cat "$out/$f.err"; exit 1; }
    echo "$f ($run): $(wc -l < "$out/$f.$run.txt") ticks, $(tail -1 "$out/$f.err")"
  done
  for f in "${flavours[@]:1}"; do
    if ! cmp -s "$out/${flavours[0]}.$run.txt" "$out/$f.$run.txt"; then
      echo "gate: $f diverges from ${flavours[0]} ($run); first differing line:"
      diff <(cat "$out/${flavours[0]}.$run.txt") <(cat "$out/$f.$run.txt") | head -4
      status=1
    fi
  done
  [ $status = 0 ] && echo "gate: identical scenario hash streams, $run map ($(sha256sum < "$out/${flavours[0]}.$run.txt" | cut -c1-16))"
done

# The golden logs (tests/data/golden.txt) replayed by each flavour must print their committed streams.
data=$(cd "$(dirname "$0")/../tests/data" && pwd)
for name in $(grep -vE '^#' "$data/golden.txt" | awk '{print $1}'); do
  for f in "${flavours[@]}"; do
    if ! "$aux/$f/bin/strata-replay" hashes "$data/golden_$name.strata" > "$out/$name.$f" 2>&1; then
      echo "gate: $f could not replay golden_$name: $(tail -1 "$out/$name.$f")"; status=1; continue
    fi
    if ! cmp -s "$out/$name.$f" "$data/golden_$name.hashes"; then
      echo "gate: $f replays golden_$name to a different hash stream; first difference:"
      diff "$data/golden_$name.hashes" "$out/$name.$f" | head -4
      status=1
    fi
  done
  [ $status = 0 ] && echo "gate: golden_$name replays identically ($(wc -l < "$data/golden_$name.hashes") ticks) in ${flavours[*]}"
done
exit $status
