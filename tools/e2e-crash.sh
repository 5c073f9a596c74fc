#!/usr/bin/env bash
# Crash recovery end to end: strata-server with N bots, SIGKILLed mid-run and restarted on the same
# log and ports; the bots notice, log in again and play on. Passes when the restarted server
# recovered the log, the bots saw no checksum mismatch and are all connected at the end, and the
# whole log (before and after the crash) verifies bit-exact. The bots use a UDP socket each here
# (--socket-per-bot; e2e-bots.sh covers the default shared socket). Usage: e2e-crash.sh BIN_DIR [BOTS]
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bots=${2:-50}
e2e_start_server --set log.snapshot_every_ticks=100 || exit 1
"$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds 32 --socket-per-bot > "$work/bot.out" 2> "$work/bot.err" &
bot_pid=$!; other_pids=$bot_pid
sleep 8
before=$(curl -sf "http://127.0.0.1:$admin_port/api/world/status")
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null; server_pid=""
echo "killed the server (SIGKILL) at: $before"
sleep 1
e2e_start_server --set log.snapshot_every_ticks=100 || exit 1
grep -E 'recovered the session log' "$work/server.log" || { echo "the restart did not recover the log"; exit 1; }
wait "$bot_pid"; bot_status=$?; other_pids=""
cat "$work/bot.out"
status=0
[ $bot_status = 0 ] || { echo "strata-bot failed ($bot_status)"; tail -5 "$work/bot.err"; status=1; }
e2e_stop_server || status=1
tail -1 "$work/server.log"
"$bin/strata-replay" verify "$work/data/session-log" || { echo "the combined log does not verify"; status=1; }
exit $status
