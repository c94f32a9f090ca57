"""Webhook delivery against real processes, checked by the Standard Webhooks
reference library (the `standardwebhooks` package), which no one here wrote.

A receiver in this process verifies every delivery's signature. Against it:
  1. two `attune serve` instances on one database, both dispatching, while
     clients are created through both: every event arrives exactly once;
  2. both instances killed (SIGKILL) in the middle of deliveries, then an
     API instance that does not dispatch and an `attune worker` started:
     every event arrives at least once, none is lost;
  3. the worker stopped with SIGTERM in the middle of deliveries and a new
     one started: the round under way finishes, so nothing arrives twice.

Usage: webhook_check.py BINARY DATABASE_URL WORK_DIR (after `attune migrate`).
"""

import base64
import http.server
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
from concurrent.futures import ThreadPoolExecutor

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from attune_http import request as http_request
from attune_http import wait_ready

binary, database_url, work = sys.argv[1], sys.argv[2], sys.argv[3]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.verifier = None
        self.delay = 0.0
        self.received = []  # (webhook-id, event type)
        self.invalid = 0

    def ids(self, wanted=None):
        with self.lock:
            return [i for i, _ in self.received if wanted is None or i in wanted]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        server = self.server
        try:
            event = server.verifier.verify(body, dict(self.headers.items()))
            with server.lock:
                server.received.append((self.headers["webhook-id"], event["type"]))
        except (WebhookVerificationError, AttributeError, KeyError) as err:
            with server.lock:
                server.invalid += 1
            print(f"receiver: refused a delivery: {err!r}", file=sys.stderr)
        if server.delay:
            time.sleep(server.delay)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


jwt_secret = secrets.token_hex(32)
webhook_key = secrets.token_hex(32)
processes = []


def start(command, port=None, dispatch=True):
    env = dict(os.environ, DATABASE_URL=database_url, ATTUNE_JWT_SECRET=jwt_secret, ATTUNE_WEBHOOK_KEY=webhook_key,
               ATTUNE_WEBHOOK_ALLOW_LOOPBACK="true", ATTUNE_WEBHOOK_POLL_MS="100", ATTUNE_WEBHOOK_TIMEOUT_MS="2000",
               ATTUNE_WEBHOOK_DISPATCH="true" if dispatch else "false", ATTUNE_SKIP_MIGRATIONS="true",
               ATTUNE_TOKEN_LIFETIME_SECONDS="3600", ATTUNE_METRICS_BIND="127.0.0.1:0", RUST_LOG="warn")
    if port:
        env["ATTUNE_BIND"] = f"127.0.0.1:{port}"
    log = open(os.path.join(work, f"{command}-{len(processes)}.log"), "w")
    process = subprocess.Popen([binary, command], env=env, stdout=log, stderr=subprocess.STDOUT)
    processes.append(process)
    if port and not wait_ready(f"http://127.0.0.1:{port}"):
        sys.exit(f"attune {command} on port {port} did not become ready")
    return process


def call(port, method, path, body=None, token=None, form=None, basic=None):
    request = http_request(f"http://127.0.0.1:{port}{path}", method, body, token, form, basic)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def created_event_ids(port, token):
    ids, after = set(), 0
    while True:
        page = call(port, "GET", f"/v1/events?type=client.created&limit=200&after={after}", token=token)
        ids.update(e["id"] for e in page["data"])
        after = page["next_after"]
        if not page["has_more"]:
            return ids


def create_clients(ports, token, count, tag):
    def one(n):
        call(ports[n % len(ports)], "POST", "/v1/clients", {"display_name": f"{tag} {n}"}, token=token)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def wait_for(receiver, wanted, timeout, label):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted <= set(receiver.ids(wanted)):
            return
        time.sleep(0.05)
    missing = len(wanted - set(receiver.ids(wanted)))
    sys.exit(f"FAIL {label}: {missing} of {len(wanted)} events never arrived")


def main():
    creds = json.loads(subprocess.check_output([binary, "bootstrap", "--practice", "Webhooks", "--json"],
                                               env=dict(os.environ, DATABASE_URL=database_url)))
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"

    port_a, port_b = free_port(), free_port()
    a, b = start("serve", port_a), start("serve", port_b)
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    token = call(port_a, "POST", "/v1/oauth/token", form="grant_type=client_credentials", basic=basic)["access_token"]
    endpoint = call(port_a, "POST", "/v1/webhook-endpoints", {"url": url, "event_types": ["client.created"]}, token=token)
    receiver.verifier = Webhook(endpoint["secret"])
    failures = []

    # 1. Two instances, nothing crashes: exactly once.
    create_clients([port_a, port_b], token, 200, "Both")
    first = created_event_ids(port_a, token)
    wait_for(receiver, first, 60, "two instances")
    time.sleep(1)
    got = receiver.ids(first)
    duplicates = len(got) - len(set(got))
    print(f"two instances: {len(first)} events, {len(got)} deliveries, {duplicates} duplicates, "
          f"{receiver.invalid} bad signatures")
    if duplicates or receiver.invalid:
        failures.append("two instances delivered an event twice or signed one wrongly")

    # 2. Both killed mid-delivery; an API instance without the dispatcher and a worker take over.
    receiver.delay = 0.02
    create_clients([port_a, port_b], token, 200, "Killed")
    second = created_event_ids(port_a, token) - first
    deadline = time.monotonic() + 30
    while len(receiver.ids(second)) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    for process in (a, b):
        process.send_signal(signal.SIGKILL)
        process.wait()
    before_restart = len(set(receiver.ids(second)))
    port_c = free_port()
    start("serve", port_c, dispatch=False)
    worker = start("worker")
    wait_for(receiver, second, 90, "after the kill")
    got = receiver.ids(second)
    print(f"killed mid-delivery at {before_restart} of {len(second)} events: afterwards all {len(set(got))} "
          f"arrived, {len(got) - len(set(got))} twice (a lease taken over after the crash), 0 lost")

    # 3. The worker stopped gently mid-delivery: the round finishes, nothing twice.
    receiver.delay = 0.2
    create_clients([port_c], token, 40, "Stopped")
    third = created_event_ids(port_c, token) - first - second
    deadline = time.monotonic() + 30
    while len(receiver.ids(third)) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGTERM)
    if worker.wait(timeout=30) != 0:
        failures.append("the worker did not exit cleanly on SIGTERM")
    start("worker")
    wait_for(receiver, third, 60, "after SIGTERM")
    time.sleep(1)
    got = receiver.ids(third)
    twice = len(got) - len(set(got))
    print(f"worker stopped with SIGTERM mid-delivery: all {len(third)} arrived, {twice} twice")
    if twice:
        failures.append("a gently stopped worker left deliveries to be sent again")
    if receiver.invalid:
        failures.append(f"{receiver.invalid} deliveries failed signature verification")
    print(f"signatures verified by standardwebhooks: {len(receiver.ids())}, refused: {receiver.invalid}")
    if failures:
        sys.exit("FAIL " + "; ".join(failures))
    print("ok: webhook delivery")


try:
    main()
finally:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
