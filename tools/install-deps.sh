#!/usr/bin/env bash
# Installs, with apt-get, every Debian 12 package Strata builds, tests or benchmarks with.
# Idempotent: it asks dpkg first and only calls apt-get for what is missing, so a warm machine
# pays nothing. Usage: tools/install-deps.sh [build|test]   (test adds the servers and tools the suite runs)
set -euo pipefail
mode=${1:-test}
build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache git
  clang clang-format clang-tidy libclang-rt-14-dev llvm
  libboost-dev libcapnp-dev capnproto libnats-dev librocksdb-dev libhiredis-dev libmariadb-dev
  libxxhash-dev libzstd-dev prometheus-cpp-dev libsodium-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
)
test_pkgs=( nats-server redis-server mariadb-server prometheus libenet-dev procps curl python3 zstd )
want=("${build_pkgs[@]}")
[ "$mode" = test ] && want+=("${test_pkgs[@]}")
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Servers must not start themselves as system services: the suite starts throwaway instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
