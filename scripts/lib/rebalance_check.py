"""A Citus worker added and the shards rebalanced while the service writes.

Used by scripts/check-citus, after `attune migrate` on the coordinator. Two
`attune serve` instances run on the coordinator (their sessions refuse
statements that leave one shard). Writers for PRACTICES practices, one
thread each, alternate between the instances, creating clients and logging
homework, each request with its own Idempotency-Key and retried with the
same key until it is answered 2xx (the accounting of scripts/db-fault).
Meanwhile a third worker joins, the first practice's shard group moves to
it (so a practice under writes certainly moves), and the rebalancer spreads
the rest. Afterwards every acknowledged write is in the database exactly
once, nothing was written twice, and the new worker holds shards.

Usage: rebalance_check.py BINARY COORDINATOR_URL SERVICE_DATABASE_URL CLUSTER_DIR WORK_DIR
"""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from attune_http import request as http_request
from attune_http import wait_ready

binary, coordinator, service_database, cluster, work = sys.argv[1:6]
PRACTICES = 8
TIMEOUT = 30.0
jwt_secret = secrets.token_hex(32)
processes = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql):
    out = subprocess.run([os.environ.get("PSQL", "psql"), coordinator, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{sql[:120]}...: {out.stderr.strip()}")
    return out.stdout.strip()


def start(port):
    env = dict(os.environ, DATABASE_URL=service_database, ATTUNE_JWT_SECRET=jwt_secret,
               ATTUNE_BIND=f"127.0.0.1:{port}", ATTUNE_SKIP_MIGRATIONS="true", ATTUNE_WEBHOOK_DISPATCH="false",
               ATTUNE_TOKEN_LIFETIME_SECONDS="3600", ATTUNE_METRICS_BIND="127.0.0.1:0", RUST_LOG="warn")
    log = open(os.path.join(work, f"serve-{port}.log"), "w")
    processes.append(subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT))
    if not wait_ready(f"http://127.0.0.1:{port}"):
        sys.exit(f"attune serve on port {port} did not become ready")


def request(port, method, path, body=None, token=None, key=None, form=None, basic=None):
    """(status, parsed body or text); status None when no answer came."""
    extra = {"Idempotency-Key": key} if key else None
    req = http_request(f"http://127.0.0.1:{port}{path}", method, body, token, form, basic, extra)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:300].decode(errors="replace")
    except Exception as error:  # refused, reset, timed out: retried
        return None, str(error)


def must(answer, what):
    status, body = answer
    if status is None or status >= 300:
        sys.exit(f"FAIL setting up ({what}): {status} {body}")
    return body


ports = [free_port(), free_port()]
lock = threading.Lock()
acknowledged = {"client": {}, "log": {}}  # key -> (practice, id)
answers = {}  # status -> count
broken = []
moving = threading.Event()
done = threading.Event()


def writer(n, practice, token, homework):
    i = 0
    while not done.is_set():
        kind = "client" if i % 2 == 0 else "log"
        key = f"rb-{n}-{i}-{uuid.uuid4()}"
        i += 1
        if kind == "client":
            path, body = "/v1/clients", {"display_name": f"Rebalance {n}", "external_id": key}
        else:
            path = f"/v1/homework/{homework}/logs"
            body = {"occurred_at": "2026-11-30T12:00:00Z", "done": True,
                    "fields": {"what_i_asked": key, "discomfort_before": 5, "discomfort_after": 3,
                               "let_them_do_it_their_way": True}}
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            status, answer = request(ports[(n + i + attempt) % 2], "POST", path, body, token, key)
            attempt += 1
            with lock:
                answers[status] = answers.get(status, 0) + 1
            if status == 201:
                with lock:
                    acknowledged[kind][key] = (practice, answer["id"])
                break
            if status is not None and status not in (409, 500, 502, 503, 504) and status < 500:
                broken.append(f"{path} answered {status}: {answer}")
                return
            time.sleep(0.2)
        else:
            broken.append(f"{path} was never answered 201 for {key}")
            return


def shard_nodes(practices):
    rows = psql("SELECT p, n.nodeport FROM unnest(ARRAY['" + "','".join(practices) + "']::uuid[]) p, "
                "LATERAL (SELECT get_shard_id_for_distribution_column('clients', p) AS shard) s "
                "JOIN pg_dist_placement pl ON pl.shardid = s.shard JOIN pg_dist_node n ON n.groupid = pl.groupid")
    return dict(line.split("|") for line in rows.splitlines())


def main():
    for port in ports:
        start(port)
    practices = []
    for n in range(PRACTICES):
        creds = json.loads(subprocess.check_output([binary, "bootstrap", "--practice", f"Rebalance {n}", "--json"],
                                                   env=dict(os.environ, DATABASE_URL=coordinator), text=True))
        basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
        token = must(request(ports[0], "POST", "/v1/oauth/token", form="grant_type=client_credentials", basic=basic),
                     "token")["access_token"]
        client = must(request(ports[n % 2], "POST", "/v1/clients", {"display_name": "Logger"}, token), "client")["id"]
        exercise = must(request(ports[0], "GET", "/v1/exercises?key=ask_for_small_help", token=token), "exercise")
        assignment = {"client_id": client, "exercise_id": exercise["data"][0]["id"], "cadence_per_week": 7,
                      "starts_on": "2026-11-01"}
        homework = must(request(ports[1], "POST", "/v1/homework", assignment, token), "homework")["id"]
        practices.append((creds["practice_id"], token, homework))
    before = shard_nodes([p for p, _, _ in practices])

    threads = [threading.Thread(target=writer, args=(n, p, t, h), daemon=True) for n, (p, t, h) in enumerate(practices)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    started = time.monotonic()
    adding = subprocess.run(["bash", "-c", f"source scripts/lib/citus.sh && citus_add_worker {cluster}"],
                            capture_output=True, text=True)
    if adding.returncode != 0:
        raise RuntimeError(f"adding a worker failed: {adding.stderr.strip()}")
    new_port = adding.stdout.split()[-1]
    added = time.monotonic() - started
    # A new worker has no copy of the reference tables yet; a shard placed
    # there needs them (the rebalancer would copy them itself).
    psql("SELECT replicate_reference_tables()")
    first = practices[0][0]
    psql(f"SELECT citus_move_shard_placement(get_shard_id_for_distribution_column('clients', '{first}'), "
         f"n.nodename, n.nodeport, '127.0.0.1', {new_port}) FROM pg_dist_placement pl "
         f"JOIN pg_dist_node n ON n.groupid = pl.groupid "
         f"WHERE pl.shardid = get_shard_id_for_distribution_column('clients', '{first}')")
    moved_first = time.monotonic() - started
    psql("SELECT rebalance_table_shards()")
    rebalanced = time.monotonic() - started
    time.sleep(3)
    done.set()
    for thread in threads:
        thread.join()
    after = shard_nodes([p for p, _, _ in practices])

    moved = sorted(p for p in before if before[p] != after.get(p))
    on_new = int(psql(f"SELECT count(*) FROM pg_dist_placement pl JOIN pg_dist_node n ON n.groupid = pl.groupid "
                      f"WHERE n.nodeport = {new_port}"))
    stored = {}
    for line in psql("SELECT external_id, id FROM clients WHERE external_id LIKE 'rb-%'").splitlines():
        key, row = line.split("|")
        stored.setdefault(("client", key), []).append(row)
    for line in psql("SELECT fields->>'what_i_asked', id FROM homework_logs "
                     "WHERE fields->>'what_i_asked' LIKE 'rb-%'").splitlines():
        key, row = line.split("|")
        stored.setdefault(("log", key), []).append(row)
    missing = [k for kind in acknowledged for k, (_, i) in acknowledged[kind].items()
               if stored.get((kind, k)) != [i]]
    twice = [k for k, rows in stored.items() if len(rows) > 1]
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)

    writes = sum(len(v) for v in acknowledged.values())
    print(f"worker added in {added:.1f} s (port {new_port}); the first practice's shard group moved by "
          f"{moved_first:.1f} s; rebalanced by {rebalanced:.1f} s; {on_new} shard placements on the new worker")
    print(f"practices whose shards moved while written: {len(moved)} of {len(before)}")
    print(f"acknowledged writes: {len(acknowledged['client'])} clients, {len(acknowledged['log'])} homework logs; "
          f"answers seen: {dict(sorted((str(k), v) for k, v in answers.items()))}")
    print(f"missing or changed: {len(missing)}; stored twice: {len(twice)}")
    failures = list(broken)
    if missing:
        failures.append(f"{len(missing)} acknowledged writes are missing, e.g. {missing[:3]}")
    if twice:
        failures.append(f"{len(twice)} writes are stored twice, e.g. {twice[:3]}")
    if first not in moved:
        failures.append("the first practice's shard group did not move")
    if on_new == 0:
        failures.append("the new worker holds no shards after the rebalance")
    if writes == 0:
        failures.append("no write was acknowledged")
    for failure in failures:
        print("FAIL " + failure)
    sys.exit(1 if failures else 0)


try:
    main()
finally:
    done.set()
    for process in processes:
        if process.poll() is None:
            process.kill()
