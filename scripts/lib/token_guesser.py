"""An attacker for scripts/bench: CONNECTIONS keep-alive connections send
token requests with a wrong secret for a known client id, RATE attempts a
second in all, for SECONDS; prints the count of each status seen.

Usage: token_guesser.py HOST PORT CLIENT_ID CONNECTIONS RATE SECONDS
A fixed rate, not a closed loop: a closed loop on the same two cores would
measure the load generator's CPU against the service's, not the service's
defence. Bounded in count and time; loopback only.
"""

import base64
import collections
import http.client
import sys
import threading
import time

host, port, client_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
connections, rate, seconds = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
if host not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("token_guesser only targets loopback")

statuses = collections.Counter()
lock = threading.Lock()
deadline = time.monotonic() + seconds


def attacker(index):
    interval = connections / rate
    conn = http.client.HTTPConnection(host, port, timeout=5)
    next_at = time.monotonic() + index * interval / connections
    attempt = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if next_at > now:
            time.sleep(next_at - now)
        next_at += interval
        attempt += 1
        secret = f"atn_guess_{index}_{attempt}"
        auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        try:
            conn.request("POST", "/v1/oauth/token", body="grant_type=client_credentials",
                         headers={"Authorization": "Basic " + auth,
                                  "Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=5)
            status = "error"
        with lock:
            statuses[status] += 1


threads = [threading.Thread(target=attacker, args=(i,)) for i in range(connections)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(" ".join(f"{status}={count}" for status, count in sorted(statuses.items(), key=str)))
