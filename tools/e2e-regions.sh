#!/usr/bin/env bash
# Regions over NATS JetStream end to end, with real processes on loopback (issue 15 "Tests"): a
# cluster made by tools/cluster.sh (its own nats-server(s) and strata-server regions), one
# strata-bot swarm per region building and breaking around the map's centre (--spread: the swarms
# of every region overlap), and a fault per scenario:
#   converge N    N regions (2 or 3), no fault
#   partition     3 regions, region 2 reaches NATS through strata-tcp-proxy and is cut from it for
#                 --cut-seconds (15; 60 with E2E_REGIONS_LONG=1) while every region plays, then healed
#   crash         2 regions, region 2 SIGKILLed mid-play and restarted on the same config and log
#   nats-cluster  3 regions over a 3-node JetStream cluster (replicas 3); the nats-server leading the
#                 stream SIGKILLed mid-play (its stream elects a new leader: seconds without acks)
# The world has no random ticks (world.random_ticks_per_chunk=0), so it rests once the bots stop;
# --random-ticks keeps them (each region runs its own stripe's and replicates the writes); opt-in
# (the world never rests, so only the regions' own agreement is checked, not one map hash). While
# the bots play (converge), every region must already have judged peers' health points at their
# vectors (server/map_history.h) and found no desync: regions writing every tick seldom take health
# points at one applied vector, so before, agreement was seen only once the world rested.
# Each passes when: the bots saw no checksum mismatch and all ended connected; after they stop and
# the streams drain, every region reports the same map hash (stable for 3 s; the time it took is
# printed) and agrees with every peer on a fresh health point (with --random-ticks, only the
# latter: the map never rests); every region applied each origin's world batches up to the last one
# it acknowledged (nothing lost), and consumed exactly as many as the stream holds from the others
# (none applied twice; a restarted region's counters start again, so at most as many); no desync,
# overflow or refusal; every region's /metrics passes promtool and has the strata_bus_* families;
# every region stops cleanly on SIGTERM and its session log then verifies bit-exact offline
# (strata-replay verify, without NATS).
# partition --stop-at-heal: the bots stop as the partition heals; prints the time from the heal to
# one map hash (the issue's convergence figure).
# Usage: e2e-regions.sh BIN_DIR SCENARIO [N] [--bots B] [--seconds S] [--cut-seconds S] [--random-ticks]
#        [--stop-at-heal]
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
random_ticks=false
stop_at_heal=false
[ "${E2E_REGIONS_LONG:-0}" = 1 ] && cut_seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --bots) bots=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --cut-seconds) cut_seconds=$2; shift 2 ;;
    --random-ticks) random_ticks=true; shift ;;
    --stop-at-heal) stop_at_heal=true; shift ;;
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
# A quiet world once the bots stop (no random ticks): then every region's map hash must be one.
$random_ticks || up_args+=(--set world.random_ticks_per_chunk=0)
# /api/regions reports each region's last health point (its tick, map hash and applied vector once
# its own batches up to that tick are acknowledged): every 0.2 s, the resolution of the figures.
up_args+=(--set bus.health_every_ms=200)
cluster up "${up_args[@]}" || exit 1
source "$dir/cluster.env"

# One swarm per region, all around the centre: every region's bots build where the others' do.
play_seconds=$seconds
[ "$scenario" = partition ] && play_seconds=$((cut_seconds + 10))
# --stop-at-heal: the bots stop as the partition heals, so the time to one map hash after the heal
# is the partition's convergence time (the issue's figure), not hidden by further play.
$stop_at_heal && play_seconds=$((cut_seconds + 5))
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

restarted=""
failed=0
fail() { echo "FAIL: $*"; failed=1; }
# The regions' judgement while the bots still play: a peer's health point with no equal vector of
# ours is judged at its vector from the map history (server/map_history.h), so points agree (and
# a desync would show) during play, not only once the world rests. Every region must have judged
# some by now, and found no desync.
health_during_play() {
  cluster status --json > "$work/play.json" || { fail "no status during play"; return; }
  python3 - "$work/play.json" <<'PY' || fail "the health points during play"
import json, sys
ok = True
for r in json.load(open(sys.argv[1])):
    link = r["link"]
    print(f"during play: region {r['region']}: health agree {link['health_agree']} (judged at their vector "
          f"{link['health_judged_at_vector']}), desyncs {link['desyncs']}; not judged: too old "
          f"{link['health_unjudged_too_old']}, superseded {link['health_unjudged_superseded']}")
    if r["map_history"]["sum_mismatches"]:
        print(f"FAIL: region {r['region']}: its map's cell sum drifted from the map {r['map_history']}")
        ok = False
    if link["desyncs"] or link["health_judged_at_vector"] == 0:
        ok = False
sys.exit(0 if ok else 1)
PY
}
start_bots
case "$scenario" in
  converge)
    sleep $((seconds > 6 ? seconds - 4 : 2))
    health_during_play
    ;;
  partition)
    sleep 5
    cluster cut 2
    cut_at=$(date +%s.%N)
    sleep "$cut_seconds"
    cluster status
    # The heal and the catch-up after it, while everyone still plays: the partition's cost as a
    # figure. One poller thread per region keeps fetching /api/regions (a loaded box answers in
    # 0.05-0.2 s, so one loop over every region would blur the figure); the script heals the proxy
    # itself to know the moment. Caught up: region 2 applied what every peer had stored before the
    # heal (inbound), and the peers applied what region 2 held during the cut (outbound).
    heal_out=$(python3 - "$dir/admin-token" "$(cat "$dir/proxy-2/pid")" \
      $(for r in $(seq 1 "$REGIONS"); do v="R${r}_ADMIN"; echo "${!v}"; done) <<'PY'
import json, os, signal, sys, threading, time, urllib.request
token, proxy_pid, ports = open(sys.argv[1]).read().strip(), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
reports = {r: [] for r in range(1, len(ports) + 1)}  # region -> [(time answered, report)]
stop = threading.Event()
def poll(region):
    request = urllib.request.Request(f"http://127.0.0.1:{ports[region - 1]}/api/regions",
                                     headers={"Authorization": f"Bearer {token}"})
    while not stop.is_set():
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                report = json.load(answer)
            reports[region].append((time.time(), report))
        except OSError:
            pass
        time.sleep(0.02)
threads = [threading.Thread(target=poll, args=(r,), daemon=True) for r in reports]
for t in threads:
    t.start()
time.sleep(1.0)
def applied(report, origin):
    return next((a["seq"] for a in report["applied"] if a["origin"] == origin), 0)
peers = [r for r in reports if r != 2]
stored = {o: reports[o][-1][1]["own_acked_seq"] for o in peers}
held = reports[2][-1][1]["world_held"]
os.kill(proxy_pid, signal.SIGUSR2)
healed_at = time.time()
print(f"region 2: healed; at the heal it held {held} world batches of its own, the peers had stored up to {stored}")
inbound = outbound = target = None
while time.time() - healed_at < 90 and (inbound is None or outbound is None):
    time.sleep(0.1)
    after = [(t, r) for t, r in list(reports[2]) if t > healed_at]
    if inbound is None:
        inbound = next((t - healed_at for t, r in after if all(applied(r, o) >= s for o, s in stored.items())), None)
    if target is None:
        target = next(((t, r["own_acked_seq"]) for t, r in after
                       if r["bus"]["state"] == "connected" and r["world_held"] == 0), None)
    if target is not None and outbound is None:
        times = [next((t for t, r in list(reports[o]) if t > target[0] and applied(r, 2) >= target[1]), None)
                 for o in peers]
        if all(times):
            outbound = max(times) - healed_at
stop.set()
if inbound is None or outbound is None:
    print(f"not caught up 90 s after the heal: inbound {inbound}, outbound {outbound}")
    sys.exit(1)
print(f"figure: after the heal, region 2 applied what its peers had stored in {inbound:.2f} s, and its peers "
      f"applied what it held during the cut in {outbound:.2f} s (bots still playing; health points every 0.2 s)")
print(f"HEALED_AT={healed_at:.3f}")
PY
    ) || fail "region 2 did not catch up after the heal"
    grep -v '^HEALED_AT=' <<<"$heal_out"
    healed_at=$(sed -n 's/^HEALED_AT=//p' <<<"$heal_out")
    [ -n "$healed_at" ] || healed_at=$(date +%s.%N)
    ;;
  crash)
    sleep 8
    cluster stop-region 2 --kill
    sleep 1
    cluster start-region 2 || fail "region 2 did not restart"
    restarted=2
    grep -E 'recovered the session log' "$dir/region-2/server.log" || fail "the restart of region 2 did not recover its log"
    ;;
  nats-cluster)
    sleep 8
    cluster kill-nats leader  # the hardest one: its stream must elect a new leader
    ;;
esac
wait_bots || fail "the bots"
stopped_at=$(date +%s.%N)
if $random_ticks; then
  # The world never rests (random ticks): converged is every region agreeing with every peer.
  converged=$(cluster wait-converged --agree --timeout 60) || fail "the regions did not come to agree"
  echo "$converged"
else
  converged=$(cluster wait-converged --timeout 60 --stable 3) || fail "the regions did not converge"
  echo "$converged"
  converged_s=$(sed -nE 's/.* after ([0-9.]+) s .*/\1/p' <<<"$converged")
  # The regions' own judgement too: health points at the same applied vector with the same hash.
  cluster wait-converged --agree --timeout 30 || fail "the regions' health points do not agree"
fi
cluster status
cluster status --json > "$work/regions.json"
cluster stream
cluster stream --json > "$work/stream.json"

# Nothing lost, nothing twice. Every region applied each origin's world batches up to the last one
# the origin had acknowledged, and (in a quiet world, where the stream is final) each region that
# was not restarted handed over exactly as many world batches as the stream holds from the others:
# one more would be a batch applied twice, one fewer a batch lost. No desync, no overflow.
python3 - "$work/regions.json" "$work/stream.json" "$random_ticks" "$restarted" <<'PY' || fail "the applied sequences or the bus counters"
import json, sys
rs, stream = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
quiet, restarted = sys.argv[3] != "true", [int(r) for r in sys.argv[4].split()]
counts = {int(subject.split(".")[-2]): n for subject, n in stream["state"].get("subjects", {}).items()
          if subject.endswith(".world")}
print(f"the stream holds world batches per origin: {counts}")
ok = True
def applied(report, origin):
    return next((a["seq"] for a in report["applied"] if a["origin"] == origin), 0)
for origin in (r["region"] for r in rs):
    acked = next(r["own_acked_seq"] for r in rs if r["region"] == origin)
    seqs = {r["region"]: applied(r, origin) for r in rs if r["region"] != origin}
    print(f"origin {origin}: its last acknowledged world batch at stream seq {acked}; applied by the others up to {seqs}")
    if quiet and any(seq != acked for seq in seqs.values()):
        print(f"FAIL: origin {origin}: not every region applied its batches up to its last one")
        ok = False
for r in rs:
    link, bus, outbox = r["link"], r["bus"]["counters"], r["bus"]["outbox"]
    expected = sum(n for origin, n in counts.items() if origin != r["region"])
    got = link["world_batches_consumed"]
    print(f"region {r['region']}: world batches consumed {got} (the stream holds {expected} from the others), "
          f"duplicates dropped {link['consumed_duplicate']}; published {link['world_batches_published']}, "
          f"republished after a restart {link['world_republished_after_restart']}; acks stored {bus['acks_stored']}, "
          f"duplicate {bus['acks_duplicate']}, failed {bus['acks_failed']}; resends {bus['resends']}; "
          f"reconnects {bus['reconnects']}; consumer resets {bus['consumer_resets']}; "
          f"health agree {link['health_agree']}, desyncs {link['desyncs']}")
    if quiet and r["region"] not in restarted and got != expected:
        print(f"FAIL: region {r['region']} consumed {got} world batches, the stream holds {expected} from the others")
        ok = False
    if quiet and r["region"] in restarted and got > expected:
        print(f"FAIL: region {r['region']} consumed more world batches than the stream holds")
        ok = False
    refused = {k: v for k, v in link["refused_decode"].items() if v}
    if link["desyncs"] or link["world_overflow"] or refused or link["refused_clock_ahead"]:
        print(f"FAIL: region {r['region']}: desyncs {link['desyncs']}, overflow {link['world_overflow']}, "
              f"refused {refused}, clock ahead {link['refused_clock_ahead']}")
        ok = False
sys.exit(0 if ok else 1)
PY

# The bus's Prometheus families on every region's metrics port, valid for promtool.
for r in $(seq 1 "$REGIONS"); do
  v="R${r}_METRICS"
  curl -sf "http://127.0.0.1:${!v}/metrics" > "$work/metrics-$r.txt" || fail "no /metrics from region $r"
  promtool check metrics < "$work/metrics-$r.txt" > /dev/null 2>&1 || fail "promtool refused region $r's /metrics"
  grep -q '^strata_bus_link_total{event="world_batches_consumed"}' "$work/metrics-$r.txt" ||
    fail "region $r's /metrics has no strata_bus_link_total"
done
grep -E '^strata_bus_(link_total\{event="world_batches_(published|consumed)"\}|connected|consumer_lag)' "$work/metrics-1.txt" |
  sed 's/^/region 1 metrics: /'

cluster down || fail "a region did not stop cleanly"
for r in $(seq 1 "$REGIONS"); do
  "$bin/strata-replay" verify "$dir/region-$r/data/session-log" | sed "s/^/region $r log: /"
  [ "${PIPESTATUS[0]}" = 0 ] || fail "the session log of region $r does not verify"
done
if [ -n "${cut_at:-}" ]; then
  python3 -c "print(f'partition: region 2 cut for {$healed_at - $cut_at:.1f} s; bots stopped {$stopped_at - $healed_at:.1f} s after the heal')"
  if $stop_at_heal && [ -n "${converged_s:-}" ]; then
    python3 -c "print(f'figure: one map hash in every region {$stopped_at - $healed_at + $converged_s:.2f} s after the heal of a {$healed_at - $cut_at:.0f} s partition, the bots building until {$stopped_at - $healed_at:.2f} s after the heal (an upper bound: see the catch-up figure)')"
  fi
fi
status=$failed
[ $status = 0 ] && echo "e2e-regions $scenario: PASS" || echo "e2e-regions $scenario: FAIL"
exit $status
