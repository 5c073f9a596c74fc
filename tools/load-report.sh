#!/usr/bin/env bash
# The load figures of issue 5 (a tool run, not a test): strata-server and strata-bot with N bots
# on this machine for S seconds. Over the steady part of the run (from S/3 to S/3 + S/2: the
# bots' logins and first full snapshots are over; WARMUP=W in the environment measures from W to
# S - 5 instead, e.g. once --spread bots have walked out) it prints the server's CPU (share of one core),
# resident memory, and bytes/s per client (snapshot payloads, and every byte the server sent);
# the tick p50/p99/max are over the server's last minute of ticks. Then the bots' own report.
# The bots run at nice 10: on a shared box the load generator yields to the server it measures
# (in production the clients are elsewhere; on a box shared with other work, BOT_NICE=0 keeps the
# load generator from starving: the bots' report says how much CPU they got and their longest
# loop turn, and their RTTs show whether they kept up). Then what the storage wrote and loaded over the
# same window (positions, player saves: compare storage on and off). Extra arguments go to strata-server (--set k=v);
# BOT_ARGS (environment) goes to strata-bot, e.g. BOT_ARGS="--spread 250 --service-ms 10".
# Usage: [BOT_ARGS=...] load-report.sh BIN_DIR BOTS [SECONDS [SERVER ARGS...]]
# Example (issue 5's figures: ~100 entities in view at 5000 bots: --spread 400, and the bots take
# ~160 s to walk out at 2.5 cells/s, so measure from 175 s; one process cannot verify every
# snapshot of 5000 bots on a core, so every 10th bot verifies and the others are light, see
# strata-bot --help; the report says so):
#   WARMUP=175 BOT_ARGS="--spread 400 --verify-every 10 --service-ms 10 --views-kept 32 --login-rate 250" \
#     tools/load-report.sh build/release/bin 5000 240
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bots=$2; seconds=${3:-60}; shift 3 2>/dev/null || shift $#
ulimit -n 65536 2>/dev/null || true
e2e_start_server --set net.max_clients=10000 --set world.chunks_x=32 --set world.chunks_y=32 "$@" || exit 1
clk=$(getconf CLK_TCK)
cpu_of() { awk '{print $14+$15}' "/proc/$server_pid/stat"; }
status() { curl -sf "http://127.0.0.1:$admin_port/api/world/status"; }
threads=$(( bots > 1500 ? 2 : 1 ))
# shellcheck disable=SC2086 # BOT_ARGS is a list of options
nice -n "${BOT_NICE:-10}" "$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$seconds" --threads "$threads" \
  ${BOT_ARGS:-} > "$work/bot.out" 2> "$work/bot.err" &
bot=$!; other_pids=$bot
from=${WARMUP:-$((seconds / 3))}; span=$((seconds / 2))
[ -n "${WARMUP:-}" ] && span=$((seconds - 5 - from))
[ "$span" -ge 5 ] || { echo "WARMUP=$from leaves no window to measure in $seconds s"; exit 1; }
metrics() { curl -sf "http://127.0.0.1:$metrics_port/metrics"; }
sleep "$from"; t0=$(date +%s.%N); c0=$(cpu_of); s0=$(status); metrics > "$work/metrics0.txt"
sleep "$span"; t1=$(date +%s.%N); c1=$(cpu_of); s1=$(status); metrics > "$work/metrics1.txt"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
wait $bot; other_pids=""
python3 - "$t0" "$t1" "$c0" "$c1" "$clk" "$rss_kb" "$bots" "$s0" "$s1" <<'PY'
import json, sys
t0, t1, c0, c1, clk, rss_kb = (float(x) for x in sys.argv[1:7])
bots = int(sys.argv[7]); a = json.loads(sys.argv[8]); b = json.loads(sys.argv[9])
wall = t1 - t0
clients = max(1, b["sessions"])
snap = (b["snapshots"]["bytes"] - a["snapshots"]["bytes"]) / wall / clients
out = (b["net_bytes"]["out"] - a["net_bytes"]["out"]) / wall / clients
built = (b["snapshots"]["built"] - a["snapshots"]["built"]) / wall / clients
print(f"load: {bots} bots, {b['sessions']} sessions; over {wall:.0f} s of steady play: server CPU "
      f"{100 * (c1 - c0) / clk / wall:.0f}% of one core, RSS {rss_kb / 1024:.0f} MiB, per client "
      f"{built:.1f} snapshots/s, {snap:.0f} snapshot B/s, {out:.0f} B/s sent in all; "
      f"tick ms (last minute) p50 {b['tick_ms']['p50']} p99 {b['tick_ms']['p99']} max {b['tick_ms']['max']} "
      f"(its CPU time p50 {b['tick_cpu_ms']['p50']} p99 {b['tick_cpu_ms']['p99']} max {b['tick_cpu_ms']['max']}); "
      f"frames skipped {b['snapshots']['frames_skipped'] - a['snapshots']['frames_skipped']}, "
      f"fulls deferred {b['snapshots']['fulls_deferred'] - a['snapshots']['fulls_deferred']}")
d = {k: b["snapshots"].get(k, 0) - a["snapshots"].get(k, 0) for k in b["snapshots"]}
per = lambda k, n: d[k] / d[n] if d[n] else 0.0
print(f"snapshots built in the window: {d['deltas']} deltas, mean {per('delta_bytes', 'deltas'):.0f} B, baseline "
      f"{per('delta_age_ticks', 'deltas'):.1f} ticks old, {per('delta_entities', 'deltas'):.1f} entity records "
      f"({per('delta_fresh_entities', 'deltas'):.1f} fresh), {per('delta_chunks', 'deltas'):.2f} fresh chunks; "
      f"{d['fulls']} fulls ({d['fulls_evicted']} for an ack of a view no longer held, {d['fulls_too_old']} older than "
      f"the change history), mean {per('full_bytes', 'fulls'):.0f} B; publish-to-outbox "
      f"{d['lag_us'] / max(1, d['deltas'] + d['fulls']) / 1000:.1f} ms mean; frames cut {d['frames_cut']}; "
      f"acks {d['acks_posted']}, {d['acks_advanced']} applied before the tick's job")
for key, what in (("tick_phase_cpu_ms", "CPU"), ("tick_phase_ms", "wall")):
    print(f"tick phases, {what} ms mean/p99/max (last minute): " + ", ".join(
          f"{k} {v['mean']}/{v['p99']}/{v['max']}" for k, v in b[key].items()))
PY
# What the storage did over the same window (storage/, server/storage_service.h): the live
# positions and player saves written, the saves loaded, and whether a store was degraded.
python3 - "$work/metrics0.txt" "$work/metrics1.txt" "$t0" "$t1" <<'PY'
import sys
def read(path):
    out = {}
    for line in open(path):
        if line.startswith("strata_storage_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
def d(family, **labels):  # the family's growth over the window
    key = "strata_storage_" + family + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
    return b.get(key, 0) - a.get(key, 0)
print("storage over the window: %.0f positions/s written (%.1f batches/s), %.1f player saves/s applied (%d on leave, "
      "%d periodic), %d saves loaded, hot cache %d hits / %d misses; failed batches %d; degraded at the end: %d" % (
      d("positions_total", change="moved") / wall, d("writes_total", port="positions", outcome="applied") / wall,
      d("writes_total", port="players", outcome="applied") / wall, d("player_saves_total", reason="left"),
      d("player_saves_total", reason="periodic"), d("player_loads_total", outcome="found"),
      d("cache_total", event="hit"), d("cache_total", event="miss"),
      d("batches_total", port="players", outcome="failed") + d("batches_total", port="positions", outcome="failed"),
      b.get("strata_storage_degraded", 0)))
PY
echo "bot (nice ${BOT_NICE:-10}): strata-bot --bots $bots --seconds $seconds --threads $threads ${BOT_ARGS:-}"
cat "$work/bot.out"
grep -v retrying "$work/bot.err" | tail -3
e2e_stop_server
