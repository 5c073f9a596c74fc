#!/usr/bin/env bash
# The C ABI example (tests/c_abi/example.c) against a real strata-server. Usage: e2e-c-abi.sh BIN_DIR
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"
e2e_start_server || exit 1
"$bin/strata-c-example" 127.0.0.1 "$http_port"; status=$?
e2e_stop_server || status=1
exit $status
