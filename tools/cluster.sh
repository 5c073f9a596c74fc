#!/usr/bin/env bash
# tools/cluster.sh — a cluster of Strata regions over NATS JetStream on one box, one command each
# way (issue 15 item 6). Everything lives in one folder D (default /tmp/strata-cluster):
#   D/cluster.env            what `up` made (BIN, REGIONS, NATS, NATS_URLS, per-region ports); sourced
#   D/admin-token            the admin credential of every region (observers, admin routes)
#   D/region-R/strata.yaml   region R's config; D/region-R/data its log (log.dir); server.log, pid
#   D/nats/ or D/nats-cluster/  the nats-server(s) (tools/service-nats.sh); D/proxy-R/ a proxy
#
#   up [--regions N] [--nats single|cluster3] [--dir D] [--bin BIN_DIR] [--seed S] [--proxy R]...
#      [--set KEY=VALUE]...      nats-server -js (or a 3-node JetStream cluster, replicas 3), then N
#                                regions owning N vertical stripes of the map; waits for every /readyz
#                                and prints where each listens. --proxy R: region R reaches NATS
#                                through strata-tcp-proxy (see cut/heal). --set: to every region.
#   status [--dir D] [--json]    each region's GET /api/regions: the tick and map hash of its last
#                                health point, bus state, peers' lag and hash agreement; "converged"
#                                when every map hash is equal
#   wait-converged [--dir D] [--timeout S] [--stable S] [--agree]
#                                polls until every region reports one map hash, unchanged for
#                                --stable seconds (default 3): a quiet world (no bots, no random
#                                ticks); prints the time it took; fails at --timeout (default 60).
#                                --agree: until each region has agreed with each peer on a health
#                                point made after the call (same applied vector, same map hash),
#                                failing at once on a disagreement: while the world still changes
#   stream [--dir D] [--json]    the bus stream: messages, sequences, leader, count per subject
#   down [--dir D]               SIGTERM every region (SIGKILL after 30 s), the proxies, then nats
#   stop-region R [--kill] [--dir D]   SIGTERM (or SIGKILL) one region
#   start-region R [--dir D]     starts region R again from its config and data (its log recovers)
#   cut R | heal R [--dir D]     partitions region R from NATS / heals it (needs up --proxy R)
#   kill-nats K|leader [--dir D] SIGKILLs nats-server node K (1..3) of a cluster3 deployment, or
#                                the one leading the bus stream
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/service-lib.sh"

dir=/tmp/strata-cluster
regions=2
nats_mode=single
bin="$here/../build/release/bin"
seed=1
proxied=()
sets=()
json=false
agree=false
timeout_s=60
stable_s=3
kill_signal=TERM

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

load_env() {
  [ -f "$dir/cluster.env" ] || die "no cluster in $dir (tools/cluster.sh up --dir $dir first)"
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The value of one region's port from cluster.env: port R NAME (udp, tcp, http, admin, metrics).
port() {
  local var="R$1_${2^^}"
  echo "${!var}"
}

# Region R's strata.yaml: its id and ports, the shared world, the bus.
write_config() {
  local r=$1 url=$2 replicas=$3 chunks_x=$4
  local d="$dir/region-$r" stripes="" list="" i x0 x1
  for i in $(seq 0 $((regions - 1))); do
    x0=$((i * chunks_x / regions)); x1=$(((i + 1) * chunks_x / regions))
    stripes+="    - \"$x0,0,$((x1 - x0)),$chunks_y:$((i + 1))\""$'\n'
    list+="${list:+, }$((i + 1))"
  done
  cat > "$d/strata.yaml" <<EOF
# Region $r of $regions (tools/cluster.sh up). Every region shares the world (seed, size, region map).
region: $r
world:
  seed: $seed
  chunks_x: $chunks_x
  chunks_y: $chunks_y
  region_map:
$stripes
log:
  dir: $d/data
net:
  udp_port: $(port "$r" udp)
  tcp_port: $(port "$r" tcp)
  max_clients: 2000
http:
  port: $(port "$r" http)
admin:
  port: $(port "$r" admin)
metrics:
  port: $(port "$r" metrics)
auth:
  admin_token_file: $dir/admin-token
  attempts_per_address_per_s: 100000
  attempts_burst_per_address: 100000
  dev_new_names_per_address_per_min: 20000
bus:
  url: "$url"
  regions: [$list]
  replicas: $replicas
EOF
}

# Starts region R from its config (and the --set overrides `up` kept), waits for /readyz.
start_region() {
  local r=$1 d="$dir/region-$1" extra=()
  alive "$d/pid" && die "region $r is already running (pid $(cat "$d/pid"))"
  [ -f "$d/sets" ] && mapfile -t extra < "$d/sets"
  local args=(-c "$d/strata.yaml")
  for s in "${extra[@]}"; do [ -z "$s" ] || args+=(--set "$s"); done
  # Its own session: a Ctrl-C meant for a later command in this terminal does not reach it.
  # Without this shell's STRATA_* variables: the server reads each as a key (and refuses unknown
  # ones); the region's config is its file and the --set of `up`.
  local unset=()
  for v in $(compgen -e | grep '^STRATA_' || true); do unset+=(-u "$v"); done
  setsid env "${unset[@]}" "$BIN/strata-server" "${args[@]}" >> "$d/server.log" 2>&1 < /dev/null &
  echo $! > "$d/pid"
  local http_port
  http_port=$(port "$r" http)
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$http_port/readyz" > /dev/null 2>&1 && return 0
    alive "$d/pid" || break
    sleep 0.1
  done
  echo "cluster.sh: region $r did not become ready in 30 s; the end of $d/server.log:" >&2
  tail -30 "$d/server.log" >&2 || true
  return 1
}

# SIGTERM (or the given signal) to region R; waits up to 30 s, then SIGKILL. Prints what happened.
stop_region() {
  local r=$1 signal=${2:-TERM} d="$dir/region-$1" pid
  if ! alive "$d/pid"; then
    rm -f "$d/pid"
    echo "region $r: not running"
    return 0
  fi
  pid=$(cat "$d/pid")
  kill -"$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    echo "region $r: did not stop in 30 s on SIG$signal: SIGKILLed (pid $pid)"
    rm -f "$d/pid"
    return 1
  fi
  rm -f "$d/pid"
  echo "region $r: stopped (SIG$signal, pid $pid); last log line: $(tail -1 "$d/server.log" 2>/dev/null)"
}

# A proxy in front of the first nats-server for region R; prints its URL.
start_proxy() {
  local r=$1 upstream=$2 d="$dir/proxy-$1"
  mkdir -p "$d"
  rm -f "$d/port"
  setsid "$BIN/strata-tcp-proxy" --listen 0 --to "$upstream" --port-file "$d/port" >> "$d/proxy.log" 2>&1 < /dev/null &
  echo $! > "$d/pid"
  for _ in $(seq 100); do
    [ -s "$d/port" ] && { echo "nats://127.0.0.1:$(cat "$d/port")"; return 0; }
    alive "$d/pid" || break
    sleep 0.05
  done
  cat "$d/proxy.log" >&2
  return 1
}

print_table() {
  local r
  printf '%-7s %-9s %-9s %-11s %-7s %-8s %-8s %s\n' region "game UDP" "game TCP" "HTTP login" admin metrics pid "log dir"
  for r in $(seq 1 "$REGIONS"); do
    printf '%-7s %-9s %-9s %-11s %-7s %-8s %-8s %s\n' "$r" "$(port "$r" udp)" "$(port "$r" tcp)" "$(port "$r" http)" \
      "$(port "$r" admin)" "$(port "$r" metrics)" "$(cat "$dir/region-$r/pid" 2>/dev/null || echo -)" "$dir/region-$r/data"
  done
  echo "nats ($NATS): $NATS_URLS"
  for r in $PROXIED; do
    echo "region $r reaches nats through strata-tcp-proxy $(cat "$dir/proxy-$r/port"):" \
      "tools/cluster.sh cut $r --dir $dir / heal $r --dir $dir"
  done
  echo "admin token: $dir/admin-token; configs: $dir/region-*/strata.yaml; server logs: $dir/region-*/server.log"
}

cmd_up() {
  [ "$regions" -ge 1 ] && [ "$regions" -le 16 ] || die "--regions must be 1..16"
  case "$nats_mode" in single | cluster3) ;; *) die "--nats is single or cluster3" ;; esac
  [ -x "$bin/strata-server" ] || die "no $bin/strata-server (build it, or pass --bin)"
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    [ -f "$dir/cluster.env" ] || die "$dir is not empty and holds no cluster: pick another --dir"
    for p in "$dir"/region-*/pid "$dir"/proxy-*/pid "$dir"/nats/pid "$dir"/nats-cluster/n*/pid; do
      alive "$p" && die "a cluster is running in $dir (tools/cluster.sh down --dir $dir)"
    done
    rm -rf "$dir"  # the leftovers of a stopped cluster: its logs belong to a stream that is gone
  fi
  mkdir -p "$dir"
  bin=$(cd "$bin" && pwd)
  chunks_x=8; chunks_y=8
  for s in "${sets[@]}"; do
    case "$s" in world.chunks_x=*) chunks_x=${s#*=} ;; world.chunks_y=*) chunks_y=${s#*=} ;; esac
  done
  [ "$chunks_x" -ge "$regions" ] || die "world.chunks_x ($chunks_x) must be at least --regions ($regions)"
  python3 -c 'import secrets; print(secrets.token_hex(24))' > "$dir/admin-token"

  trap 'echo "cluster.sh: up failed; stopping what started" >&2; cmd_down > /dev/null 2>&1 || true' ERR
  local replicas=1 first
  if [ "$nats_mode" = single ]; then
    "$here/service-nats.sh" start "$dir"
    source "$dir/nats.env"
    NATS_URLS=$STRATA_NATS_URL
  else
    "$here/service-nats.sh" start-cluster "$dir"
    source "$dir/nats-cluster.env"
    NATS_URLS=$STRATA_NATS_CLUSTER_URLS
    replicas=3
  fi
  first=${NATS_URLS%%,*}
  {
    echo "BIN=$bin"; echo "REGIONS=$regions"; echo "NATS=$nats_mode"; echo "NATS_URLS=$NATS_URLS"
    echo "PROXIED=\"${proxied[*]}\""
    for r in $(seq 1 "$regions"); do
      read -r tcp http admin metrics < <(free_ports 4)
      echo "R${r}_UDP=$(free_udp_port)"; echo "R${r}_TCP=$tcp"; echo "R${r}_HTTP=$http"
      echo "R${r}_ADMIN=$admin"; echo "R${r}_METRICS=$metrics"
    done
  } > "$dir/cluster.env"
  load_env
  for r in $(seq 1 "$regions"); do
    mkdir -p "$dir/region-$r"
    local url=$NATS_URLS
    if [[ " ${proxied[*]} " == *" $r "* ]]; then url=$(start_proxy "$r" "${first#nats://}"); fi
    write_config "$r" "$url" "$replicas" "$chunks_x"
    : > "$dir/region-$r/sets"
    [ ${#sets[@]} = 0 ] || printf '%s\n' "${sets[@]}" > "$dir/region-$r/sets"
  done
  for r in $(seq 1 "$regions"); do start_region "$r"; done
  trap - ERR
  print_table
}

cmd_down() {
  load_env
  local r status=0 pids=()
  # All at once: each clean stop ends on a snapshot and takes a moment.
  for r in $(seq 1 "$REGIONS"); do
    stop_region "$r" TERM > "$dir/region-$r/stop.out" &
    pids+=($!)
  done
  for r in $(seq 1 "$REGIONS"); do
    wait "${pids[r - 1]}" || status=1
    cat "$dir/region-$r/stop.out"
  done
  for r in $PROXIED; do kill_pid_file "$dir/proxy-$r/pid" TERM; echo "proxy of region $r: stopped"; done
  if [ "$NATS" = single ]; then "$here/service-nats.sh" stop "$dir"; else "$here/service-nats.sh" stop-cluster "$dir"; fi
  echo "nats ($NATS): stopped. Logs and session logs kept in $dir (strata-replay verify $dir/region-R/data/session-log)"
  return $status
}

# Region R's admin port for each region, in order: the argument list of regions.py.
admin_ports() {
  local r
  for r in $(seq 1 "$REGIONS"); do port "$r" admin; done
}

# status, status --json and wait-converged: one Python poller over every region's /api/regions
# (a region that does not answer is {"region": R, "down": true}).
regions_py() {
  python3 - "$1" "$dir/admin-token" "$timeout_s" "$stable_s" $(admin_ports) <<'PY'
import json, sys, time, urllib.request
mode, token_file, timeout_s, stable_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
ports = [int(p) for p in sys.argv[5:]]
token = open(token_file).read().strip()

def poll():
    out = []
    for region, port in enumerate(ports, 1):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/regions",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                out.append(json.load(answer))
        except Exception:
            out.append({"region": region, "down": True})
    return out

def one_hash(rs):
    hashes = {r.get("map_hash") for r in rs}
    return hashes.pop() if len(hashes) == 1 and not any(r.get("down") for r in rs) else None

def table(rs):
    # tick, map hash: the region's last health point (published once its own batches up to it are acked)
    print(f"{'region':<7} {'tick':<9} {'map hash':<17} {'bus':<13} peers (region: last seq, lag, agreement)")
    for r in rs:
        if r.get("down"):
            print(f"{r['region']:<7} down")
            continue
        peers = ", ".join(f"{p.get('region')}: {p.get('last_seq')}, lag {p.get('lag')}, {p.get('agreement')}"
                          for p in r.get("peers", []))
        bus = r.get("bus", {}).get("state", "?")
        print(f"{r['region']:<7} {r.get('tick', '?'):<9} {r.get('map_hash', '?'):<17} {bus:<13} {peers}")
    up = [r for r in rs if not r.get("down")]
    if one_hash(rs):
        print("converged: one map hash")
    else:
        print(f"not converged: {len({r.get('map_hash') for r in up})} map hashes over {len(up)}/{len(rs)} regions up "
              f"(as long as the world changes; agreement compares health points at one applied vector)")

if mode == "json":
    print(json.dumps(poll(), indent=1))
elif mode == "table":
    table(poll())
elif mode == "agree":  # each region agrees with each peer on a health point made after the start
    start = time.monotonic()
    base = {r["region"]: r.get("tick", 0) for r in poll()}
    agreed = set()  # (region, peer) pairs seen agreeing on a fresh point
    while True:
        rs = poll()
        now = time.monotonic()
        pairs = {(r["region"], p["region"]) for r in rs if not r.get("down") for p in r.get("peers", [])}
        for r in rs:
            for p in r.get("peers", []) if not r.get("down") else []:
                if p["agreement"] == "disagree":
                    print(f"cluster.sh: region {r['region']} disagrees with region {p['region']} (desync)",
                          file=sys.stderr)
                    table(rs)
                    sys.exit(1)
                if p["agreement"] == "agree" and p["health_tick"] >= base.get(p["region"], 0):
                    agreed.add((r["region"], p["region"]))
        if len(rs) == len(base) and not any(r.get("down") for r in rs) and pairs and pairs <= agreed:
            print(f"converged: every region agreed with every peer (same applied vector, same map hash) "
                  f"{now - start:.2f} s after the start")
            sys.exit(0)
        if now - start >= timeout_s:
            missing = sorted(pairs - agreed)
            print(f"cluster.sh: after {timeout_s:.0f} s, these regions never agreed with these peers on a fresh "
                  f"health point: {missing}", file=sys.stderr)
            table(rs)
            sys.exit(1)
        time.sleep(0.2)
else:  # wait: one hash in every region, the same for stable_s
    start = time.monotonic()
    since, last = None, None
    while True:
        rs = poll()
        now = time.monotonic()
        h = one_hash(rs)
        if h is None or h != last:
            since = now if h else None
        last = h
        if h and now - since >= stable_s:
            print(f"converged: map hash {h} in every region after {since - start:.2f} s (stable {now - since:.1f} s)")
            sys.exit(0)
        if now - start >= timeout_s:
            print(f"cluster.sh: not converged after {timeout_s:.0f} s", file=sys.stderr)
            table(rs)
            sys.exit(1)
        time.sleep(0.1)
PY
}

cmd_status() {
  load_env
  if $json; then regions_py json; else regions_py table; fi
}

cmd_wait_converged() {
  load_env
  if $agree; then regions_py agree; else regions_py wait; fi
}

# The bus stream's name (bus.stream, unless a --set of `up` changed it).
stream_name() {
  local stream=GLOBAL_EVENTS s
  while read -r s; do [[ "$s" == bus.stream=* ]] && stream=${s#*=}; done < "$dir/region-1/sets"
  echo "$stream"
}

# $JS.API.STREAM.INFO of the bus stream with its per-subject counts, from the first nats-server that
# answers, as JSON (over NATS's text protocol: no NATS client is linked into a script).
stream_info() {
  python3 - "$(stream_name)" ${NATS_URLS//,/ } <<'PY'
import json, socket, sys
stream = sys.argv[1]
request = json.dumps({"subjects_filter": ">"}).encode()
for url in sys.argv[2:]:
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=3) as s:
            f = s.makefile("rb")
            f.readline()  # INFO
            s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.strata_cluster 1\r\n'
                      b"PUB $JS.API.STREAM.INFO.%s _INBOX.strata_cluster %d\r\n%s\r\n"
                      % (stream.encode(), len(request), request))
            while line := f.readline():
                if line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG"):
                    info = json.loads(f.read(int(line.split()[-1]) + 2))
                    if "error" not in info:
                        print(json.dumps(info))
                        sys.exit(0)
                    break
    except OSError:
        continue
sys.exit(1)
PY
}

# The node (1..3) leading the bus stream (tools/service-nats.sh names them strata-n1..3).
stream_leader() {
  stream_info | python3 -c 'import json, sys; l = json.load(sys.stdin).get("cluster", {}).get("leader", ""); print(l.removeprefix("strata-n")) if l.startswith("strata-n") else sys.exit(1)'
}

cmd_stream() {
  load_env
  local info
  info=$(stream_info) || die "no nats-server answered for the stream $(stream_name)"
  if $json; then echo "$info"; return 0; fi
  python3 - "$info" <<'PY'
import json, sys
info = json.loads(sys.argv[1])
state, config = info["state"], info["config"]
leader = info.get("cluster", {}).get("leader", "-")
print(f"stream {config['name']}: {state['messages']} messages, {state['bytes']} bytes, "
      f"seq {state['first_seq']}..{state['last_seq']}, replicas {config['num_replicas']}, leader {leader}")
for subject, count in sorted(state.get("subjects", {}).items()):
    print(f"  {subject}: {count}")
PY
}

cmd_cut_heal() {
  local r=$1 signal=$2
  load_env
  [[ " $PROXIED " == *" $r "* ]] || die "region $r has no proxy (up --proxy $r)"
  alive "$dir/proxy-$r/pid" || die "the proxy of region $r is not running"
  kill -"$signal" "$(cat "$dir/proxy-$r/pid")"
}

sub=${1:-}
[ -n "$sub" ] || die "usage: tools/cluster.sh up|status|wait-converged|down|stop-region|start-region|cut|heal|kill-nats (see the top of the file)"
shift
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --regions) regions=$2; shift 2 ;;
    --nats) nats_mode=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --proxy) proxied+=("$2"); shift 2 ;;
    --set) sets+=("$2"); shift 2 ;;
    --json) json=true; shift ;;
    --agree) agree=true; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --stable) stable_s=$2; shift 2 ;;
    --kill) kill_signal=KILL; shift ;;
    --*) die "unknown option $1" ;;
    *) positional+=("$1"); shift ;;
  esac
done
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")

case "$sub" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  wait-converged) cmd_wait_converged ;;
  stream) cmd_stream ;;
  stop-region) load_env; stop_region "${positional[0]:?region}" "$kill_signal" ;;
  start-region) load_env; start_region "${positional[0]:?region}" && echo "region ${positional[0]}: ready (pid $(cat "$dir/region-${positional[0]}/pid"))" ;;
  cut) cmd_cut_heal "${positional[0]:?region}" USR1; echo "region ${positional[0]}: cut from nats" ;;
  heal) cmd_cut_heal "${positional[0]:?region}" USR2; echo "region ${positional[0]}: healed" ;;
  kill-nats)
    load_env
    [ "$NATS" = cluster3 ] || die "kill-nats needs a cluster3 deployment"
    k=${positional[0]:?node 1..3 or leader}
    if [ "$k" = leader ]; then
      k=$(stream_leader) || die "no node names a leader of the stream"
      echo "the stream's leader is nats-server n$k"
    fi
    kill_pid_file "$dir/nats-cluster/n$k/pid" KILL
    echo "nats-server n$k: SIGKILLed"
    ;;
  *) die "unknown command $sub" ;;
esac
