#!/usr/bin/env bash
# tools/proxy/check-proxy.sh PROXY_BINARY — strata-tcp-proxy does what the cluster tests rely on:
# bytes go through both ways unchanged; SIGUSR1 closes the connections it carries and refuses new
# ones; SIGUSR2 carries new ones again; --cut starts refusing; SIGTERM ends it with status 0 and
# its counters add up. An echo server in Python stands in for nats-server.
set -euo pipefail
exec python3 - "${1:?usage: check-proxy.sh PROXY_BINARY}" <<'PY'
import os, re, signal, socket, subprocess, sys, tempfile, threading

upstream = socket.socket()
upstream.bind(("127.0.0.1", 0))
upstream.listen(16)

def echo(connection):
    with connection:
        while data := connection.recv(65536):
            connection.sendall(data)

def serve():
    while True:
        connection, _ = upstream.accept()
        threading.Thread(target=echo, args=(connection,), daemon=True).start()

threading.Thread(target=serve, daemon=True).start()
failures = []
def check(condition, what):
    print(("ok:   " if condition else "FAIL: ") + what)
    if not condition:
        failures.append(what)

def start(*extra):
    port_file = os.path.join(tempfile.mkdtemp(), "port")
    proxy = subprocess.Popen([sys.argv[1], "--listen", "0", "--to", f"127.0.0.1:{upstream.getsockname()[1]}",
                              "--port-file", port_file, *extra], stdout=subprocess.PIPE, text=True)
    first = proxy.stdout.readline()
    port = int(open(port_file).read())
    check(f":{port} ->" in first, f"it prints its port ({first.strip()})")
    return proxy, port

def closed(connection):  # the proxy closed it: EOF or a reset, within 2 s
    connection.settimeout(2)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

def round_trip(port, size=300_000):
    data = os.urandom(size)
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(5)
    threading.Thread(target=connection.sendall, args=(data,), daemon=True).start()
    got = b""
    while len(got) < size and (chunk := connection.recv(65536)):
        got += chunk
    return connection, got == data

proxy, port = start()
carried, same = round_trip(port)
check(same, "300 kB go through and back unchanged")
proxy.send_signal(signal.SIGUSR1)
line = proxy.stdout.readline()
check("SIGUSR1: cut" in line and "closed by cut 1" in line, f"SIGUSR1 cuts ({line.strip()})")
check(closed(carried), "the connection it carried is closed by the cut")
check(closed(socket.create_connection(("127.0.0.1", port))), "a new connection is closed while cut")
proxy.send_signal(signal.SIGUSR2)
line = proxy.stdout.readline()
check("SIGUSR2: healed" in line and "refused while cut 1" in line, f"SIGUSR2 heals ({line.strip()})")
_, same = round_trip(port)
check(same, "bytes go through again after the heal")
proxy.send_signal(signal.SIGTERM)
line = proxy.stdout.readline()
check(re.search(r"accepted 2, .*bytes to upstream 600000, to clients 600000", line) is not None,
      f"the counters add up at the end ({line.strip()})")
check(proxy.wait(timeout=5) == 0, "SIGTERM ends it with status 0")

proxy, port = start("--cut")
check(closed(socket.create_connection(("127.0.0.1", port))), "--cut refuses from the start")
proxy.send_signal(signal.SIGUSR2)
proxy.stdout.readline()
_, same = round_trip(port, 1000)
check(same, "healed after --cut, it carries")
proxy.send_signal(signal.SIGTERM)
check(proxy.wait(timeout=5) == 0, "SIGTERM ends it")
sys.exit(1 if failures else 0)
PY
