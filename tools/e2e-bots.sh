#!/usr/bin/env bash
# End to end with real processes on loopback: strata-server (ephemeral ports, a throwaway log dir)
# and strata-bot with N bots for S seconds (wander, build, break, join/leave churn). Passes when:
# the bots saw no checksum mismatch, the live /metrics passes `promtool check metrics`, the server
# stops cleanly on SIGTERM, and its session log then verifies bit-exact with strata-replay.
# Usage: e2e-bots.sh BIN_DIR [BOTS] [SECONDS]
set -u
bin=$1; bots=${2:-200}; seconds=${3:-60}
work=$(mktemp -d); server_pid=""
cleanup() { [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin/strata-server" --set log.dir="$work/data" --set net.udp_port=0 --set net.tcp_port=0 --set http.port=0 \
  --set metrics.port=0 --set net.max_clients=2000 > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q 'listening:' "$work/server.log" && break; sleep 0.1; done
line=$(grep 'listening:' "$work/server.log") || { echo "server did not start"; cat "$work/server.log"; exit 1; }
http_port=$(sed -E 's/.* http [0-9.]+:([0-9]+) .*/\1/' <<<"$line")
metrics_port=$(sed -E 's/.* metrics [0-9.]+:([0-9]+)\/metrics.*/\1/' <<<"$line")
echo "server: $line"
"$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$seconds" --churn 20 > "$work/bot.out" 2> "$work/bot.err"
bot_status=$?
cat "$work/bot.out"
status=0
[ $bot_status = 0 ] || { echo "strata-bot failed ($bot_status)"; tail -5 "$work/bot.err"; status=1; }
if command -v promtool > /dev/null; then
  curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt" || { echo "no /metrics"; status=1; }
  promtool check metrics < "$work/metrics.txt" || { echo "promtool refused /metrics"; status=1; }
  grep -E '^strata_checksum_mismatches_total|^strata_tick_overruns_total|^strata_inputs_total\{verdict="accepted"\}' "$work/metrics.txt"
else
  echo "promtool missing (tools/install-deps.sh test installs it)"; status=1
fi
kill -TERM "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then echo "server did not stop on SIGTERM"; status=1; fi
wait "$server_pid"; server_status=$?; server_pid=""
[ $server_status = 0 ] || { echo "server exited $server_status"; status=1; }
tail -2 "$work/server.log"
"$bin/strata-replay" verify "$work/data/session-log" || { echo "the session log does not verify"; status=1; }
exit $status
