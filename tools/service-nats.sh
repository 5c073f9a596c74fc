#!/usr/bin/env bash
# tools/service-nats.sh start|stop|start-cluster|stop-cluster STATE_DIR — throwaway nats-servers with
# JetStream for the test suite (CTest fixtures: services.nats.* and services.nats_cluster.*).
# start picks a free loopback port, keeps the store, log and pid under STATE_DIR/nats, waits until
# the server accepts connections (printing its log and failing after 15 s otherwise) and writes
# STATE_DIR/nats.env:
#   STRATA_NATS_URL=nats://127.0.0.1:PORT
#   STRATA_NATS_PORT=PORT
# start-cluster does the same for a 3-node JetStream cluster (distinct server names, store dirs,
# client and cluster ports, full routes) under STATE_DIR/nats-cluster and writes
# STATE_DIR/nats-cluster.env:
#   STRATA_NATS_CLUSTER_URLS=nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3
#   STRATA_NATS_CLUSTER_PIDS=PID1,PID2,PID3   (a test may kill one)
# stop / stop-cluster kill the servers (SIGTERM, then SIGKILL) and remove their folder and .env,
# also after a failed run. STATE_DIR itself is the caller's.
set -euo pipefail
cmd=${1:?usage: service-nats.sh start|stop|start-cluster|stop-cluster STATE_DIR}
state=${2:?usage: service-nats.sh start|stop|start-cluster|stop-cluster STATE_DIR}
dir="$state/nats"
cluster="$state/nats-cluster"

source "$(dirname "$0")/service-lib.sh"

stop() {
  kill_pid_file "$dir/pid" TERM
  rm -rf "$dir" "$state/nats.env"
}

stop_cluster() {
  for n in 1 2 3; do kill_pid_file "$cluster/n$n/pid" TERM; done
  rm -rf "$cluster" "$state/nats-cluster.env"
}

# Waits until the server whose log and port are given is ready; false if it died or took 15 s.
wait_ready() {
  local log=$1 port=$2 pid=$3
  for _ in $(seq 150); do
    if grep -q "Server is ready" "$log" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

case "$cmd" in
  start)
    stop
    mkdir -p "$dir/store"
    port=$(free_ports 1)
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$dir/store" -n "strata-test-$port" > "$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    if wait_ready "$dir/server.log" "$port" "$(cat "$dir/pid")"; then
      printf 'STRATA_NATS_URL=nats://127.0.0.1:%s\nSTRATA_NATS_PORT=%s\n' "$port" "$port" > "$state/nats.env"
      echo "nats-server -js on 127.0.0.1:$port (pid $(cat "$dir/pid"), store $dir/store)"
      exit 0
    fi
    echo "service-nats: nats-server did not become ready; its log:" >&2
    cat "$dir/server.log" >&2 || true
    stop
    exit 1
    ;;
  start-cluster)
    stop_cluster
    read -r p1 p2 p3 c1 c2 c3 < <(free_ports 6)
    ports=("$p1" "$p2" "$p3"); routes=("$c1" "$c2" "$c3")
    all_routes="nats://127.0.0.1:$c1,nats://127.0.0.1:$c2,nats://127.0.0.1:$c3"
    for n in 1 2 3; do
      d="$cluster/n$n"; mkdir -p "$d/store"
      nats-server -js -a 127.0.0.1 -p "${ports[n-1]}" -sd "$d/store" -n "strata-n$n" --cluster_name strata-test \
        --cluster "nats://127.0.0.1:${routes[n-1]}" --routes "$all_routes" > "$d/server.log" 2>&1 &
      echo $! > "$d/pid"
    done
    for n in 1 2 3; do
      d="$cluster/n$n"
      if ! wait_ready "$d/server.log" "${ports[n-1]}" "$(cat "$d/pid")"; then
        echo "service-nats: cluster node n$n did not become ready; its log:" >&2
        cat "$d/server.log" >&2 || true
        stop_cluster
        exit 1
      fi
    done
    {
      echo "STRATA_NATS_CLUSTER_URLS=nats://127.0.0.1:$p1,nats://127.0.0.1:$p2,nats://127.0.0.1:$p3"
      echo "STRATA_NATS_CLUSTER_PIDS=$(cat "$cluster/n1/pid"),$(cat "$cluster/n2/pid"),$(cat "$cluster/n3/pid")"
    } > "$state/nats-cluster.env"
    echo "nats-server -js cluster on 127.0.0.1:$p1,$p2,$p3 (routes $c1,$c2,$c3, stores under $cluster)"
    ;;
  stop-cluster) stop_cluster ;;
  stop) stop ;;
  *) echo "usage: service-nats.sh start|stop|start-cluster|stop-cluster STATE_DIR" >&2; exit 2 ;;
esac
