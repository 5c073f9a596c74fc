#!/usr/bin/env bash
# Authentication end to end with real processes and curl (issue 13): strata-server in static mode
# (an accounts file made with --hash-password) answers the right password 200 with a token and
# the wrong one 401 wrong_password; hostile bodies (quotes, NUL, 5,000 bytes, invalid UTF-8, emoji)
# get 400; an observer login is 403 on the public listener and without the admin token, 200 on the
# admin listener with it; the admin routes are not on the public listener; after a restart the
# same name gets the same player id. Then ticket mode: a ticket minted with --mint-ticket logs in
# once (200) and is refused when replayed (401 replayed_ticket), a forged one too. Dev mode on a
# non-loopback address refuses to start. Usage: e2e-auth.sh BIN_DIR
set -u
source "$(dirname "$0")/e2e-lib.sh"
e2e_init "$1"
status=0
# expect STATUS REASON PORT BODY [CURL ARGS...]: POST /api/login, check the status and reason code.
expect() {
  local want=$1 reason=$2 port=$3 body=$4; shift 4
  local got
  got=$(curl -s -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
    --data-binary "$body" "http://127.0.0.1:$port/api/login")
  if [ "$got" != "$want" ] || ! grep -q "$reason" "$work/answer"; then
    echo "FAIL: expected $want $reason, got $got: $(head -c 200 "$work/answer")"; status=1
  else
    echo "ok: $want $reason"
  fi
}
printf 'correct horse battery staple\n' | "$bin/strata-server" --hash-password alice > "$work/accounts" || exit 1
printf 'hunter2hunter2\n' | "$bin/strata-server" --hash-password bob >> "$work/accounts" || exit 1
static=(--set auth.mode=static --set auth.accounts_file="$work/accounts")
e2e_start_server "${static[@]}" || exit 1
admin=(-H "Authorization: Bearer $(cat "$admin_token_file")")
expect 200 '"player":1' "$http_port" '{"name":"alice","password":"correct horse battery staple"}'
expect 401 wrong_password "$http_port" '{"name":"alice","password":"Correct horse battery staple"}'
expect 401 wrong_password "$http_port" '{"name":"mallory","password":"correct horse battery staple"}'
expect 400 missing_credential "$http_port" '{"name":"alice"}'
expect 200 '"player":2' "$http_port" '{"name":"bob","password":"hunter2hunter2"}'
expect 200 '"player":1' "$http_port" '{"name":"alice","password":"correct horse battery staple"}'  # again: newer wins
expect 400 malformed "$http_port" '{"name":"al"ice","password":"x"}'
expect 400 malformed "$http_port" "$(printf '{"name":"al\\u0000ice","password":"x"}')"
expect 400 malformed "$http_port" "{\"name\":\"$(head -c 5000 /dev/zero | tr '\0' a)\",\"password\":\"x\"}"
expect 400 malformed "$http_port" "$(printf '{"name":"\xff\xfe","password":"x"}')"
expect 400 bad_name "$http_port" "$(printf '{"name":"\xf0\x9f\x98\x80","password":"x"}')"
expect 400 malformed "$http_port" 'name=alice'
expect 403 observer_admin_only "$http_port" '{"name":"watcher","role":"observer"}' "${admin[@]}"
expect 403 observer_needs_admin "$admin_port" '{"name":"watcher","role":"observer"}'
expect 403 observer_needs_admin "$admin_port" '{"name":"watcher","role":"observer"}' -H 'Authorization: Bearer wrong-token-wrong-token'
expect 200 '"player":3' "$admin_port" '{"name":"watcher","role":"observer"}' "${admin[@]}"
public=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/api/world/status")
[ "$public" = 404 ] || { echo "FAIL: the public listener answered /api/world/status with $public"; status=1; }
curl -sf "http://127.0.0.1:$admin_port/api/world/status" > "$work/status.json" || { echo "FAIL: no admin status"; status=1; }
python3 - "$work/status.json" <<'PY' || status=1
import json, sys
logins = json.load(open(sys.argv[1]))["logins"]
print("login counters:", {k: v for k, v in logins.items() if v})
want = {"ok": 4, "wrong_password": 2, "missing_credential": 1, "malformed": 5, "bad_name": 1,
        "observer_admin_only": 1, "observer_needs_admin": 2}
bad = {k: (logins.get(k), v) for k, v in want.items() if logins.get(k) != v}
if bad: print("FAIL: login counters (got, want):", bad); sys.exit(1)
PY
e2e_stop_server || status=1
# The ids are the registry's, not the arrival order's: bob first after the restart still gets 2.
e2e_start_server "${static[@]}" || exit 1
expect 200 '"player":2' "$http_port" '{"name":"bob","password":"hunter2hunter2"}'
expect 200 '"player":1' "$http_port" '{"name":"alice","password":"correct horse battery staple"}'
e2e_stop_server || status=1

# Ticket mode.
"$bin/strata-server" --new-ticket-key > "$work/ticket-key" || exit 1
tickets=(--set auth.mode=ticket --set auth.ticket_key_file="$work/ticket-key")
e2e_start_server "${tickets[@]}" || exit 1
ticket=$("$bin/strata-server" "${tickets[@]}" --mint-ticket carol --ticket-ttl 60) || { echo "FAIL: mint"; exit 1; }
expect 200 '"player":4' "$http_port" "{\"ticket\":\"$ticket\"}"
expect 401 replayed_ticket "$http_port" "{\"ticket\":\"$ticket\"}"
last=${ticket: -1}; [ "$last" = A ] && other=B || other=A  # one character changed: the MAC fails
expect 401 forged_ticket "$http_port" "{\"ticket\":\"${ticket%?}$other\"}"
expect 401 ticket_name_mismatch "$http_port" "{\"name\":\"alice\",\"ticket\":\"$("$bin/strata-server" "${tickets[@]}" --mint-ticket carol)\"}"
expect 401 ticket_too_long "$http_port" "{\"ticket\":\"$("$bin/strata-server" "${tickets[@]}" --mint-ticket dave --ticket-ttl 100000)\"}"
expect 400 missing_credential "$http_port" '{"name":"alice"}'
e2e_stop_server || status=1

# Dev mode (open logins) refuses to start off loopback.
if "$bin/strata-server" --set log.dir="$work/dev" --set net.bind=0.0.0.0 --run-for 1 > "$work/dev.log" 2>&1; then
  echo "FAIL: dev mode started on 0.0.0.0"; status=1
elif grep -q 'needs every listener on loopback' "$work/dev.log"; then
  echo "ok: dev mode refused on 0.0.0.0"
else
  echo "FAIL: dev mode on 0.0.0.0: $(cat "$work/dev.log")"; status=1
fi
[ $status = 0 ] && echo "e2e-auth: passed"
exit $status
