#!/usr/bin/env bash
# The load figures of issue 5 (a tool run, not a test): strata-server and strata-bot with N bots
# on this machine for S seconds; prints the server's tick p50/p99/max over the last minute, its CPU
# (share of one core) and resident memory, and the bots' bytes/s per client and report.
# The bots run at nice 10: on a shared box the load generator yields to the server it measures
# (in production the clients are elsewhere). Extra arguments go to strata-server (--set k=v).
# Usage: load-report.sh BIN_DIR BOTS [SECONDS [SERVER ARGS...]]
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bots=$2; seconds=${3:-30}; shift 3 2>/dev/null || shift $#
ulimit -n 65536 2>/dev/null || true
e2e_start_server --set net.max_clients=10000 --set world.chunks_x=32 --set world.chunks_y=32 "$@" || exit 1
clk=$(getconf CLK_TCK)
cpu_of() { awk '{print $14+$15}' "/proc/$server_pid/stat"; }
nice -n 10 "$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$seconds" > "$work/bot.out" 2> "$work/bot.err" &
bot=$!; other_pids=$bot
sleep $((seconds / 3)); t0=$(date +%s.%N); c0=$(cpu_of)
sleep $((seconds / 2)); t1=$(date +%s.%N); c1=$(cpu_of)
status=$(curl -sf "http://127.0.0.1:$http_port/api/world/status")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
wait $bot; other_pids=""
cpu=$(python3 -c "print(f'{100*($c1-$c0)/$clk/($t1-$t0):.0f}')")
echo "load: $bots bots, server CPU ${cpu}% of one core, RSS $((rss_kb / 1024)) MiB, status $status"
cat "$work/bot.out"
e2e_stop_server
