#!/usr/bin/env bash
# End to end: a player moving between regions continues with the same state (issue 16 item 5), with
# real processes: two regions made by tools/cluster.sh (a nats-server and two strata-servers over
# the bus) sharing the CTest fixtures' MariaDB (the global cold store: players held by region, see
# storage/stores.h PlayerHolds) and Redis (each region its own key prefix, strata:<region>:, so its
# own hot cache). One bot plays in region 1 (walks, builds, breaks), leaves and at once logs into
# region 2 (its leave save may still be queued in region 1: the join waits for it), plays there,
# leaves and at once logs into region 1 again (whose hot cache holds the state of the first visit,
# older than region 2's save). Passes when
#   - every join in the other region carried exactly the state the player left with: the player in
#     the leaving region's session log at the last tick it was there equals the player in the
#     joining region's log at the tick it joined (position, facing, stamina, health, inventory;
#     strata-replay state, so the logs say it, not the store);
#   - each region's storage metrics count the loads that found a save, and no join was refused;
#   - MariaDB holds the player released (holder 0) with the last region's leave save;
#   - every region stops cleanly on SIGTERM.
# Usage: e2e-xregion.sh BIN_DIR [SECONDS per visit (default 6)]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: e2e-xregion.sh BIN_DIR [SECONDS]}" && pwd)
seconds=${2:-6}
services=${STRATA_SERVICES_DIR:?run through ctest: the services.redis and services.mariadb fixtures start the services}
for f in redis mariadb; do
  [ -f "$services/$f.env" ] || { echo "no $services/$f.env: the $f service did not start"; exit 1; }
  # shellcheck disable=SC1090
  source "$services/$f.env"
done
work=$(mktemp -d /tmp/strata-e2e-xregion.XXXXXX)
dir="$work/cluster"
database="strata_xr_$$"
status=1
bot_pid=""
sql() { mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
  -p"$STRATA_MARIADB_PASSWORD" -N -B "$database" -e "$1"; }
cleanup() {
  [ -n "$bot_pid" ] && kill -9 "$bot_pid" 2> /dev/null
  "$here/cluster.sh" down --dir "$dir" > /dev/null 2>&1
  mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
    -p"$STRATA_MARIADB_PASSWORD" -e "DROP DATABASE IF EXISTS $database" 2> /dev/null
  if command -v redis-cli > /dev/null; then
    for r in 1 2; do
      redis-cli -h "$STRATA_REDIS_HOST" -p "$STRATA_REDIS_PORT" --scan --pattern "strata:$r:*" |
        xargs -r redis-cli -h "$STRATA_REDIS_HOST" -p "$STRATA_REDIS_PORT" del > /dev/null
    done
  fi
  if [ "$status" = 0 ]; then rm -rf "$work"; else echo "kept for inspection: $work"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  status=1
  failed=1
}
failed=0

printf '%s\n' "$STRATA_MARIADB_PASSWORD" > "$work/mariadb-password"
chmod 600 "$work/mariadb-password"
cluster() { "$here/cluster.sh" "$@" --dir "$dir"; }
# Leases of 5 s (a crashed region would hold its players that long); periodic saves every 5 s.
cluster up --regions 2 --bin "$bin" --seed 11 \
  --set world.random_ticks_per_chunk=0 \
  --set storage.redis.host="$STRATA_REDIS_HOST" --set storage.redis.port="$STRATA_REDIS_PORT" \
  --set storage.mariadb.host="$STRATA_MARIADB_HOST" --set storage.mariadb.port="$STRATA_MARIADB_PORT" \
  --set storage.mariadb.user="$STRATA_MARIADB_USER" --set storage.mariadb.password_file="$work/mariadb-password" \
  --set storage.mariadb.database="$database" --set storage.mariadb.create_database=true \
  --set storage.mariadb.lease_s=5 --set storage.players_every_ticks=100 > "$work/up.out" 2>&1 ||
  { cat "$work/up.out"; exit 1; }
# shellcheck disable=SC1091
source "$dir/cluster.env"
port() { local var="R$1_${2^^}"; echo "${!var}"; }
metric() {  # metric R SERIES: its value on region R's /metrics (0 when absent)
  local v
  v=$(curl -s "http://127.0.0.1:$(port "$1" metrics)/metrics" | awk -v name="$2" '$1 == name {print $2; exit}')
  echo "${v:-0}"
}

# One visit: the bot (always the same name, so the same account in every region) plays in region R.
name="xr$$-"
visit() {
  local r=$1
  "$bin/strata-bot" --http-port "$(port "$r" http)" --bots 1 --seconds "$seconds" --name-prefix "$name" \
    --build 60 --break 60 --move 200 --seed "$r" >> "$work/bot-$r.out" 2>> "$work/bot-$r.err" &
  bot_pid=$!
  wait "$bot_pid" || echo "(strata-bot in region $r exited non-zero: $(tail -2 "$work/bot-$r.err"))"
  bot_pid=""
  # The region lets the player go when the connection ends (the bot's goodbye, else the connection's
  # 10 s timeout); its leave save is queued then, and the next visit logs in at once.
  for _ in $(seq 200); do
    [ "$(metric "$r" strata_players_connected)" = 0 ] && return 0
    sleep 0.1
  done
  fail "region $r still has the player connected 20 s after the bot ended"
}
visit 1
visit 2
visit 1
sleep 1
held=$(metric 2 'strata_storage_player_loads_total{outcome="held"}')
echo "region 2: loads answered 'held by region 1' while its leave save was on its way: $held"
for r in 1 2; do
  refused=$(metric "$r" 'strata_node_events_total{event="joins_refused_unloaded"}')
  [ "${refused%.*}" = 0 ] || fail "region $r refused $refused joins"
done
found1=$(metric 1 'strata_storage_player_loads_total{outcome="found"}')
found2=$(metric 2 'strata_storage_player_loads_total{outcome="found"}')
echo "loads that found a save: region 1 ${found1}, region 2 ${found2}"
[ "${found1%.*}" -ge 1 ] || fail "region 1's second visit found no save"
[ "${found2%.*}" -ge 1 ] || fail "region 2's visit found no save"

cluster down > "$work/down.out" 2>&1
grep -q "SIGKILLed" "$work/down.out" && fail "a region did not stop on SIGTERM: $(cat "$work/down.out")"

# The logs say what the player had: its last tick in the region it left, its first in the next.
# strata-replay state --field players prints "players[i].<field> = <value>" lines.
cat > "$work/presence.py" << 'PY'
import subprocess, sys
replay, log, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
def player(t):
    out = subprocess.run([replay, "state", log, "--tick", str(t), "--field", "players"],
                         capture_output=True, text=True).stdout
    by_index = {}
    for line in out.splitlines():
        if not line.startswith("players[") or " = " not in line:
            continue
        key, value = line.split(" = ", 1)
        index, field = key[len("players["):].split("].", 1)
        by_index.setdefault(index, {})[field] = value
    for fields in by_index.values():
        if fields.get("id") == str(pid):
            return {k: fields.get(k) for k in ("pos.x", "pos.y", "facing", "stamina", "health", "inventory")}
    return None
if sys.argv[4] == "at":
    p = player(int(sys.argv[5]))
    print(" ".join(f"{k}={v}" for k, v in p.items()) if p else "")
    sys.exit(0)
last = int(sys.argv[5])
present = lambda t: player(t) is not None
coarse = [(t, present(t)) for t in range(0, last + 1, 25)]
if coarse[-1][0] != last:
    coarse.append((last, present(last)))
def edge(lo, hi):  # the first tick in (lo, hi] whose presence differs from lo's
    a = present(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if present(mid) == a: lo = mid
        else: hi = mid
    return hi
runs, start = [], None
for (t0, p0), (t1, p1) in zip(coarse, coarse[1:]):
    if p0 == p1: continue
    e = edge(t0, t1)
    if p1: start = e
    else: runs.append((start, e - 1)); start = None
if start is not None: runs.append((start, last))
for a, b in runs: print(a, b)
PY
last_tick() { "$bin/strata-replay" info "$1" 2> /dev/null | sed -n 's/^ticks *[0-9]*\.\.\([0-9]*\).*/\1/p' | head -1; }
presence() { python3 "$work/presence.py" "$bin/strata-replay" "$1" "$2" runs "$(last_tick "$1")"; }
player_at() { python3 "$work/presence.py" "$bin/strata-replay" "$1" "$3" at "$2"; }
log1="$dir/region-1/data/session-log"
log2="$dir/region-2/data/session-log"
id=1
mapfile -t visits1 < <(presence "$log1" "$id")
mapfile -t visits2 < <(presence "$log2" "$id")
echo "player $id in region 1's log at ticks: ${visits1[*]:-none}; in region 2's: ${visits2[*]:-none}"
[ "${#visits1[@]}" = 2 ] && [ "${#visits2[@]}" = 1 ] || fail "expected two visits in region 1 and one in region 2"
if [ "$failed" = 0 ]; then
  left1=$(player_at "$log1" "${visits1[0]#* }" "$id")
  joined2=$(player_at "$log2" "${visits2[0]% *}" "$id")
  left2=$(player_at "$log2" "${visits2[0]#* }" "$id")
  joined1=$(player_at "$log1" "${visits1[1]% *}" "$id")
  echo "left region 1:   $left1"
  echo "joined region 2: $joined2"
  echo "left region 2:   $left2"
  echo "joined region 1: $joined1"
  [ -n "$left1" ] && [ "$left1" = "$joined2" ] || fail "region 2's join did not carry the state the player left region 1 with"
  [ -n "$left2" ] && [ "$left2" = "$joined1" ] || fail "region 1's second join did not carry the state the player left region 2 with"
  [ "$left1" != "$left2" ] || echo "(note: the player's state did not change in region 2)"
fi

# MariaDB: released, with the last leave save. The server is gone; read the row directly.
row=$(sql "SELECT holder, version FROM players WHERE player = $id")
echo "MariaDB player $id (holder, version): $row"
[ "$(echo "$row" | awk '{print $1}')" = 0 ] || fail "the player is still held after leaving: $row"

[ "$failed" = 0 ] && status=0
[ $status = 0 ] && echo "PASS" || { for r in 1 2; do echo "--- region $r server log (tail)"; tail -15 "$dir/region-$r/server.log"; done; }
exit $status
