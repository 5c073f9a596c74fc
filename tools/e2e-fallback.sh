#!/usr/bin/env bash
# End to end with real processes on loopback: the client SDK's UDP -> TCP fallback. strata-bot
# --udp-blocked drops every UDP datagram its bots send (as a firewall would), so each bot's UDP
# handshake times out; the bot then logs in again and connects over TCP to the server's TCP
# port (not the token's UDP address: the frames must be accepted from where they come from).
# Passes when every bot ends connected over TCP after falling back, with no checksum mismatch.
# Usage: e2e-fallback.sh BIN_DIR [BOTS] [SECONDS]
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"; bots=${2:-20}; seconds=${3:-15}
e2e_start_server || exit 1
"$bin/strata-bot" --http-port "$http_port" --bots "$bots" --seconds "$seconds" --udp-blocked > "$work/bot.out" 2> "$work/bot.err"
bot_status=$?
cat "$work/bot.out"
status=0
[ $bot_status = 0 ] || { echo "strata-bot failed ($bot_status)"; tail -5 "$work/bot.err"; status=1; }
grep -q "$bots connected ($bots over TCP, $bots fell back from UDP)" "$work/bot.out" || { echo "not every bot fell back to TCP"; status=1; }
e2e_stop_server || status=1
exit $status
