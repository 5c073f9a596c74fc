#!/usr/bin/env bash
# Storage outages end to end (issue 16): strata-server with Redis and MariaDB, N bots playing (3/4
# staying, 1/4 leaving and coming back every few seconds, all gathering and building). redis-server
# is killed for OUTAGE seconds, then mariadbd is. Passes when
#   - /readyz says degraded during each outage (200: the node stays in rotation) and ready again
#     after it, and the tick kept running through it (at least half its rate: a tick that waited
#     on a store would stall for the store's timeouts);
#   - the staying bots are all connected at the end; the server stops cleanly; over its session log
#     (strata-replay saves), every return (before, during and after the outages) carried exactly
#     the state of its leave, and players did leave and come back during each outage;
#   - MariaDB then holds, for every player, exactly the state the log says it last left with (with
#     that leave's version): no acknowledged save lost, none applied out of order. The log is what
#     an uninterrupted run would have saved too: saves are derived from it, so this is the
#     "final database equals an uninterrupted run's" of the issue without needing a deterministic
#     swarm of bots.
# Figures (printed, not asserted: this box is shared): ticks per second, tick p50/p99 and the
# longest tick (as bounds of strata_tick_duration_seconds's buckets) and overruns, in a window before
# the outages, in each outage and after them; the storage counters 5 s after the outages.
# Services: the CTest fixtures' (STRATA_SERVICES_DIR; killed and restarted through their scripts'
# down/up, so the test holds RESOURCE_LOCK mariadb;redis) or, without it, instances of its own.
# Usage: e2e-outage.sh BIN_DIR [BOTS [OUTAGE_SECONDS]]   (defaults 50 and 8)
#        STRATA_OUTAGE_FULL=1 e2e-outage.sh BIN_DIR       (the issue's run: 200 bots, 30 s outages)
set -u
source "$(dirname "$0")/e2e-lib.sh"
source "$(dirname "$0")/e2e-storage-lib.sh"
tools_dir="$(cd "$(dirname "$0")" && pwd)"
e2e_init "$1"; bots=${2:-50}; outage=${3:-8}
if [ "${STRATA_OUTAGE_FULL:-0}" = 1 ]; then bots=200; outage=30; fi
# The server refuses unknown STRATA_* variables: these stay shell variables.
unset STRATA_OUTAGE_FULL
own_services=""
if [ -n "${STRATA_SERVICES_DIR:-}" ]; then
  services_dir=$STRATA_SERVICES_DIR
else
  services_dir="$work/services"; own_services=1
  "$tools_dir/service-redis.sh" start "$services_dir" > /dev/null || exit 1
  "$tools_dir/service-mariadb.sh" start "$services_dir" > /dev/null || { "$tools_dir/service-redis.sh" stop "$services_dir"; exit 1; }
fi
unset STRATA_SERVICES_DIR
storage_init "$services_dir" || exit 1
storage_args+=(--set storage.players_every_ticks=100)
redis_down=""; mariadb_down=""
cleanup() {
  for p in $server_pid $other_pids; do kill -9 "$p" 2>/dev/null; done
  # A service this script took down comes back (the fixture's next tests need it); `up` on a
  # running server would start a second one over its pid file, so only then.
  [ -n "$mariadb_down" ] && "$STRATA_MARIADB_CTL" up "$services" > /dev/null 2>&1
  [ -n "$redis_down" ] && "$STRATA_REDIS_CTL" up "$services" > /dev/null 2>&1
  drop_database
  if [ -n "$own_services" ]; then
    "$tools_dir/service-redis.sh" stop "$services"
    "$tools_dir/service-mariadb.sh" stop "$services"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
readyz() { curl -s "http://127.0.0.1:$http_port/readyz"; }
world_tick() { curl -s "http://127.0.0.1:$admin_port/api/world/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tick"])'; }
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local t=$1; shift
  for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
degraded() { [ "$(readyz)" = "ready; degraded: storage" ]; }
ready() { [ "$(readyz)" = "ready" ]; }
scrape() { curl -s "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics-$1.txt"; date +%s.%N > "$work/time-$1"; }
# window NAME FROM TO: the tick figures between two scrapes.
window() {
  python3 - "$1" "$work/metrics-$2.txt" "$work/metrics-$3.txt" "$(cat "$work/time-$2")" "$(cat "$work/time-$3")" <<'PY'
import re, sys
name, a, b, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
def read(path):
    buckets, count, overruns = {}, 0, 0
    for line in open(path):
        m = re.match(r'strata_tick_duration_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m: buckets[float(m.group(1))] = float(m.group(2))
        elif line.startswith("strata_tick_duration_seconds_count "): count = float(line.split()[1])
        elif line.startswith("strata_tick_overruns_total "): overruns = float(line.split()[1])
    return buckets, count, overruns
(ba, ca, oa), (bb, cb, ob) = read(a), read(b)
n = cb - ca
bounds = sorted(bb)
def bound(q):  # the smallest bucket bound holding a share q of the window's ticks
    for le in bounds:
        if bb[le] - ba.get(le, 0) >= q * n:
            return "%g ms" % (le * 1000) if le != float("inf") else "> %g ms" % (bounds[-2] * 1000)
    return "?"
print(f"ticks {name}: {n:.0f} in {t1 - t0:.1f} s ({n / (t1 - t0):.1f}/s); p50 <= {bound(0.5)}, p99 <= {bound(0.99)}, "
      f"all <= {bound(1)}; overruns (> 50 ms) {ob - oa:.0f}")
# The tick kept running: at least half of 20 Hz.
sys.exit(0 if n >= 10 * (t1 - t0) else 1)
PY
}
status=0
staying=$((bots - bots / 4)); churners=$((bots / 4))
seconds=$((3 * outage + 30))
e2e_start_server "${storage_args[@]}" || exit 1
"$bin/strata-bot" --http-port "$http_port" --bots "$staying" --seconds "$seconds" --build 20 --break 15 \
  > "$work/stay.out" 2> "$work/stay.err" &
stay=$!
"$bin/strata-bot" --http-port "$http_port" --bots "$churners" --seconds "$seconds" --build 20 --break 15 \
  --name-prefix churn --churn 100 --seed 2 > "$work/churn.out" 2> "$work/churn.err" &
churn=$!
other_pids="$stay $churn"
echo "$bots bots ($staying staying, $churners leaving and coming back) for $seconds s; outages of $outage s"
sleep 8
scrape before0; sleep "$outage"; scrape before1
ready || { echo "/readyz before the outages: '$(readyz)'"; status=1; }
window "before the outages" before0 before1 || { echo "the tick slowed down before any outage"; status=1; }

# outage NAME CTL VAR: kills the service, checks /readyz says degraded, measures, brings it back.
outage() {
  local name=$1 ctl=$2
  "$ctl" down "$services"; eval "$3=1"
  scrape "$name-0"; world_tick > "$work/tick-$name-0"
  wait_for "$outage" degraded || { echo "$name down: /readyz did not say degraded: '$(readyz)'"; status=1; }
  echo "$name down: /readyz '$(readyz)' (HTTP $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/readyz"))"
  local left; left=$(python3 -c "import time; print(max(0, $outage - (time.time() - $(cat "$work/time-$name-0"))))")
  sleep "$left"
  scrape "$name-1"; world_tick > "$work/tick-$name-1"
  "$ctl" up "$services" > /dev/null; eval "$3=''"
  window "with $name down" "$name-0" "$name-1" || { echo "the tick stalled with $name down"; status=1; }
  local t0; t0=$(date +%s.%N)
  wait_for 30 ready || { echo "$name back: /readyz did not recover: '$(readyz)'"; status=1; }
  echo "$name back: /readyz '$(readyz)' $(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))") s after the restart"
}
outage redis "$STRATA_REDIS_CTL" redis_down
outage mariadb "$STRATA_MARIADB_CTL" mariadb_down
scrape after0; sleep 5; scrape after1
window "after the outages" after0 after1 || { echo "the tick slowed down after the outages"; status=1; }

wait "$stay" || { echo "strata-bot (staying) failed: $(grep -v retrying "$work/stay.err" | tail -3)"; status=1; }
wait "$churn" || { echo "strata-bot (churning) failed: $(grep -v retrying "$work/churn.err" | tail -3)"; status=1; }
other_pids=""
grep -h 'strata-bot report' "$work/stay.out" "$work/churn.out"
e2e_stop_server || status=1
python3 - "$work/metrics-after1.txt" <<'PY'
import re, sys
m = {}
for line in open(sys.argv[1]):
    if line.startswith("strata_storage_"):
        name, value = line.rsplit(" ", 1)
        m[name] = float(value)
g = lambda k: int(m.get(k, 0))
print("storage (5 s after the outages): saves %d left, %d periodic, %d refused; loads %d found, %d none, %d failed; "
      "player reads answered from the queue %d, from the store %d; hot cache %d hits, %d misses, %d failures; "
      "failed batches: players %d, positions %d; spilled to disk %d" % (
      g('strata_storage_player_saves_total{reason="left"}'), g('strata_storage_player_saves_total{reason="periodic"}'),
      g('strata_storage_player_saves_total{reason="refused"}'), g('strata_storage_player_loads_total{outcome="found"}'),
      g('strata_storage_player_loads_total{outcome="none"}'), g('strata_storage_player_loads_total{outcome="failed"}'),
      g('strata_storage_reads_total{port="players",outcome="from_queue"}'),
      g('strata_storage_reads_total{port="players",outcome="from_store"}'), g('strata_storage_cache_total{event="hit"}'),
      g('strata_storage_cache_total{event="miss"}'), g('strata_storage_cache_total{event="failure"}'),
      g('strata_storage_batches_total{port="players",outcome="failed"}'),
      g('strata_storage_batches_total{port="positions",outcome="failed"}'), g('strata_storage_spilled_total{port="players"}')))
PY

"$bin/strata-replay" saves "$work/data/session-log" --players "$work/players.txt" --events "$work/events.txt" ||
  { echo "a return did not bring back its leave's state"; status=1; }
# Returns during each outage (joins of players who had left; all of them were checked above).
for name in redis mariadb; do
  from=$(cat "$work/tick-$name-0"); to=$(cat "$work/tick-$name-1")
  n=$(awk -v from="$from" -v to="$to" '{split($2, t, "="); p = $3}
    $4 == "leave" { left[p] = 1 } $4 == "join" && left[p] && t[2] >= from && t[2] <= to { n++ } END { print n + 0 }' "$work/events.txt")
  echo "returns with $name down (ticks $from..$to): $n"
  [ "$n" -gt 0 ] || { echo "no player left and came back while $name was down"; status=1; }
done
db_equals_log "$work/players.txt" || status=1
[ $status = 0 ] || { echo "--- server log (tail)"; grep -v 'OPEN LOGINS\|\*\*\*\|name. Every' "$work/server.log" | tail -30; }
exit $status
