#!/usr/bin/env bash
# Shared by the end-to-end scripts: start strata-server on free loopback ports with a throwaway
# log dir, wait until it is ready, stop it. Sourced, not run. The server runs in dev mode (open
# logins: every listener is on loopback) with login limits raised for a bot swarm that logs in from
# one address, and an admin token in $admin_token_file for the observer (admin listener: $admin_port).
#   e2e_init BIN_DIR          sets work (temp dir, removed on exit) and picks udp/tcp/http/metrics/admin ports
#   e2e_start_server [ARGS]   starts it (same ports and log on every call), sets server_pid
#   e2e_stop_server           SIGTERM, waits; returns non-zero if it did not stop cleanly
e2e_init() {
  bin=$1
  work=$(mktemp -d); server_pid=""; other_pids=""
  trap 'for p in $server_pid $other_pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
  read -r udp_port tcp_port http_port metrics_port admin_port < <(python3 -c 'import socket
ss=[socket.socket(socket.AF_INET, socket.SOCK_STREAM if i else socket.SOCK_DGRAM) for i in range(5)]
[s.bind(("127.0.0.1",0)) for s in ss]; print(*[s.getsockname()[1] for s in ss])')
  admin_token_file="$work/admin-token"
  python3 -c 'import secrets; print(secrets.token_hex(24))' > "$admin_token_file"
}
e2e_start_server() {
  "$bin/strata-server" --set log.dir="$work/data" --set net.udp_port="$udp_port" --set net.tcp_port="$tcp_port" \
    --set http.port="$http_port" --set metrics.port="$metrics_port" --set admin.port="$admin_port" \
    --set auth.admin_token_file="$admin_token_file" --set auth.attempts_per_address_per_s=100000 \
    --set auth.attempts_burst_per_address=100000 --set auth.dev_new_names_per_address_per_min=20000 \
    --set net.max_clients=2000 "$@" >> "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$http_port/readyz" > /dev/null && return 0; sleep 0.1; done
  echo "server did not become ready"; cat "$work/server.log"; return 1
}
e2e_stop_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then echo "server did not stop on SIGTERM"; return 1; fi
  wait "$server_pid"; local s=$?; server_pid=""
  [ $s = 0 ] || { echo "server exited $s"; return 1; }
}
