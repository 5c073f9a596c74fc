#!/usr/bin/env bash
# tools/service-nats.sh start|stop STATE_DIR — a throwaway nats-server with JetStream for the test
# suite (a CTest fixture: services.nats.start / services.nats.stop). start picks a free loopback port,
# keeps the store, log and pid under STATE_DIR/nats, waits until the server accepts connections
# (printing its log and failing after 15 s otherwise) and writes STATE_DIR/nats.env:
#   STRATA_NATS_URL=nats://127.0.0.1:PORT
#   STRATA_NATS_PORT=PORT
# stop kills the server (SIGTERM, then SIGKILL) and removes STATE_DIR/nats and nats.env, also after
# a failed run. STATE_DIR itself is the caller's.
set -euo pipefail
cmd=${1:?usage: service-nats.sh start|stop STATE_DIR}
state=${2:?usage: service-nats.sh start|stop STATE_DIR}
dir="$state/nats"

stop() {
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir" "$state/nats.env"
}

case "$cmd" in
  start)
    stop
    mkdir -p "$dir/store"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$dir/store" -n "strata-test-$port" > "$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 150); do
      if grep -q "Server is ready" "$dir/server.log" 2>/dev/null &&
         (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        printf 'STRATA_NATS_URL=nats://127.0.0.1:%s\nSTRATA_NATS_PORT=%s\n' "$port" "$port" > "$state/nats.env"
        echo "nats-server -js on 127.0.0.1:$port (pid $(cat "$dir/pid"), store $dir/store)"
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
      sleep 0.1
    done
    echo "service-nats: nats-server did not become ready; its log:" >&2
    cat "$dir/server.log" >&2 || true
    stop
    exit 1
    ;;
  stop) stop ;;
  *) echo "usage: service-nats.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
