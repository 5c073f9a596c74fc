#!/usr/bin/env bash
# A throwaway redis-server for the tests (CTest fixture services.redis): loopback only, a free port,
# its own data dir under <state dir>/redis, no persistence (what the live positions and the hot
# cache are built for). Writes <state dir>/redis.env:
#   STRATA_REDIS_HOST, STRATA_REDIS_PORT, STRATA_REDIS_CTL (this script, so a test can stop and
#   restart the server mid-test: `$STRATA_REDIS_CTL down|up <state dir>`).
# Usage: tools/service-redis.sh start|stop|down|up|stall|resume <state dir>
#   start  pick a port, start, wait until it answers PING (10 s, then print its log and fail)
#   down   kill the server (SIGKILL: an outage), keep the port and the env file
#   up     start it again on the same port
#   stall  SIGSTOP the server: connections are accepted, nothing is answered (a slow server)
#   resume SIGCONT it
#   stop   kill it and remove its data dir and env file (works after a failed run too)
set -euo pipefail
cmd=${1:?usage: service-redis.sh start|stop|down|up|stall|resume <state dir>}
state=${2:?state dir}
dir="$state/redis"
env_file="$state/redis.env"
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
source "$(dirname "$0")/service-lib.sh"

kill_server() { kill_pid_file "$dir/redis.pid" KILL; }

run_server() {
  local port=$1
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --protected-mode yes
  for _ in $(seq 200); do
    if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.05
  done
  echo "service-redis: redis-server did not answer on 127.0.0.1:$port within 10 s; its log:" >&2
  cat "$dir/redis.log" >&2 || true
  kill_server
  return 1
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    kill_server
    port=$(free_ports 1)
    run_server "$port"
    printf 'STRATA_REDIS_HOST=127.0.0.1\nSTRATA_REDIS_PORT=%s\nSTRATA_REDIS_CTL=%s\n' "$port" "$self" > "$env_file"
    echo "service-redis: up on 127.0.0.1:$port ($dir)"
    ;;
  down) kill_server ;;
  up)
    port=$(sed -n 's/^STRATA_REDIS_PORT=//p' "$env_file")
    run_server "$port"
    ;;
  stall) kill -STOP "$(cat "$dir/redis.pid")" ;;
  resume) kill -CONT "$(cat "$dir/redis.pid")" ;;
  stop)
    [ -f "$dir/redis.pid" ] && kill -CONT "$(cat "$dir/redis.pid")" 2>/dev/null || true
    kill_server
    rm -rf "$dir" "$env_file"
    ;;
  *) echo "usage: service-redis.sh start|stop|down|up|stall|resume <state dir>" >&2; exit 2 ;;
esac
