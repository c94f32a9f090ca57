"""Seeds the fuzz practice with one resource of each kind and writes a
schemathesis config that points the fuzzer at them.

Without it, every operation on `/v1/<resource>/{id}` sees random ids and
answers 404, and every body naming a client, instrument or exercise is
refused: the fuzzer never reaches the code behind them. With it, path ids
are the seeded resources, and body references draw on them most of the time.

Usage: fuzz_config.py BASE_URL TOKEN OUT.toml
"""

import json
import sys
import time
import urllib.request

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]


def call(method, path, body=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def first(path):
    return call("GET", path)["data"][0]["id"]


client = call("POST", "/v1/clients", {"display_name": "Fuzz A", "external_id": "fuzz-a"})["id"]
partner = call("POST", "/v1/clients", {"display_name": "Fuzz B"})["id"]
form = first("/v1/instruments?key=attachment_lean_short_form")
inventory = first("/v1/instruments?key=interdependence_balance")
own_instrument = call("POST", "/v1/instruments", {
    "key": "fuzz_check", "title": "Fuzz check", "description": "Seeded for fuzzing.",
    "scale": {"min": 0, "max": 4, "labels": []},
    "items": [{"id": "q1", "text": "One", "subscale": "s"}, {"id": "q2", "text": "Two", "subscale": "s", "reverse": True}],
    "subscales": [{"key": "s", "title": "S", "method": "sum", "direction": "higher_is_better",
                   "norms": {"sd": 1.5, "reliability": 0.8, "reliability_kind": "test_retest"}}],
    "classification": None})["id"]
small_help = first("/v1/exercises?key=ask_for_small_help")
own_exercise = call("POST", "/v1/exercises", {
    "key": "fuzz_note", "title": "Fuzz note", "summary": "Seeded for fuzzing.", "instructions": ["Write it."],
    "target": "both", "suggested_cadence_per_week": 2,
    "log_fields": [{"key": "mood", "label": "Mood", "type": "integer", "min": 0, "max": 10}]})["id"]
assessment = call("POST", "/v1/assessments", {"client_id": client, "instrument_id": form, "due_on": "2026-01-01"})["id"]
answers = [{"item_id": f"{p}{i}", "value": 4} for p in ("ax", "av") for i in range(1, 7)]
call("POST", "/v1/assessments", {"client_id": client, "instrument_id": form, "answers": answers})
homework = call("POST", "/v1/homework", {"client_id": client, "exercise_id": small_help, "cadence_per_week": 3,
                                         "starts_on": "2026-01-05"})["id"]
relationship = call("POST", "/v1/relationships", {"kind": "couple", "client_ids": [client, partner]})["id"]
client_link = call("POST", "/v1/client-links", {"client_id": client, "all_open_assessments": True})["id"]
# A literal public address, so registration needs no DNS on this closed machine.
webhook_endpoint = call("POST", "/v1/webhook-endpoints", {
    "url": "https://93.184.215.14/attune", "event_types": ["client.created"]})["id"]

# A finished export, so that polling it and fetching its file reach the manifest and the file.
export = call("POST", "/v1/exports", {"types": ["Patient"]})["id"]
for _ in range(300):
    if call("GET", f"/v1/exports/{export}").get("transactionTime"):
        break
    time.sleep(0.1)


def values(*ids):
    return "[" + ", ".join(f'"{i}"' for i in ids) + "]"


def path_id(regex, value):
    return f'[[operations]]\ninclude-path-regex = "{regex}"\nparameters = {{ "path.id" = "{value}" }}\n'


def references(operation_id, *bindings):
    entries = ", ".join(f'"body.{field}" = {{ dictionary = "{name}", probability = 0.9 }}' for field, name in bindings)
    return f'[[operations]]\ninclude-operation-id = "{operation_id}"\nparameters = {{ {entries} }}\n'


config = "\n".join([
    "[dictionaries.client]\nvalues = " + values(client, partner) + "\n",
    "[dictionaries.instrument]\nvalues = " + values(form, inventory, own_instrument) + "\n",
    "[dictionaries.exercise]\nvalues = " + values(small_help, own_exercise) + "\n",
    path_id("^/v1/clients/\\\\{id\\\\}", client),
    path_id("^/v1/assessments/\\\\{id\\\\}", assessment),
    path_id("^/v1/homework/\\\\{id\\\\}", homework),
    path_id("^/v1/relationships/\\\\{id\\\\}", relationship),
    path_id("^/v1/client-links/\\\\{id\\\\}", client_link),
    path_id("^/v1/webhook-endpoints/\\\\{id\\\\}", webhook_endpoint),
    path_id("^/v1/exercises/\\\\{id\\\\}", own_exercise),
    path_id("^/v1/instruments/\\\\{id\\\\}", own_instrument),
    path_id("^/v1/exports/\\\\{id\\\\}$", export),
    f'[[operations]]\ninclude-operation-id = "get_export_file"\n'
    f'parameters = {{ "path.id" = "{export}", "path.file" = "Patient-1.ndjson" }}\n',
    references("create_assessment", ("client_id", "client"), ("instrument_id", "instrument")),
    references("create_homework", ("client_id", "client"), ("exercise_id", "exercise")),
    references("create_client_link", ("client_id", "client")),
])
open(out, "w").write(config)
print(f"seeded client {client}, assessment {assessment}, homework {homework}, relationship {relationship}")
