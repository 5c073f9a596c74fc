#!/usr/bin/env bash
# End to end with real processes: strata-server with Redis (live positions, hot cache) and MariaDB
# (players, sessions, maps) from the CTest fixtures (STRATA_SERVICES_DIR); N strata-bot clients
# that stay, and N/2 more (name prefix "churn") that leave and come back every few seconds; all of
# them gather and build (break and place blocks: their inventories change). Passes when
#   - GET /api/players/near (admin listener) lists the bots Redis holds near the spawn, refuses a bad
#     query with 400, and is not on the public listener; /metrics passes promtool;
#   - the server, SIGKILLed mid-play and restarted on the same log, recovers it and every staying
#     bot is connected again;
#   - with redis-server killed, /readyz stays 200 and says degraded, strata_storage_degraded is 1 and
#     the near query is 503; with it back, /readyz says ready again and the bots are listed again;
#   - the server stops cleanly on SIGTERM; MariaDB holds the session (start and end tick), the map's
#     chunks, and for every player exactly the state the session log says it last left with (its
#     version of that leave's tick): nothing acknowledged lost across the crash and the outage;
#   - a fresh server started with world.load_map_from_store=true (a new log, the same accounts)
#     builds the same map hash the first one saved, and the bots logging in there join with their
#     saves (strata_storage_player_loads_total{outcome="found"});
#   - over both logs (strata-replay saves), every join of a player who had left (a churn, the
#     crash's recovery, the fresh server) carried exactly the state of its last leave, every player
#     returned at least once, and most players left with other items than they started with.
# Usage: e2e-storage.sh BIN_DIR [BOTS] [SECONDS]
set -u
source "$(dirname "$0")/e2e-lib.sh"
source "$(dirname "$0")/e2e-storage-lib.sh"
e2e_init "$1"; bots=${2:-20}; seconds=${3:-30}; churners=$((bots / 2)); players=$((bots + churners))
# The server refuses unknown STRATA_* variables: the services' values stay shell variables.
services_dir=${STRATA_SERVICES_DIR:?run through ctest: the services.redis and services.mariadb fixtures start the services}
unset STRATA_SERVICES_DIR
storage_init "$services_dir" || exit 1
# Periodic saves every 5 s (default 30 s): they interleave with the leaves in this short run.
storage_args+=(--set storage.players_every_ticks=100)
trap 'drop_database; "$STRATA_REDIS_CTL" up "$services" 2>/dev/null; for p in $server_pid $other_pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
near() { curl -s -o "$work/near.json" -w '%{http_code}' "http://127.0.0.1:$admin_port/api/players/near?$1"; }
near_count() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$work/near.json"; }
sessions() { curl -s "http://127.0.0.1:$admin_port/api/world/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])' 2>/dev/null || echo 0; }
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local t=$1; shift
  for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
# start_bots TAG SECONDS: the staying bots and the churners (their output in $work/TAG-*.out/err).
start_bots() {
  "$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$2" --build 20 --break 15 \
    > "$work/$1-stay.out" 2> "$work/$1-stay.err" &
  stay=$!
  "$bin/strata-bot" --http-port "$http_port" --bots "$churners" --seconds "$2" --build 20 --break 15 \
    --name-prefix churn --churn 150 --seed 2 > "$work/$1-churn.out" 2> "$work/$1-churn.err" &
  churn=$!
  other_pids="$stay $churn"
}
status=0
e2e_start_server "${storage_args[@]}" || exit 1
start_bots first "$seconds"
sleep 6
code=$(near "x=128&y=128&r=1024")
[ "$code" = 200 ] || { echo "near: HTTP $code: $(cat "$work/near.json")"; status=1; }
count=$(near_count 2>/dev/null || echo 0)
echo "near the spawn (r=1024): $count players ($bots bots staying, $churners churning)"
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

# The crash: SIGKILL mid-play, a restart on the same log and ports. The recovered world's players
# leave in its first tick (saved with what the log says they had); the bots log in again.
in_play=$(sessions)
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
echo "killed the server (SIGKILL) with $in_play sessions"
e2e_start_server "${storage_args[@]}" || exit 1
grep -q 'recovered the session log' "$work/server.log" || { echo "the restart did not recover the log"; status=1; }
back() { [ "$(sessions)" -ge "$bots" ]; }
wait_for 25 back || { echo "the bots did not come back after the restart: $(sessions) sessions"; status=1; }
echo "restarted: $(sessions) sessions"

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
echo "redis back: /readyz ready, near lists $(near_count) players"
# The staying bots exit 0 only when all of them are connected at the end (and no snapshot failed).
wait "$stay" || { echo "strata-bot (staying) failed: $(tail -3 "$work/first-stay.err")"; status=1; }
wait "$churn" || { echo "strata-bot (churning) failed: $(tail -3 "$work/first-churn.err")"; status=1; }
other_pids=""
grep -h 'churned' "$work/first-churn.out" | tail -1
e2e_stop_server || status=1
saved=$(grep -o 'map 1 saved at tick [0-9]*: [0-9]* changed chunks queued, map hash [0-9a-f]*' "$work/server.log" | tail -1)
echo "first server: $saved"
session_rows=$(sql "SELECT start_tick, end_tick FROM sessions")
echo "MariaDB sessions (start, end): $(echo $session_rows)"
# Two sessions (the crashed run and its restart): the last one ended.
end=$(sql "SELECT MAX(end_tick) FROM sessions")
[ -n "$end" ] && [ "$end" -gt 0 ] || { echo "the session's end tick is not in MariaDB"; status=1; }
chunks=$(sql "SELECT COUNT(*) FROM chunks WHERE map = 1")
echo "MariaDB chunks of map 1: $chunks"
[ "${chunks:-0}" -gt 0 ] || { echo "no chunks in MariaDB"; status=1; }
"$bin/strata-replay" saves "$work/data/session-log" --players "$work/players-first.txt" --events "$work/events-first.txt" ||
  { echo "a return in the first log did not bring back its leave's state"; status=1; }
# The recovered world's players left in its first tick (recovered + 1): every staying bot came back
# after the crash, and each of those returns is among the ones checked above.
recovered=$(sed -n 's/.*recovered the session log at tick \([0-9]*\).*/\1/p' "$work/server.log" | head -1)
returned=$(awk -v t=$((${recovered:-0} + 1)) '{split($2, k, "="); p = $3}
  $4 == "leave" { crash[p] = (k[2] == t) } $4 == "join" && crash[p] { n++; crash[p] = 0 } END { print n + 0 }' "$work/events-first.txt")
echo "the crash (log recovered at tick ${recovered:-?}): $returned players came back after it"
[ "$returned" -ge "$bots" ] || { echo "only $returned players came back after the crash ($bots bots stay)"; status=1; }
db_equals_log "$work/players-first.txt" || status=1

# A fresh server (a new log) over the stored map. The accounts go with it (names keep their player
# ids, as with a registry shared by the servers): each bot's join waits for its save and carries it.
mv "$work/data" "$work/data-first"
mkdir "$work/data" && cp -r "$work/data-first/accounts" "$work/data/accounts"
e2e_start_server "${storage_args[@]}" --set world.load_map_from_store=true || exit 1
loaded=$(grep -o 'map 1 loaded, map hash [0-9a-f]*' "$work/server.log" | tail -1)
echo "fresh server: $loaded"
[ -n "$saved" ] && [ "${saved##* }" = "${loaded##* }" ] || { echo "the loaded map hash differs from the saved one"; status=1; }
start_bots second 8
sleep 5
found=$(curl -s "http://127.0.0.1:$metrics_port/metrics" |
  sed -n 's/^strata_storage_player_loads_total{outcome="found"} \([0-9]*\).*/\1/p')
echo "fresh server: ${found:-0} joins carried a save ($players players)"
[ "${found:-0}" -ge $((players * 8 / 10)) ] || { echo "too few joins carried a save"; status=1; }
wait "$stay" || { echo "strata-bot (staying, fresh server) failed: $(tail -3 "$work/second-stay.err")"; status=1; }
wait "$churn" || { echo "strata-bot (churning, fresh server) failed: $(tail -3 "$work/second-churn.err")"; status=1; }
other_pids=""
e2e_stop_server || status=1

# Both logs, in the order they ran: every return (churn, crash, fresh server) brought back exactly
# its last leave's state, every player returned at least once, and they gathered and built.
summary=$(log_saves "$work/players-all.txt" "$work/data-first/session-log" "$work/data/session-log") ||
  { echo "a return did not bring back its leave's state"; status=1; }
echo "$summary"
never=$(grep -c ' returns=0 ' "$work/players-all.txt")
[ "$never" = 0 ] || { echo "$never players never returned: $(grep ' returns=0 ' "$work/players-all.txt" | head -3)"; status=1; }
total=$(grep -c . "$work/players-all.txt")
[ "$total" -ge "$players" ] || { echo "only $total players in the logs ($players bots)"; status=1; }
changed=$(echo "$summary" | sed -n 's/.*; \([0-9]*\) players left with other items.*/\1/p')
[ "${changed:-0}" -ge $((players / 2)) ] || { echo "only ${changed:-0} of $players players gathered or built"; status=1; }
db_equals_log "$work/players-all.txt" || status=1
[ $status = 0 ] || { echo "--- server log (tail)"; tail -30 "$work/server.log"; echo "--- bots"; tail -5 "$work"/*-stay.err; }
exit $status
