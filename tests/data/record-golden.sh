#!/usr/bin/env bash
# Re-records the golden session logs from the parameters in tests/data/golden.txt with the given
# strata-replay, rewriting golden_<name>.strata, golden_<name>.hashes and the final full hashes.
# Run it (and commit the result) whenever sim::rules_version changes: a build refuses logs
# recorded under rules it does not implement, by design.
#   tests/data/record-golden.sh build/bin/strata-replay
set -euo pipefail
replay_bin=$(realpath "$1")
data=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
table="$data/golden.txt"
tmp_table="$scratch/golden.txt"
grep '^#' "$table" > "$tmp_table"
grep -v '^#' "$table" | while read -r name seed players ticks chunks npcs full snap hostile remote _ _; do
  [ -n "$name" ] || continue
  "$replay_bin" record "$scratch/$name" --seed "$seed" --players "$players" --ticks "$ticks" --chunks "$chunks" \
    --npcs "$npcs" --full-every "$full" --snapshot-every "$snap" --hostile "$hostile" --remote-regions "$remote" >/dev/null
  "$replay_bin" export "$scratch/$name" "$data/golden_$name.strata" >/dev/null
  "$replay_bin" hashes "$data/golden_$name.strata" --out "$data/golden_$name.hashes"
  final=$("$replay_bin" state "$data/golden_$name.strata" --tick "$ticks" --field tick >/dev/null && tail -1 "$data/golden_$name.hashes" | cut -d' ' -f3)
  printf '%-10s %-4s %-7s %-5s %-6s %-4s %-10s %-14s %-7s %-6s %-10s %s\n' "$name" "$seed" "$players" "$ticks" "$chunks" \
    "$npcs" "$full" "$snap" "$hostile" "$remote" "$ticks" "$final" >> "$tmp_table"
  echo "golden_$name: final full hash $final"
done
cp "$tmp_table" "$table"
