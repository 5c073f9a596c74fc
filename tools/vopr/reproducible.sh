#!/usr/bin/env bash
# tools/vopr/reproducible.sh <strata-vopr> <seed> [args...] — runs one seed twice and fails unless
# the two outputs (stdout: the plan, the invariants, their counts) are byte for byte the same. The
# speed line goes to stderr and is not compared.
set -euo pipefail
bin=$1
seed=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" --seed "$seed" "$@" >"$dir/a" 2>/dev/null || true
"$bin" --seed "$seed" "$@" >"$dir/b" 2>/dev/null || true
if ! grep -q '^result ' "$dir/a"; then
  echo "strata-vopr did not finish seed $seed:"
  cat "$dir/a"
  exit 1
fi
if ! cmp -s "$dir/a" "$dir/b"; then
  echo "seed $seed printed different outputs:"
  diff "$dir/a" "$dir/b" | head -40
  exit 1
fi
echo "seed $seed: $(wc -l <"$dir/a") lines, identical twice; $(grep '^result ' "$dir/a")"
