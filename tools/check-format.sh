#!/usr/bin/env bash
# The tree is clean under .clang-format: every tracked C++ file formats to itself.
set -eu
cd "${1:-$(dirname "$0")/..}"
mapfile -t files < <(git ls-files '*.h' '*.cpp' 2>/dev/null || find . -name '*.h' -o -name '*.cpp')
[ ${#files[@]} -gt 0 ] || { echo "no files"; exit 1; }
# One file extension (.cpp/.h) and one integer spelling (uint64_t, size_t: no std:: prefix) in the
# whole tree (CONVENTIONS.md, rule 11).
if others=$(git ls-files '*.cc' '*.cxx' '*.hpp' '*.hh' 2>/dev/null) && [ -n "$others" ]; then
  echo "format: C++ files must be .cpp/.h:"; echo "$others" | head -20; exit 1
fi
if spelled=$(grep -nE 'std::(u?int(8|16|32|64)_t|size_t|ptrdiff_t|u?intptr_t)\b' "${files[@]}") && [ -n "$spelled" ]; then
  echo "format: write integer types without std:: (uint64_t, size_t):"; echo "$spelled" | head -20; exit 1
fi
if clang-format --dry-run --Werror "${files[@]}" 2> /tmp/strata-format.$$; then
  rm -f /tmp/strata-format.$$; echo "format: ${#files[@]} files clean"; exit 0
fi
grep -E '^[^ ].*(warning|error):' /tmp/strata-format.$$ | cut -d: -f1 | sort -u | head -20
rm -f /tmp/strata-format.$$; echo "format: files above differ from .clang-format (run clang-format -i)"; exit 1
