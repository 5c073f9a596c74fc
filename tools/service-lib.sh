# tools/service-lib.sh — what the throwaway test services (tools/service-{nats,redis,mariadb}.sh)
# share: free loopback ports and stopping a server by its pid file. Sourced, not run.

free_ports() {  # N free loopback TCP ports, on one line
  python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1",0)) for s in ss]; print(*[s.getsockname()[1] for s in ss])' "$1"
}

# kill_pid_file FILE SIGNAL: sends SIGNAL (KILL: an outage; TERM: a clean stop) to the pid in FILE,
# waits up to 10 s for it to go, SIGKILLs it if it has not, and removes FILE. Nothing to do without FILE.
kill_pid_file() {
  local f=$1 signal=$2 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill -"$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$f"
}
