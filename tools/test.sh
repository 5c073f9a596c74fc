#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, makes the builds
# the suite needs, then runs everything through CTest in the release build:
#   build/release         GCC, Release, -Werror: unit, property, end-to-end tests, tools, benchmarks
#   build/asan            GCC, ASan+UBSan: the same unit-test binaries (sanitize.* tests)
#   build/fuzz            Clang libFuzzer targets, each run for a few seconds (fuzz.* tests)
#   build/gate-*          sim/, schema/, replay/ + strata-scenario, strata-replay by GCC -O0 and
#                         Clang -O2; the release build is the GCC -O3 leg (gate.determinism)
# Usage: tools/test.sh [extra ctest args]. STRATA_BUILD_DIR changes the build root (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh test
root=$(pwd)
# ccache keys on paths relative to the checkout, so a clean clone anywhere reuses the cache.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
builds=${STRATA_BUILD_DIR:-$root/build}
mkdir -p "$builds"

configure() {
  local dir=$1; shift
  if ! cmake -S "$root" -B "$builds/$dir" -G Ninja -Wno-dev "$@" > "$builds/$dir.configure.log" 2>&1; then
    cat "$builds/$dir.configure.log"; echo "configure of $dir failed"; exit 1
  fi
}
build() {
  local dir=$1; shift
  echo "== building $dir"
  if ! ninja -C "$builds/$dir" "$@" > "$builds/$dir.build.log" 2>&1; then
    grep -E 'error|FAILED' "$builds/$dir.build.log" | head -40
    echo "build of $dir failed (full log: $builds/$dir.build.log)"; exit 1
  fi
}

configure gate-gcc-O0 -DSTRATA_GATE_ONLY=ON -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0"
configure gate-clang-O2 -DSTRATA_GATE_ONLY=ON -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
# Sanitizer and fuzz flavours at -O1 with line tables only: reports still name file and line, and
# full debug info was most of their compile time.
configure asan -DSTRATA_SANITIZE=ON -DSTRATA_BENCH=OFF -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1"
configure fuzz -DSTRATA_FUZZ=ON -DSTRATA_BENCH=OFF -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
configure release -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O3 -DNDEBUG" "-DSTRATA_AUX_DIR=$builds"

build gate-gcc-O0 strata-scenario strata-replay
build gate-clang-O2 strata-scenario strata-replay
build release
build asan unit_tests
build fuzz fuzzers

echo "== running the suite"
ctest --test-dir "$builds/release" --output-on-failure -j2 "$@"
