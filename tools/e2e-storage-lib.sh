#!/usr/bin/env bash
# Shared by the storage end-to-end scripts (e2e-storage.sh, e2e-outage.sh): the server's storage
# options over the Redis and MariaDB that $services names (the CTest fixtures' state dir, or a
# script's own), a MariaDB client on the test's database, and the check that MariaDB holds, for
# every player, exactly the state the session log says it last left with. Sourced after e2e-lib.sh.
#   storage_init SERVICES_DIR   reads redis.env and mariadb.env; sets database, storage_args, and
#                               STRATA_STORAGE_MARIADB_PASSWORD (the server reads the password there)
#   sql QUERY                   runs QUERY on the test's database (tab-separated, no header)
#   drop_database               removes it (the EXIT trap's job)
#   log_saves OUT LOG...        strata-replay saves over LOG... (in the order they ran); each player's
#                               last leave goes to OUT; prints the summary; fails on a mismatch
#   db_equals_log PLAYERS       every row of the players table equals the player's last leave in
#                               PLAYERS (a log_saves OUT): its state byte for byte, its version's
#                               low half the leave's tick (or one more); no player missing, none extra
storage_init() {
  services=$1
  for f in redis mariadb; do
    [ -f "$services/$f.env" ] || { echo "no $services/$f.env: the $f service did not start"; return 1; }
    # shellcheck disable=SC1090
    source "$services/$f.env"
  done
  database="strata_e2e_$$"
  export STRATA_STORAGE_MARIADB_PASSWORD="$STRATA_MARIADB_PASSWORD"
  storage_args=(--set storage.redis.host="$STRATA_REDIS_HOST" --set storage.redis.port="$STRATA_REDIS_PORT"
    --set storage.redis.prefix="e2e$$:" --set storage.redis.timeout_ms=200
    --set storage.mariadb.host="$STRATA_MARIADB_HOST" --set storage.mariadb.port="$STRATA_MARIADB_PORT"
    --set storage.mariadb.user="$STRATA_MARIADB_USER" --set storage.mariadb.database="$database"
    --set storage.mariadb.create_database=true --set storage.positions_every_ticks=10)
}
sql() { mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
  -p"$STRATA_MARIADB_PASSWORD" -N -B "$database" -e "$1"; }
drop_database() { mariadb -h "$STRATA_MARIADB_HOST" -P "$STRATA_MARIADB_PORT" -u "$STRATA_MARIADB_USER" \
  -p"$STRATA_MARIADB_PASSWORD" -e "DROP DATABASE IF EXISTS $database" 2>/dev/null; }
log_saves() {
  local out=$1; shift
  "$bin/strata-replay" saves "$@" --players "$out"
}
db_equals_log() {
  sql "SELECT player, version, HEX(state) FROM players ORDER BY player" > "$work/db-players.tsv" || {
    echo "cannot read the players table"; return 1; }
  python3 - "$1" "$work/db-players.tsv" <<'PY'
import struct, sys
# The log's last leaves: "player=P log=L tick=T in_world=0 returns=R x=.. y=.. facing=.. stamina=.. health=.. items=a,b,.."
log = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split())
    items = tuple(int(n) for n in f["items"].split(","))
    log[int(f["player"])] = (int(f["tick"]), (int(f["x"]), int(f["y"]), int(f["facing"]), int(f["stamina"]),
                                              int(f["health"]), items), f["in_world"] == "1")
# A stored save (server/player_saves.h): format u8 (1) | x i32 | y i32 | facing u8 | stamina u16 |
# health u16 | item count u8 | count u16 per item, little-endian.
def decode(b):
    fmt, x, y, facing, stamina, health, n = struct.unpack_from("<BiiBHHB", b)
    assert fmt == 1 and len(b) == 15 + 2 * n, f"bad save bytes {b.hex()}"
    return (x, y, facing, stamina, health, struct.unpack_from(f"<{n}H", b, 15))
db = {}
for line in open(sys.argv[2]):
    player, version, state = line.split()
    db[int(player)] = (int(version), decode(bytes.fromhex(state)))
bad = []
for p, (tick, save, in_world) in sorted(log.items()):
    if in_world:
        bad.append(f"player {p} is in the world at the log's end: the log gives no final state")
    elif p not in db:
        bad.append(f"player {p} left at tick {tick} with {save}: no row in MariaDB (a save lost)")
    elif db[p][1] != save:
        bad.append(f"player {p} left at tick {tick} with {save}; MariaDB holds {db[p][1]} (version {db[p][0]:#x})")
    # Version: (session start << 32) | tick, or one above the player's last version when a
    # periodic save of the same tick came first (storage_service.h).
    elif not tick <= db[p][0] & 0xFFFFFFFF <= tick + 1:
        bad.append(f"player {p}: MariaDB's version {db[p][0]:#x} is not of its last leave's tick {tick}")
extra = sorted(set(db) - set(log))
if extra:
    bad.append(f"MariaDB holds players the log never saw: {extra}")
for b in bad[:20]:
    print("db vs log: " + b)
print(f"db vs log: {len(db)} rows in MariaDB, {len(log)} players in the log, {len(bad)} differences")
sys.exit(1 if bad else 0)
PY
}
