#!/usr/bin/env bash
# Installs what is missing, builds strata-server (Release) and runs it on its embedded default:
# one region, no external services. Arguments go to strata-server (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -Wno-dev > /dev/null
ninja -C build/release strata-server > /dev/null
exec build/release/bin/strata-server "$@"
