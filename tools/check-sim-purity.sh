#!/usr/bin/env bash
# Checks that sim/ stays pure (CONVENTIONS.md rule 3): it includes only the standard library,
# xxHash (xxhash.h, and xxh_x86dispatch.h for its vector-unit dispatch) and itself, and uses no
# floating point, <random>, clocks, unordered containers, threads or I/O. sim/assert.cpp alone may
# use <cstdio> (to print an assertion on its way to abort).
set -u
root=${1:-$(dirname "$0")/..}
cd "$root/sim" || { echo "no sim/ folder"; exit 2; }
fail=0
report() { echo "sim purity: $1"; fail=1; }
allowed_std='algorithm|array|bit|compare|concepts|cstddef|cstdint|cstring|cstdlib|iterator|limits|optional|span|string|string_view|type_traits|utility|variant|vector|map'
while IFS= read -r line; do
  file=${line%%:*}
  header=$(sed -E 's/.*#include *[<"]([^>"]+)[>"].*/\1/' <<<"$line")
  case "$header" in
    sim/*) continue ;;
    xxhash.h|xxh_x86dispatch.h) continue ;;
    cstdio) [ "$file" = "assert.cpp" ] && continue ;;
  esac
  grep -qxE "($allowed_std)" <<<"$header" || report "$file includes <$header>"
done < <(grep -HE '^\s*#\s*include' -- *.h *.cpp)
if grep -nE '\b(float|double|long double)\b' -- *.h *.cpp | grep -vE '^[^:]+:[0-9]+:\s*//' | grep -v 'floating_point'; then
  report "floating point used (above)"
fi
grep -nE 'std::(unordered_|thread|mutex|atomic|chrono|random_device|mt19937|rand\b)|\b(time|clock|rand|srand|getenv)\s*\(' -- *.h *.cpp \
  | grep -vE '^[^:]+:[0-9]+:\s*//' && report "forbidden facility used (above)"
grep -nE 'std::(cout|cerr|printf|fprintf|fopen)|\bprintf\s*\(' -- *.h *.cpp | grep -v '^assert.cpp:' && report "I/O used (above)"
[ $fail = 0 ] && echo "sim purity: ok ($(ls *.h *.cpp | wc -l) files)"
exit $fail
