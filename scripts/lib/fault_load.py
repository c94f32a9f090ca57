"""Writes under load while PostgreSQL is stopped and started again.

Used by scripts/db-fault. Workers create clients with POST /v1/clients, each
with its own Idempotency-Key, retrying the same key until it is answered 201.
At --stop-at seconds the database is stopped, at --start-at started again.
Prints what happened and exits non-zero if any promise was broken: a 5xx other
than 503, a 503 that was not problem+json, an answer slower than the client
timeout, or (checked by the caller) a write answered 201 that is missing or
duplicated.
"""

import argparse
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--workers", type=int, default=8)
parser.add_argument("--duration", type=float, default=20.0)
parser.add_argument("--stop-at", type=float, default=5.0)
parser.add_argument("--start-at", type=float, default=9.0)
parser.add_argument("--stop-cmd", required=True)
parser.add_argument("--start-cmd", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

TIMEOUT = 10.0
lock = threading.Lock()
events = []  # (t, kind, status, seconds, key)
created = {}  # key -> id
broken = []
t0 = time.monotonic()


def now():
    return time.monotonic() - t0


def post(key, body):
    request = urllib.request.Request(
        args.base + "/v1/clients",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": "Bearer " + args.token, "Content-Type": "application/json", "Idempotency-Key": key},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers.get("content-type", ""), response.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read(), time.monotonic() - started
    except Exception as error:  # connection refused, timeout: the client retries
        return None, str(error), b"", time.monotonic() - started


def worker(n):
    i = 0
    while now() < args.duration:
        key = "load-%d-%d-%s" % (n, i, uuid.uuid4())
        i += 1
        body = {"display_name": "Load %d" % n, "external_id": key}
        # Retry this key until it is answered 201 (or well past the end).
        while now() < args.duration + 30:
            status, content_type, payload, seconds = post(key, body)
            with lock:
                events.append((now(), "write", status, seconds, key))
            if status == 201:
                with lock:
                    created[key] = json.loads(payload)["id"]
                break
            if status == 503:
                if content_type != "application/problem+json":
                    broken.append("a 503 without problem+json")
            elif status is None:
                if seconds >= TIMEOUT:
                    broken.append("a request hung past %.0f s" % TIMEOUT)
            else:
                broken.append("unexpected %s: %s" % (status, payload[:200]))
                break
            time.sleep(0.2)


def ready_poller():
    while now() < args.duration + 5:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(args.base + "/readyz", timeout=TIMEOUT) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except Exception:
            status = None
        with lock:
            events.append((now(), "ready", status, time.monotonic() - started, ""))
        time.sleep(0.1)


def chaos():
    time.sleep(args.stop_at)
    subprocess.run(args.stop_cmd, shell=True, check=True)
    with lock:
        events.append((now(), "db", "stopped", 0, ""))
    time.sleep(max(0.0, args.start_at - now()))
    subprocess.run(args.start_cmd, shell=True, check=True)
    with lock:
        events.append((now(), "db", "started", 0, ""))


threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.workers)]
threads += [threading.Thread(target=ready_poller), threading.Thread(target=chaos)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

stopped = next(t for t, kind, status, *_ in events if kind == "db" and status == "stopped")
started = next(t for t, kind, status, *_ in events if kind == "db" and status == "started")
writes = [e for e in events if e[1] == "write"]
unavailable = [e for e in writes if e[2] == 503]
during = [e for e in writes if stopped <= e[0] <= started]
first_201_after = min((e[0] for e in writes if e[2] == 201 and e[0] > started), default=None)
ready_down = [e for e in events if e[1] == "ready" and e[2] == 503]
first_ready_after = min((e[0] for e in events if e[1] == "ready" and e[2] == 200 and e[0] > started), default=None)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


report = {
    "database_down_seconds": round(started - stopped, 2),
    "write_requests": len(writes),
    "answered_201": sum(1 for e in writes if e[2] == 201),
    "answered_503": len(unavailable),
    "connection_errors": sum(1 for e in writes if e[2] is None),
    "503_latency_p50_ms": round(1000 * pct([e[3] for e in unavailable], 0.5), 1),
    "503_latency_max_ms": round(1000 * max([e[3] for e in unavailable], default=float("nan")), 1),
    "requests_while_down": len(during),
    "readyz_503_answers": len(ready_down),
    "readyz_ok_again_after_start_s": round(first_ready_after - started, 2) if first_ready_after else None,
    "first_201_after_start_s": round(first_201_after - started, 2) if first_201_after else None,
    "distinct_writes_created": len(created),
    "broken_promises": broken,
}
json.dump({"report": report, "created": created}, open(args.out, "w"))
print(json.dumps(report, indent=2))
if broken or not first_201_after or not unavailable:
    raise SystemExit(1)
