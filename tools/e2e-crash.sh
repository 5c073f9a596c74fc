#!/usr/bin/env bash
# Crash recovery end to end: strata-server with N bots, SIGKILLed mid-run and restarted on the same
# log and ports; the bots notice, log in again and play on. Passes when the restarted server
# recovered the log (same world, printed at start), the bots saw no checksum mismatch and are all
# connected at the end, and the whole log (before and after the crash) verifies bit-exact.
# Usage: e2e-crash.sh BIN_DIR [BOTS]
set -u
bin=$1; bots=${2:-50}
work=$(mktemp -d); server_pid=""; bot_pid=""
cleanup() { for p in $server_pid $bot_pid; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
read -r udp tcp http metrics < <(python3 -c 'import socket
ss=[socket.socket(socket.AF_INET, socket.SOCK_STREAM if i else socket.SOCK_DGRAM) for i in range(4)]
[s.bind(("127.0.0.1",0)) for s in ss]; print(*[s.getsockname()[1] for s in ss])')
start_server() {
  "$bin/strata-server" --set log.dir="$work/data" --set net.udp_port="$udp" --set net.tcp_port="$tcp" \
    --set http.port="$http" --set metrics.port="$metrics" --set log.snapshot_every_ticks=100 >> "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/readyz" > /dev/null && return 0; sleep 0.1; done
  echo "server did not become ready"; cat "$work/server.log"; return 1
}
start_server || exit 1
"$bin/strata-bot" --http-port "$http" --bots "$bots" --seconds 32 > "$work/bot.out" 2> "$work/bot.err" &
bot_pid=$!
sleep 8
before=$(curl -sf "http://127.0.0.1:$http/api/world/status")
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
echo "killed the server (SIGKILL) at: $before"
sleep 1
start_server || exit 1
grep -E 'recovered the session log' "$work/server.log" || { echo "the restart did not recover the log"; exit 1; }
wait "$bot_pid"; bot_status=$?; bot_pid=""
cat "$work/bot.out"
status=0
[ $bot_status = 0 ] || { echo "strata-bot failed ($bot_status)"; tail -5 "$work/bot.err"; status=1; }
kill -TERM "$server_pid"; wait "$server_pid" || { echo "server did not stop cleanly"; status=1; }; server_pid=""
tail -1 "$work/server.log"
"$bin/strata-replay" verify "$work/data/session-log" || { echo "the combined log does not verify"; status=1; }
exit $status
