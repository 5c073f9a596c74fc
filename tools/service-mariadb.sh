#!/usr/bin/env bash
# A throwaway mariadbd for the tests (CTest fixture services.mariadb): loopback TCP on a free port,
# its own data dir and socket under <state dir>/mariadb, no defaults files read. The tests log in
# over TCP as user `strata` with a random password and may create databases named strata_*.
# Writes <state dir>/mariadb.env:
#   STRATA_MARIADB_HOST, STRATA_MARIADB_PORT, STRATA_MARIADB_USER, STRATA_MARIADB_PASSWORD,
#   STRATA_MARIADB_CTL (this script, so a test can stop and restart the server mid-test).
# Usage: tools/service-mariadb.sh start|stop|down|up|stall|resume <state dir>
#   start  install a data dir, start, create the user (30 s, then print the server's log and fail)
#   down   kill the server (SIGKILL: an outage), keep the data dir, port and env file
#   up     start it again on the same data dir and port
#   stall  SIGSTOP the server: connections are accepted, nothing is answered (a slow server)
#   resume SIGCONT it
#   stop   kill it and remove its data dir and env file (works after a failed run too)
# Runs as root in CI: mariadbd then needs --user=root.
set -euo pipefail
cmd=${1:?usage: service-mariadb.sh start|stop|down|up|stall|resume <state dir>}
state=${2:?state dir}
dir="$state/mariadb"
env_file="$state/mariadb.env"
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
source "$(dirname "$0")/service-lib.sh"
user_args=()
[ "$(id -u)" -eq 0 ] && user_args=(--user=root)

kill_server() { kill_pid_file "$dir/mariadbd.pid" KILL; }

run_server() {
  local port=$1
  mariadbd --no-defaults "${user_args[@]}" --datadir="$dir/data" --socket="$dir/mariadb.sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadbd.log" \
    --skip-log-bin --innodb-buffer-pool-size=32M --innodb-log-file-size=16M --skip-name-resolve \
    --max-connections=50 > /dev/null 2>&1 &
  echo $! > "$dir/mariadbd.pid"
  for _ in $(seq 600); do
    if mariadb-admin --no-defaults --socket="$dir/mariadb.sock" -uroot ping > /dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "service-mariadb: mariadbd did not answer on 127.0.0.1:$port within 30 s; its log:" >&2
  cat "$dir/mariadbd.log" >&2 || true
  kill_server
  return 1
}

case "$cmd" in
  start)
    kill_server
    rm -rf "$dir"
    mkdir -p "$dir/data"
    if ! mariadb-install-db --no-defaults "${user_args[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal \
        --skip-test-db > "$dir/install.log" 2>&1; then
      echo "service-mariadb: mariadb-install-db failed:" >&2; cat "$dir/install.log" >&2; exit 1
    fi
    port=$(free_ports 1)
    run_server "$port"
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot <<SQL
CREATE USER 'strata'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`strata\\_%\`.* TO 'strata'@'127.0.0.1';
SQL
    printf 'STRATA_MARIADB_HOST=127.0.0.1\nSTRATA_MARIADB_PORT=%s\nSTRATA_MARIADB_USER=strata\nSTRATA_MARIADB_PASSWORD=%s\nSTRATA_MARIADB_CTL=%s\n' \
      "$port" "$password" "$self" > "$env_file"
    echo "service-mariadb: up on 127.0.0.1:$port ($dir)"
    ;;
  down) kill_server ;;
  up)
    port=$(sed -n 's/^STRATA_MARIADB_PORT=//p' "$env_file")
    run_server "$port"
    ;;
  stall) kill -STOP "$(cat "$dir/mariadbd.pid")" ;;
  resume) kill -CONT "$(cat "$dir/mariadbd.pid")" ;;
  stop)
    [ -f "$dir/mariadbd.pid" ] && kill -CONT "$(cat "$dir/mariadbd.pid")" 2>/dev/null || true
    kill_server
    rm -rf "$dir" "$env_file"
    ;;
  *) echo "usage: service-mariadb.sh start|stop|down|up|stall|resume <state dir>" >&2; exit 2 ;;
esac
