#!/usr/bin/env bash
# The tree is clean under .clang-format: every tracked C++ file formats to itself.
set -eu
cd "${1:-$(dirname "$0")/..}"
mapfile -t files < <(git ls-files '*.h' '*.hpp' '*.cpp' '*.cc' 2>/dev/null || find . -name '*.h' -o -name '*.cpp' -o -name '*.cc')
[ ${#files[@]} -gt 0 ] || { echo "no files"; exit 1; }
if clang-format --dry-run --Werror "${files[@]}" 2> /tmp/strata-format.$$; then
  rm -f /tmp/strata-format.$$; echo "format: ${#files[@]} files clean"; exit 0
fi
grep -E '^[^ ].*(warning|error):' /tmp/strata-format.$$ | cut -d: -f1 | sort -u | head -20
rm -f /tmp/strata-format.$$; echo "format: files above differ from .clang-format (run clang-format -i)"; exit 1
