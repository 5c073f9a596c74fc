#!/usr/bin/env bash
# strata-bot ends at --seconds whatever its server does (issue 13): bots play, then the server is
# stopped dead (SIGSTOP: every connection is lost, and the HTTP logins the bots retry are accepted
# by the kernel and never answered). The bot process must still exit by itself soon after its
# --seconds (it used to wait forever in a login) and report the lost connections. The server is
# then resumed and stopped cleanly.
# Usage: e2e-bot-exit.sh BIN_DIR [BOT_BINARY]
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bot_bin=${2:-$bin/strata-bot}
seconds=16  # the server stalls from 3 s on: past the connections' 10 s timeout
grace=20  # seconds past --seconds before the bot counts as hung (a liveness bound, not a figure)
e2e_start_server || exit 1
"$bot_bin" --http-port "$http_port" --bots 20 --tcp 300 --seconds "$seconds" --login-timeout-ms 2000 \
  > "$work/bot.out" 2> "$work/bot.err" &
bot=$!; other_pids=$bot
sleep 3
kill -STOP "$server_pid"
status=0
for _ in $(seq $(((seconds + grace) * 10))); do kill -0 "$bot" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$bot" 2>/dev/null; then
  echo "strata-bot did not exit within ${grace} s of its --seconds ${seconds} once the server stalled"
  kill -9 "$bot"; status=1
fi
wait "$bot"; bot_status=$?; other_pids=""
kill -CONT "$server_pid"
cat "$work/bot.out"; tail -3 "$work/bot.err"
# Every bot lost its connection: the report must say so (and the exit status is not 0).
lost=$(sed -nE 's/^  lost connections: ([0-9]+);.*/\1/p' "$work/bot.out")
echo "strata-bot exited $bot_status; lost connections: ${lost:-none reported}"
[ "$status" = 0 ] && { [ -n "$lost" ] && [ "$lost" -ge 20 ] && [ "$bot_status" != 0 ]; } ||
  { echo "the lost connections were not reported"; status=1; }
e2e_stop_server || status=1
exit $status
