#!/usr/bin/env bash
# clang-tidy over sim/ and the scenario generator with the root .clang-tidy, using a build's
# compile_commands.json. Usage: check-tidy.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1; build=$2
cd "$src"
files=$(ls sim/*.cpp tools/scenario/*.cpp)
clang-tidy -p "$build" --quiet $files 2>&1 | grep -vE '^[0-9]+ warnings generated|^Suppressed|^Use -header-filter' || true
clang-tidy -p "$build" --quiet $files > /dev/null 2>&1 && { echo "tidy: $(echo $files | wc -w) files clean"; exit 0; }
exit 1
