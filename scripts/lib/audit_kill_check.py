"""Read audits survive a killed process: every 2xx a caller saw has its entry.

Starts `attune serve`, creates a few clients, then runs a closed-loop load of
GET /v1/clients/{id} (and GET /v1/clients searches) from several threads,
each request with its own X-Request-Id. Part-way through, the service is
killed with SIGKILL. Afterwards every request id that was answered 2xx must
have its entry in the audit trail (read straight from the database with
psql), and the chain must still verify once a new instance is up.

Usage: audit_kill_check.py BINARY DATABASE_URL PSQL WORK_DIR (after `attune migrate`).
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

binary, database_url, psql, work = sys.argv[1:5]
jwt_secret = secrets.token_hex(32)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(log_name):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, ATTUNE_BIND=f"127.0.0.1:{port}",
               ATTUNE_JWT_SECRET=jwt_secret, ATTUNE_METRICS_BIND="127.0.0.1:0", RUST_LOG="warn",
               ATTUNE_WORKERS="2")
    log = open(os.path.join(work, log_name), "w")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=1)
            return process, base
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise SystemExit(f"the service did not start; see {log_name}")


def request(base, method, path, token=None, body=None, request_id=None, form=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if request_id:
        headers["X-Request-Id"] = request_id
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = form.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as response:
        return response.status, json.loads(response.read() or b"null")


def sql(query):
    return subprocess.run([psql, database_url, "-qtAX", "-c", query], check=True, capture_output=True,
                          text=True).stdout.split()


creds = json.loads(subprocess.run([binary, "bootstrap", "--practice", "Audit kill", "--json"],
                                  env=dict(os.environ, DATABASE_URL=database_url), check=True,
                                  capture_output=True, text=True).stdout)
service, base = start("service.log")
import base64  # noqa: E402  (only the token request needs it)
basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
token_request = urllib.request.Request(f"{base}/v1/oauth/token", data=b"grant_type=client_credentials",
                                       headers={"Authorization": f"Basic {basic}",
                                                "Content-Type": "application/x-www-form-urlencoded"})
token = json.loads(urllib.request.urlopen(token_request, timeout=5).read())["access_token"]
clients = [request(base, "POST", "/v1/clients", token, {"display_name": f"K{n}"})[1]["id"] for n in range(8)]

answered = []  # request ids answered 2xx
lock = threading.Lock()
stop = threading.Event()


def load(worker):
    n = 0
    while not stop.is_set():
        n += 1
        request_id = f"kill-{worker}-{n}"
        path = f"/v1/clients/{clients[n % len(clients)]}" if n % 5 else "/v1/clients?status=active&limit=5"
        try:
            status, _ = request(base, "GET", path, token, request_id=request_id)
        except (urllib.error.URLError, ConnectionError, OSError):
            continue  # no answer (or a 503 while going down): nothing was promised
        if 200 <= status < 300:
            with lock:
                answered.append(request_id)


threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
for thread in threads:
    thread.start()
time.sleep(2.0)
service.send_signal(signal.SIGKILL)
service.wait()
stop.set()
for thread in threads:
    thread.join()

recorded = set(sql("SELECT request_id FROM audit_events WHERE request_id LIKE 'kill-%'"))
missing = [r for r in answered if r not in recorded]
print(f"answered 2xx before the kill: {len(answered)}; with their audit entry: {len(answered) - len(missing)}; "
      f"missing: {len(missing)}; entries without a 2xx seen (answer lost in the kill): "
      f"{len(recorded - set(answered))}")
if not answered:
    raise SystemExit("the load saw no answer: nothing was checked")
if missing:
    raise SystemExit(f"2xx answers without their audit entry: {missing[:10]}")

# The chain the killed process was writing is whole.
service, base = start("service-after.log")
try:
    status, walk = request(base, "GET", "/v1/audit-events/verify", token)
    print(f"chain after the kill: {walk}")
    if status != 200 or not walk["ok"] or walk["checked"] < len(answered):
        raise SystemExit(f"the chain does not verify after the kill: {walk}")
finally:
    service.terminate()
    service.wait()
