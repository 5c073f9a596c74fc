import http.client, threading, time, collections, sys
port = int(sys.argv[1]); seconds = float(sys.argv[2])
stop = time.time() + seconds; answers = collections.Counter(); lock = threading.Lock()
def flood(i):
    while time.time() < stop:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(f"127.0.1.{i+1}", 0))
            c.request("POST", "/api/login", body='{"name":"alice","password":"wrong"}'); r = c.getresponse(); r.read()
            with lock: answers[r.status] += 1
        except Exception as e:
            with lock: answers[type(e).__name__] += 1
ts = [threading.Thread(target=flood, args=(i,)) for i in range(48)]
[t.start() for t in ts]; [t.join() for t in ts]
print(dict(answers))
