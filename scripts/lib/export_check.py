"""The client record and the bulk export against a real process, every FHIR
resource validated by `fhir.resources` (pinned to the last release that
models FHIR R4 4.0.1), which no one here wrote.

  1. seeds a practice through the API: clients (one archived), both built-in
     forms completed a few times, an open assessment, a homework assignment
     with logs and reflections, a relationship;
  2. runs a bulk export (`Prefer: respond-async`), polls it to its manifest,
     downloads every file and validates EVERY line as the FHIR R4 resource
     its manifest entry names, the lines of each file matching its count;
  3. reads each client's record as a FHIR Bundle and validates the Bundle
     and every resource in it; and reads it as JSON.

Exits non-zero on any invalid resource or broken rule.
Usage: export_check.py BINARY DATABASE_URL WORK_DIR (after `attune migrate`).
"""

import base64
import collections
import datetime
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import fhir.resources
from fhir.resources import construct_fhir_element

from attune_http import request as http_request
from attune_http import wait_ready

binary, database_url, work = sys.argv[1], sys.argv[2], sys.argv[3]
if fhir.resources.__fhir_version__ != "4.0.1":
    sys.exit(f"fhir.resources {fhir.resources.__version__} models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL: {message}", file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
base = f"http://127.0.0.1:{port}"
env = dict(os.environ, DATABASE_URL=database_url, ATTUNE_JWT_SECRET=secrets.token_hex(32),
           ATTUNE_BIND=f"127.0.0.1:{port}", ATTUNE_SKIP_MIGRATIONS="true", ATTUNE_TOKEN_LIFETIME_SECONDS="3600",
           ATTUNE_METRICS_BIND="127.0.0.1:0", ATTUNE_EXPORT_POLL_MS="100",
           # Small files, so that types come in several parts.
           ATTUNE_EXPORT_FILE_MAX_RESOURCES="7", RUST_LOG="warn")
creds = json.loads(subprocess.run([binary, "bootstrap", "--practice", "Export check", "--json"], env=env,
                                  check=True, capture_output=True, text=True).stdout)
log = open(os.path.join(work, "serve.log"), "w")
service = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
try:
    if not wait_ready(base):
        sys.exit("attune serve did not become ready")

    def call(method, path, body=None, token=None, headers=None, raw=False, form=None, basic=None):
        url = path if path.startswith("http") else base + path
        request = http_request(url, method, body, token, form, basic, headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                # Headers as the message gives them: names compared without case.
                return response.status, response.headers, payload if raw else json.loads(payload or b"null")
        except urllib.error.HTTPError as err:
            payload = err.read()
            sys.exit(f"{method} {path} answered {err.code}: {payload[:500]!r}")

    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    _, _, answer = call("POST", "/v1/oauth/token", form="grant_type=client_credentials", basic=basic)
    token = answer["access_token"]

    # 1. A practice with history, through the API.
    def instrument(key):
        _, _, page = call("GET", f"/v1/instruments?key={key}", token=token)
        return page["data"][0]

    forms = [instrument("attachment_lean_short_form"), instrument("interdependence_balance")]
    _, _, page = call("GET", "/v1/exercises?key=ask_for_small_help", token=token)
    exercise = page["data"][0]["id"]
    now = datetime.datetime.now(datetime.timezone.utc)
    clients = []
    for n in range(4):
        body = {"display_name": f"Client {n}"}
        if n % 2 == 0:
            body["external_id"] = f"check-{n}"
        _, _, client = call("POST", "/v1/clients", body, token)
        clients.append(client["id"])
        for week in range(3):
            for form in forms:
                scale = form["definition"]["scale"]
                answers = [{"item_id": item["id"], "value": scale["min"] + (week + n + i) % (scale["max"] - scale["min"] + 1)}
                           for i, item in enumerate(form["definition"]["items"])]
                completed_at = (now - datetime.timedelta(days=7 * (3 - week))).isoformat()
                call("POST", "/v1/assessments", {"client_id": client["id"], "instrument_id": form["id"],
                                                 "answers": answers, "completed_at": completed_at}, token)
        call("POST", "/v1/assessments", {"client_id": client["id"], "instrument_id": forms[0]["id"]}, token)
        starts_on = (now - datetime.timedelta(days=10)).date().isoformat()
        _, _, homework = call("POST", "/v1/homework", {"client_id": client["id"], "exercise_id": exercise,
                                                       "cadence_per_week": 3, "starts_on": starts_on,
                                                       "note": "Start small."}, token)
        for day in range(4):
            call("POST", f"/v1/homework/{homework['id']}/logs", {
                "occurred_at": (now - datetime.timedelta(days=day, hours=1)).isoformat(), "done": day % 3 != 2,
                "fields": {"what_i_asked": "A lift", "discomfort_before": 6, "discomfort_after": 3,
                           "let_them_do_it_their_way": True},
                "reflection": "Easier than I thought."}, token)
    call("POST", "/v1/relationships", {"kind": "couple", "client_ids": clients[:2]}, token)
    call("DELETE", f"/v1/clients/{clients[3]}", token=token, raw=True)

    def validate(resource, where):
        kind = resource.get("resourceType")
        try:
            construct_fhir_element(kind, resource)
            return kind
        except Exception as err:  # noqa: BLE001 - any refusal is a finding
            fail(f"{where}: not a valid FHIR R4 {kind}: {err}")
            return None

    # 2. The bulk export.
    status, headers, accepted = call("POST", "/v1/exports", token=token, headers={"Prefer": "respond-async"})
    if status != 202 or "Content-Location" not in headers:
        sys.exit(f"kick-off answered {status} {dict(headers)}")
    location = headers["Content-Location"]
    polls = 0
    while True:
        status, headers, body = call("GET", location, token=token)
        if status == 200:
            manifest = body
            break
        if status != 202 or "X-Progress" not in headers or "Retry-After" not in headers:
            sys.exit(f"a poll answered {status} {dict(headers)}")
        polls += 1
        if polls > 600:
            sys.exit("the export did not finish in 60 s")
        time.sleep(0.1)
    for member in ("transactionTime", "request", "requiresAccessToken", "output", "error"):
        if member not in manifest:
            fail(f"the manifest lacks {member}")
    if manifest.get("requiresAccessToken") is not True or manifest.get("error") != []:
        fail(f"manifest: {manifest}")
    lines_by_type = collections.Counter()
    files = 0
    for entry in manifest["output"]:
        status, headers, payload = call("GET", entry["url"], token=token, raw=True)
        files += 1
        if headers.get("Content-Type") != "application/fhir+ndjson":
            fail(f"{entry['url']}: Content-Type {headers.get('Content-Type')}")
        lines = payload.decode("utf-8").splitlines()
        if len(lines) != entry["count"]:
            fail(f"{entry['url']}: {len(lines)} lines, the manifest says {entry['count']}")
        for number, line in enumerate(lines, 1):
            resource = json.loads(line)
            if resource.get("resourceType") != entry["type"]:
                fail(f"{entry['url']} line {number}: a {resource.get('resourceType')} in a {entry['type']} file")
            if validate(resource, f"{entry['url']} line {number}"):
                lines_by_type[entry["type"]] += 1
    print(f"bulk export: {files} files, {sum(lines_by_type.values())} NDJSON lines valid as FHIR R4: "
          + ", ".join(f"{k} {v}" for k, v in sorted(lines_by_type.items())))
    for kind in ("Patient", "Questionnaire", "QuestionnaireResponse", "Observation", "Task", "AuditEvent"):
        if lines_by_type[kind] == 0:
            fail(f"the export holds no {kind}")
    if lines_by_type["Patient"] != len(clients):
        fail(f"{lines_by_type['Patient']} Patients for {len(clients)} clients")

    # 3. Each client's record.
    record_resources = collections.Counter()
    for client in clients:
        status, headers, payload = call("GET", f"/v1/clients/{client}/record", token=token,
                                        headers={"Accept": "application/fhir+json"}, raw=True)
        if headers.get("Content-Type") != "application/fhir+json" or 'rel="describedby"' not in headers.get("Link", ""):
            fail(f"record of {client}: {dict(headers)}")
        bundle = json.loads(payload)
        if bundle.get("type") != "collection":
            fail(f"record of {client}: a Bundle of type {bundle.get('type')}")
        validate(bundle, f"record of {client} (the Bundle)")
        for number, entry in enumerate(bundle.get("entry", [])):
            kind = validate(entry["resource"], f"record of {client}, entry {number}")
            if kind:
                record_resources[kind] += 1
        _, _, as_json = call("GET", f"/v1/clients/{client}/record", token=token)
        if as_json["client"]["id"] != client or not as_json["assessments"] or not as_json["homework"][0]["logs"]:
            fail(f"record of {client} as JSON: {str(as_json)[:300]}")
    print(f"client records: {len(clients)} Bundles, {sum(record_resources.values())} resources valid as FHIR R4: "
          + ", ".join(f"{k} {v}" for k, v in sorted(record_resources.items())))
finally:
    service.terminate()
    try:
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.kill()

if failures:
    sys.exit(f"{len(failures)} problem(s); see above")
print(f"fhir.resources {fhir.resources.__version__} (FHIR {fhir.resources.__fhir_version__}): every resource valid")
