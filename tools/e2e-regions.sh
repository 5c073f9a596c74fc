#!/usr/bin/env bash
# Regions over NATS JetStream end to end, with real processes on loopback (issue 15 "Tests"): a
# cluster made by tools/cluster.sh (its own nats-server(s) and strata-server regions), one
# strata-bot swarm per region building and breaking around the map's centre (--spread: the swarms
# of every region overlap), and a fault per scenario:
#   converge N    N regions (2 or 3), no fault
#   partition     3 regions, region 2 reaches NATS through strata-tcp-proxy and is cut from it for
#                 --cut-seconds (15; 60 with STRATA_E2E_LONG=1) while every region plays, then healed
#   crash         2 regions, region 2 SIGKILLed mid-play and restarted on the same config and log
#   nats-cluster  3 regions over a 3-node JetStream cluster (replicas 3); the nats-server leading the
#                 stream SIGKILLed mid-play (its stream elects a new leader: seconds without acks)
# Each passes when: the bots saw no checksum mismatch and all ended connected; after they stop and
# the streams drain every region reports the same map hash (stable for 3 s; the time it took is
# printed); every region applied every other region's world batches up to the same stream sequence
# (nothing lost) and no batch twice (the bus counters); every region stops cleanly on SIGTERM and its
# session log then verifies bit-exact offline (strata-replay verify, without NATS).
# Usage: e2e-regions.sh BIN_DIR SCENARIO [N] [--bots B] [--seconds S] [--cut-seconds S]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: e2e-regions.sh BIN_DIR converge|partition|crash|nats-cluster [N]}" && pwd)
scenario=${2:?scenario}
shift 2
regions=2
case "$scenario" in partition | nats-cluster) regions=3 ;; esac
if [ "$scenario" = converge ] && [ $# -gt 0 ] && [[ "$1" != --* ]]; then regions=$1; shift; fi
bots=8
seconds=20
cut_seconds=15
[ "${STRATA_E2E_LONG:-0}" = 1 ] && cut_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --bots) bots=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --cut-seconds) cut_seconds=$2; shift 2 ;;
    *) echo "unknown argument $1"; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/strata-e2e-regions.XXXXXX)
dir="$work/cluster"
bot_pids=""
cleanup() {
  for p in $bot_pids; do kill -9 "$p" 2>/dev/null; done
  "$here/cluster.sh" down --dir "$dir" > /dev/null 2>&1
  # Keep the folder of a failed run for a look (logs, configs); a passing one goes.
  if [ "${status:-1}" = 0 ]; then rm -rf "$work"; else echo "kept for inspection: $work"; fi
}
trap cleanup EXIT
status=1

cluster() { "$here/cluster.sh" "$@" --dir "$dir"; }

up_args=(--regions "$regions" --bin "$bin" --seed 7)
case "$scenario" in
  partition) up_args+=(--proxy 2) ;;
  nats-cluster) up_args+=(--nats cluster3) ;;
  converge | crash) ;;
  *) echo "unknown scenario $scenario"; exit 2 ;;
esac
cluster up "${up_args[@]}" || exit 1
source "$dir/cluster.env"

# One swarm per region, all around the centre: every region's bots build where the others' do.
play_seconds=$seconds
[ "$scenario" = partition ] && play_seconds=$((cut_seconds + 10))
start_bots() {
  local r
  for r in $(seq 1 "$REGIONS"); do
    local http_var="R${r}_HTTP"
    "$bin/strata-bot" --http-port "${!http_var}" --bots "$bots" --seconds "$play_seconds" --build 40 --break 25 \
      --spread 20 --wander 8 --seed "$r" --name-prefix "r${r}b" > "$work/bot-$r.out" 2> "$work/bot-$r.err" &
    bot_pids+=" $!"
  done
}
wait_bots() {
  local r=1 p ok=0
  for p in $bot_pids; do
    if ! wait "$p"; then
      echo "strata-bot of region $r failed:"; tail -5 "$work/bot-$r.err"; ok=1
    fi
    grep -E 'checksum|connected' "$work/bot-$r.out" | head -3 | sed "s/^/region $r bots: /"
    r=$((r + 1))
  done
  bot_pids=""
  return $ok
}

failed=0
fail() { echo "FAIL: $*"; failed=1; }
start_bots
case "$scenario" in
  converge) ;;
  partition)
    sleep 5
    cluster cut 2
    cut_at=$(date +%s.%N)
    sleep "$cut_seconds"
    cluster status
    cluster heal 2
    healed_at=$(date +%s.%N)
    # Catching up while everyone still plays: until region 2 lags no peer (its consumers have
    # applied everything the stream holds from them) — the partition's cost, as a figure.
    python3 - "$dir/admin-token" "$R2_ADMIN" "$healed_at" <<'PY' || fail "region 2 did not catch up after the heal"
import json, sys, time, urllib.request
token, port, healed_at = open(sys.argv[1]).read().strip(), int(sys.argv[2]), float(sys.argv[3])
request = urllib.request.Request(f"http://127.0.0.1:{port}/api/regions", headers={"Authorization": f"Bearer {token}"})
while time.time() - healed_at < 60:
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            r = json.load(answer)
        if r["bus"]["state"] == "connected" and r["peers"] and all(p["lag"] == 0 for p in r["peers"]):
            print(f"figure: region 2 caught up with every peer {time.time() - healed_at:.2f} s after the heal "
                  f"(bots still playing)")
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.05)
sys.exit(1)
PY
    ;;
  crash)
    sleep 8
    cluster stop-region 2 --kill
    sleep 1
    cluster start-region 2 || fail "region 2 did not restart"
    grep -E 'recovered the session log' "$dir/region-2/server.log" || fail "the restart of region 2 did not recover its log"
    ;;
  nats-cluster)
    sleep 8
    cluster kill-nats leader  # the hardest one: its stream must elect a new leader
    ;;
esac
wait_bots || fail "the bots"
stopped_at=$(date +%s.%N)
converged=$(cluster wait-converged --timeout 60 --stable 3) || fail "the regions did not converge"
echo "$converged"
cluster status
cluster status --json > "$work/regions.json"

# Nothing lost, nothing twice: each origin's world batches applied by every other region up to the
# last one the stream holds from it (what its peers last saw of it), and the bus counters name no
# batch applied twice.
python3 - "$work/regions.json" <<'PY' || fail "the applied sequences or the bus counters"
import json, sys
rs = json.load(open(sys.argv[1]))
ok = True
by_region = {r["region"]: r for r in rs}
for origin in by_region:
    applied = {r["region"]: next((a["seq"] for a in r["applied"] if a["origin"] == origin), 0)
               for r in rs if r["region"] != origin}
    seen = {r["region"]: next((p["last_seq"] for p in r["peers"] if p["region"] == origin), None)
            for r in rs if r["region"] != origin}
    print(f"origin {origin}: applied up to stream seq {applied}, last seen {seen}")
    if len(set(applied.values())) != 1 or set(applied.values()) != set(seen.values()) or 0 in applied.values():
        print(f"origin {origin}: the regions did not all apply its batches up to its last one")
        ok = False
for r in rs:
    c = r["bus"]["counters"]
    print(f"region {r['region']} bus counters: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v))
    twice = {k: v for k, v in c.items() if ("twice" in k or "reapplied" in k) and v}
    if twice:
        print(f"region {r['region']}: applied twice: {twice}")
        ok = False
    for p in r["peers"]:
        if p["agreement"] == "disagree":
            print(f"region {r['region']}: disagrees with region {p['region']}")
            ok = False
sys.exit(0 if ok else 1)
PY

cluster down || fail "a region did not stop cleanly"
for r in $(seq 1 "$REGIONS"); do
  "$bin/strata-replay" verify "$dir/region-$r/data/session-log" | sed "s/^/region $r log: /"
  [ "${PIPESTATUS[0]}" = 0 ] || fail "the session log of region $r does not verify"
done
if [ -n "${cut_at:-}" ]; then
  python3 -c "print(f'partition: region 2 cut for {$healed_at - $cut_at:.1f} s; bots stopped {$stopped_at - $healed_at:.1f} s after the heal')"
fi
status=$failed
[ $status = 0 ] && echo "e2e-regions $scenario: PASS" || echo "e2e-regions $scenario: FAIL"
exit $status
