#!/usr/bin/env bash
# End to end with real processes: strata-server with Redis (live positions) and MariaDB (sessions,
# maps) from the CTest fixtures (STRATA_SERVICES_DIR), N strata-bot clients playing. Passes when
#   - GET /api/players/near (admin listener) lists the bots Redis holds near the spawn, refuses a bad
#     query with 400, and is not on the public listener;
#   - with redis-server killed, /readyz stays 200 and says degraded, strata_storage_degraded is 1 and
#     the near query is 503; with it back, /readyz says ready again and the bots are listed again;
#   - /metrics passes promtool; the server stops cleanly on SIGTERM;
#   - MariaDB holds the session (start and end tick), the map's chunks and every bot's save (they left
#     at the shutdown's tick), and a fresh server started with world.load_map_from_store=true (a new
#     log) builds the same map hash the first one saved; bots logging in there join with their saves
#     (strata_storage_player_loads_total{outcome="found"}).
# Usage: e2e-storage.sh BIN_DIR [BOTS] [SECONDS]
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bots=${2:-20}; seconds=${3:-24}
services=${STRATA_SERVICES_DIR:?run through ctest: the services.redis and services.mariadb fixtures start the services}
# The server refuses unknown STRATA_* variables: the services' values stay shell variables.
unset STRATA_SERVICES_DIR
for f in redis mariadb; do
  [ -f "$services/$f.env" ] || { echo "no $services/$f.env: the $f service did not start"; exit 1; }
  source "$services/$f.env"
done
database="strata_e2e_$$"
export STRATA_STORAGE_MARIADB_PASSWORD="$STRATA_MARIADB_PASSWORD"
storage_args=(--set storage.redis.host="$STRATA_REDIS_HOST" --set storage.redis.port="$STRATA_REDIS_PORT"
  --set storage.redis.prefix="e2e$$:" --set storage.redis.timeout_ms=200
  --set storage.mariadb.host="$STRATA_MARIADB_HOST" --set storage.mariadb.port="$STRATA_MARIADB_PORT"
  --set storage.mariadb.user="$STRATA_MARIADB_USER" --set storage.mariadb.database="$database"
  --set storage.mariadb.create_database=true --set storage.positions_every_ticks=10)
sql() { mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
  -p"$STRATA_MARIADB_PASSWORD" -N -B "$database" -e "$1"; }
cleanup_db() { mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
  -p"$STRATA_MARIADB_PASSWORD" -e "DROP DATABASE IF EXISTS $database" 2>/dev/null; }
trap 'cleanup_db; "$STRATA_REDIS_CTL" up "$services" 2>/dev/null; for p in $server_pid $other_pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
near() { curl -s -o "$work/near.json" -w '%{http_code}' "http://127.0.0.1:$admin_port/api/players/near?$1"; }
near_count() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$work/near.json"; }
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local t=$1; shift
  for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
status=0
e2e_start_server "${storage_args[@]}" || exit 1
"$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$seconds" > "$work/bot.out" 2> "$work/bot.err" &
bot=$!; other_pids=$bot
sleep 6
code=$(near "x=128&y=128&r=1024")
[ "$code" = 200 ] || { echo "near: HTTP $code: $(cat "$work/near.json")"; status=1; }
count=$(near_count 2>/dev/null || echo 0)
echo "near the spawn (r=1024): $count of $bots bots"
[ "$count" -ge $((bots * 8 / 10)) ] || { echo "near: too few players: $(cat "$work/near.json")"; status=1; }
code=$(near "x=128&y=128&r=99999"); [ "$code" = 400 ] || { echo "near with r=99999: HTTP $code"; status=1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/api/players/near?x=1&y=1&r=1")
[ "$code" = 404 ] || { echo "the public listener answered /api/players/near with $code"; status=1; }
curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt" || { echo "no /metrics"; status=1; }
grep -q '^strata_storage_degraded 0$' "$work/metrics.txt" || { echo "degraded before the outage"; status=1; }
if command -v promtool > /dev/null; then
  promtool check metrics < "$work/metrics.txt" || { echo "promtool refused /metrics"; status=1; }
else
  echo "promtool (Debian package prometheus) is missing"; status=1
fi

"$STRATA_REDIS_CTL" down "$services"
degraded() { [ "$(curl -s "http://127.0.0.1:$http_port/readyz")" = "ready; degraded: storage" ]; }
wait_for 10 degraded || { echo "/readyz did not say degraded: $(curl -s -w ' %{http_code}' "http://127.0.0.1:$http_port/readyz")"; status=1; }
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -q '^strata_storage_degraded 1$' || { echo "the gauge did not say degraded"; status=1; }
code=$(near "x=128&y=128&r=1024"); [ "$code" = 503 ] || { echo "near during the outage: HTTP $code"; status=1; }
echo "redis down: /readyz '$(curl -s "http://127.0.0.1:$http_port/readyz")', near 503"
sleep 2
"$STRATA_REDIS_CTL" up "$services"
ready() { [ "$(curl -s "http://127.0.0.1:$http_port/readyz")" = "ready" ]; }
wait_for 15 ready || { echo "/readyz did not recover"; status=1; }
# Redis lost everything (no persistence): positions come back as the bots move (every batch carries
# the players that moved), so wait until most are listed again.
relisted() { [ "$(near "x=128&y=128&r=1024")" = 200 ] && [ "$(near_count)" -ge $((bots / 2)) ]; }
wait_for 15 relisted || { echo "near after the outage: $(cat "$work/near.json")"; status=1; }
echo "redis back: /readyz ready, near lists $(near_count) bots"
wait "$bot" || echo "(strata-bot exited non-zero; see below)"
other_pids=""
e2e_stop_server || status=1
saved=$(grep -o 'map 1 saved at tick [0-9]*: [0-9]* changed chunks queued, map hash [0-9a-f]*' "$work/server.log" | tail -1)
echo "first server: $saved"
sessions=$(sql "SELECT start_tick, end_tick FROM sessions")
echo "MariaDB sessions (start, end): $sessions"
end=$(echo "$sessions" | awk '{print $2}')
[ -n "$end" ] && [ "$end" -gt 0 ] || { echo "the session's end tick is not in MariaDB"; status=1; }
chunks=$(sql "SELECT COUNT(*) FROM chunks WHERE map = 1")
echo "MariaDB chunks of map 1: $chunks"
[ "${chunks:-0}" -gt 0 ] || { echo "no chunks in MariaDB"; status=1; }
saves=$(sql "SELECT COUNT(*) FROM players")
echo "MariaDB player saves: $saves"
[ "${saves:-0}" -ge $((bots * 8 / 10)) ] || { echo "too few player saves in MariaDB"; status=1; }

# A fresh server (a new log) over the stored map.
mv "$work/data" "$work/data-first"
e2e_start_server "${storage_args[@]}" --set world.load_map_from_store=true || exit 1
loaded=$(grep -o 'map 1 loaded, map hash [0-9a-f]*' "$work/server.log" | tail -1)
echo "fresh server: $loaded"
[ -n "$saved" ] && [ "${saved##* }" = "${loaded##* }" ] || { echo "the loaded map hash differs from the saved one"; status=1; }
# The bots come back (the fresh server's account registry gives the names ids 1..N again): each join
# waits for its save and carries it.
"$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds 6 > "$work/bot2.out" 2> "$work/bot2.err" &
bot=$!; other_pids=$bot
sleep 4
found=$(curl -s "http://127.0.0.1:$metrics_port/metrics" |
  sed -n 's/^strata_storage_player_loads_total{outcome="found"} \([0-9]*\).*/\1/p')
echo "fresh server: ${found:-0} of $bots joins carried a save"
[ "${found:-0}" -ge $((bots * 8 / 10)) ] || { echo "too few joins carried a save"; status=1; }
wait "$bot" || true
other_pids=""
e2e_stop_server || status=1
[ $status = 0 ] || { echo "--- server log (tail)"; tail -30 "$work/server.log"; echo "--- bot"; tail -5 "$work/bot.err"; }
exit $status
