"""The client pages part of scripts/bench: setup, and reading what wrk did.

  setup   creates the clients, open assessments and links the part needs,
          and writes the wrk scripts (stubs loading scripts/lib/bench_pages.lua)
          and their request lists into the bench's work folder
  cpu     prints the CPU seconds the service and the database have used
  walked  turns what bench_pages.lua's done() wrote, and the CPU used, into a
          results row
  summary prints the part's table and its page/API ratios from results.tsv

Three sets of clients, ten open assessments each (a link's pages read all the
client's open assessments on every request, so each stays small):
  form    100 clients with a link each; their forms are rendered over and over
          (GET /l/assessments/{id}), next to the reads an integrator's portal
          makes to render the same form: GET /v1/assessments/{id} (is it still
          open, which instrument) and GET /v1/instruments/{id}
  page    a link each; every POST /l/assessments/{id} completes another one
  api     no links; every POST /v1/assessments/{id}/responses completes another
Submissions go round the clients (every client's first assessment, then every
client's second, ...), so concurrent posts do not queue on one link's lock.
"""

import argparse
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

PER_CLIENT = 10
FORM_CLIENTS = 100
# What every submission answers (attachment_lean_short_form: ax1..ax6, av1..av6, 1..7).
ANSWERS = [("ax1", 6), ("ax2", 5), ("ax3", 2), ("ax4", 6), ("ax5", 3), ("ax6", 5),
           ("av1", 2), ("av2", 3), ("av3", 6), ("av4", 1), ("av5", 5), ("av6", 2)]
LIB = os.path.dirname(os.path.abspath(__file__))


def lua(value):
    """A Lua literal for a string, number, boolean or flat table of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # a JSON string of ASCII text is a Lua string literal


class Api:
    """Keep-alive connections to the service, one per thread."""

    def __init__(self, base, token):
        url = urllib.parse.urlsplit(base)
        self.host, self.port, self.token = url.hostname, url.port, token
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None, bearer=True):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = dict(headers or {})
        if body is not None:
            body = json.dumps(body)
            sent["Content-Type"] = "application/json"
        if bearer:
            sent["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.local.conn = None
        return response.status, response, data


def psql(command, sql):
    out = subprocess.run(command + ["-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def csrf(digest_hex, path):
    """What the service puts in a form (src/client_links/pages/visit.rs):
    hex(HMAC-SHA256(key = the link's stored token digest, message = the page's path))."""
    return hmac.new(bytes.fromhex(digest_hex), path.encode(), hashlib.sha256).hexdigest()


def write_script(work, name, items, **spec):
    """The request list and the wrk stub of one measured request kind."""
    base = os.path.join(work, f"pages-{name}")
    with open(base + ".tsv", "w") as f:
        for path, cookie, token in items:
            f.write(f"{path}\t{cookie}\t{token}\n")
    spec.update(items=base + ".tsv", state=base + ".offset", report=base + ".report")
    fields = ",\n    ".join(f"{key} = {lua(value)}" for key, value in spec.items() if value is not None)
    with open(base + ".lua", "w") as f:
        f.write(f"bench = {{\n    {fields}\n}}\ndofile({lua(os.path.join(LIB, 'bench_pages.lua'))})\n")


def setup(args):
    started = time.monotonic()
    api = Api(args.api, args.token)
    per_side = max(PER_CLIENT, args.submissions)
    page_clients = math.ceil(per_side / PER_CLIENT)
    practice, instrument = args.practice, args.instrument
    sets = {"form": FORM_CLIENTS, "page": page_clients, "api": page_clients}
    values = ", ".join(f"('{name}', {n})" for name, n in sets.items())
    rows = psql(args.psql, f"""
      INSERT INTO clients (practice_id, id, external_id, display_name, status)
        SELECT '{practice}', gen_random_uuid(), 'pages-' || v.name || '-' || g, 'Pages ' || v.name || ' ' || g, 'active'
          FROM (VALUES {values}) v(name, n), generate_series(1, v.n) g;
      INSERT INTO assessments (practice_id, id, client_id, instrument_id, status)
        SELECT '{practice}', gen_random_uuid(), c.id, '{instrument}', 'assigned'
          FROM clients c, generate_series(1, {PER_CLIENT})
         WHERE c.practice_id = '{practice}' AND c.external_id LIKE 'pages-%';
      ANALYZE clients;
      ANALYZE assessments;
      SELECT split_part(c.external_id, '-', 2), split_part(c.external_id, '-', 3)::int,
             row_number() OVER (PARTITION BY c.id ORDER BY a.id), c.id, a.id
        FROM assessments a JOIN clients c ON c.practice_id = a.practice_id AND c.id = a.client_id
       WHERE a.practice_id = '{practice}' AND c.external_id LIKE 'pages-%'""")
    # Round the clients: every client's first assessment, then every client's second, ...
    rows.sort(key=lambda r: (r[0], int(r[2]), int(r[1])))
    by_set = {name: [(r[3], r[4]) for r in rows if r[0] == name] for name in sets}

    def issue(client_id):
        status, _, data = api.request("POST", "/v1/client-links", {
            "client_id": client_id, "all_open_assessments": True, "expires_in_hours": 720})
        if status != 201:
            raise SystemExit(f"POST /v1/client-links answered {status}: {data[:300]!r}")
        return client_id, json.loads(data)["url"]

    linked = {c for name in ("form", "page") for c, _ in by_set[name]}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        urls = dict(pool.map(issue, sorted(linked)))
    tokens = {c: urllib.parse.urlsplit(url).path.rsplit("/", 1)[1] for c, url in urls.items()}
    digests = dict(psql(args.psql, f"SELECT client_id, encode(token_digest, 'hex') FROM client_links "
                                   f"WHERE practice_id = '{practice}' AND revoked_at IS NULL"))

    # A link opens as a browser meets it: 303 to the list, the token in a cookie.
    first = next(iter(urls))
    opened = urllib.parse.urlsplit(urls[first])
    if (opened.hostname, opened.port) != (api.host, api.port):
        raise SystemExit(f"links point at {urls[first]}, not the service under test (ATTUNE_PUBLIC_URL)")
    status, response, _ = api.request("GET", opened.path, bearer=False)
    cookie = response.getheader("Set-Cookie", "")
    if status != 303 or not cookie.startswith(f"attune_link={tokens[first]};"):
        raise SystemExit(f"opening a link answered {status} with Set-Cookie {cookie[:40]!r}...")

    def page(client_id, assessment_id):
        path = f"/l/assessments/{assessment_id}"
        return path, tokens[client_id], csrf(digests[client_id], path)

    form = [page(c, a) for c, a in by_set["form"]]
    submit = [page(c, a) for c, a in by_set["page"]]

    # The tokens computed here are the ones the forms carry (a sample of each set).
    def check(item):
        path, token, expected = item
        status, _, data = api.request("GET", path, headers={"Cookie": f"attune_link={token}"}, bearer=False)
        found = re.search(rb'name="csrf" value="([0-9a-f]+)"', data)
        if status != 200 or not found or found.group(1).decode() != expected:
            raise SystemExit(f"GET {path} answered {status}; its CSRF token is not the one computed here")

    sample = form[:: max(1, len(form) // 10)] + submit[:: max(1, len(submit) // 20)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(check, sample))
    sizes = [len(api.request("GET", path, headers=headers, bearer=bearer)[2]) for path, headers, bearer in (
        (form[0][0], {"Cookie": f"attune_link={form[0][1]}"}, False),
        (f"/v1/assessments/{by_set['form'][0][1]}", {}, True), (f"/v1/instruments/{instrument}", {}, True))]

    same_origin = {"Sec-Fetch-Site": "same-origin"}
    write_script(args.work, "page_form", form, method="GET", status=200, walk=False)
    write_script(args.work, "api_assessment", [(f"/v1/assessments/{a}", "", "") for _, a in by_set["form"]],
                 method="GET", auth=True, status=200, walk=False)
    # The instrument through the same driver too, so wrk spends the same on every side.
    write_script(args.work, "api_instrument", [(f"/v1/instruments/{instrument}", "", "")],
                 method="GET", auth=True, status=200, walk=False)
    write_script(args.work, "page_submit", submit, method="POST", walk=True,
                 type="application/x-www-form-urlencoded", headers=same_origin,
                 form="action=submit&" + "&".join(f"item.{item}={value}" for item, value in ANSWERS),
                 status=303, location="/l/thanks")
    write_script(args.work, "api_submit", [(f"/v1/assessments/{a}/responses", "", "") for _, a in by_set["api"]],
                 method="POST", walk=True, auth=True, type="application/json",
                 body=json.dumps({"answers": [{"item_id": item, "value": value} for item, value in ANSWERS]}),
                 status=200)
    print(f"client pages: {len(form)} forms to render ({FORM_CLIENTS} links), {len(submit)} open assessments "
          f"behind {page_clients} links to submit, {len(by_set['api'])} for the API; "
          f"{len(sample)} forms' CSRF tokens checked; in {time.monotonic() - started:.1f} s", file=sys.stderr)
    print(f"client pages: a form is {sizes[0]} bytes of HTML; the API's assessment and instrument "
          f"{sizes[1]} + {sizes[2]} bytes of JSON", file=sys.stderr)


def cpu_seconds(pid):
    """User + system CPU seconds of a process (its fields after the command's parenthesis)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[1])


def cpu(args):
    """The service's CPU, and the postmaster's and its children's (the backends
    of the service's pool live through the part, so differences count them)."""
    service = cpu_seconds(args.service)[0]
    postmaster = int(open(args.postmaster_pid).readline())
    database = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            used, parent = cpu_seconds(entry)
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(entry) == postmaster or parent == postmaster:
            database += used
    print(f"{service:.2f} {database:.2f}")


def walked(args):
    lines = [line.rstrip("\n").split("\t") for line in open(args.report) if line.strip()]
    # Sent and unexpected count the warm-up too; whether it ran out is the measured run's.
    sent = sum(int(line[0]) for line in lines)
    bad = sum(int(line[1]) for line in lines)
    ran_out = lines[-1][2]
    example = next((line[3] for line in lines if line[3]), "")
    service_us = (args.service_after - args.service_before) / max(sent, 1) * 1e6
    database_us = (args.database_after - args.database_before) / max(sent, 1) * 1e6
    print(f"pages\t{args.name}\t{args.conns}\t{sent}\t{bad}\t{ran_out}\t{example}\t{service_us:.0f}\t{database_us:.0f}")


def summary(args):
    rows = [line.rstrip("\n").split("\t") for line in open(args.results)]
    wrk = {(r[1], r[2]): r for r in rows if r[0] == "api"}
    walks = {(r[1], r[2]): r for r in rows if r[0] == "pages"}
    label = {"page_form": "GET /l/assessments/{id}", "api_assessment": "GET /v1/assessments/{id}",
             "api_instrument": "GET /v1/instruments/{id}", "page_submit": "POST /l/assessments/{id}",
             "api_submit": "POST /v1/assessments/{id}/responses"}
    conns_seen = sorted({c for (_, c) in wrk if any((n, c) in wrk for n in label)}, key=int)
    if not conns_seen:
        return
    print(f"\nClient pages (forms of attachment_lean_short_form; {PER_CLIENT} open assessments per client, one link each)")
    print(f"{'endpoint':<38}{'conns':>6}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'unexpected':>11}"
          f"{'service us':>11}{'db us':>7}  ran out")
    for conns in conns_seen:
        for name in label:
            r = wrk.get((name, conns))
            if r is None:
                continue
            w = walks.get((name, conns))
            unexpected, service_us, database_us = (w[4], w[7], w[8]) if w else ("-", "-", "-")
            out = ("yes: raise BENCH_PAGES_RATE" if w[5] == "1" else "no") if w and name.endswith("submit") else ""
            print(f"{label[name]:<38}{conns:>6}{r[3]:>9}{r[4]:>8}{r[5]:>8}{r[6]:>8}{unexpected:>11}"
                  f"{service_us:>11}{database_us:>7}  {out}")
            if w and w[6]:
                print(f"{'':<38}first unexpected answer: {w[6]}")
    print()
    for conns in conns_seen:
        page, assessment, instrument = (wrk.get((n, conns)) for n in ("page_form", "api_assessment", "api_instrument"))
        if page and assessment and instrument and 0 not in (float(page[3]), float(assessment[3]), float(instrument[3])):
            p, a, i = float(page[3]), float(assessment[3]), float(instrument[3])
            pair = 1 / (1 / a + 1 / i)
            pair_p50 = float(assessment[4]) + float(instrument[4])
            print(f"Render at {conns}: page {p:.0f} req/s (p50 {page[4]} ms) vs the portal's reads, "
                  f"GET assessment then instrument, 1/(1/A+1/I)={pair:.0f} renders/s (p50 {pair_p50:.2f} ms): "
                  f"ratio {p / pair:.2f}; vs GET instrument alone {i:.0f} req/s: ratio {p / i:.2f}")
        page, api = wrk.get(("page_submit", conns)), wrk.get(("api_submit", conns))
        if page and api and 0 in (float(page[3]), float(api[3])):
            print(f"Submit at {conns}: no ratio, a side had no open assessments left (raise BENCH_PAGES_RATE)")
        elif page and api:
            p, a = float(page[3]), float(api[3])
            print(f"Submit at {conns}: page {p:.0f} req/s (p50 {page[4]} ms, p99 {page[5]} ms) vs API {a:.0f} req/s "
                  f"(p50 {api[4]} ms, p99 {api[5]} ms): ratio {p / a:.2f}")
    print("(ratio = page req/s / API req/s; target: 0.80 or more. unexpected: answers other than 200, or 303 to"
          " /l/thanks for a page post, warm-ups included; service us / db us: CPU per request of the service and"
          " of PostgreSQL)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--api", required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--practice", required=True)
    s.add_argument("--instrument", required=True)
    s.add_argument("--work", required=True)
    s.add_argument("--submissions", type=int, required=True, help="open assessments to create on each side")
    s.add_argument("psql", nargs="+", help="after --: the psql command that reaches the bench database")
    w = sub.add_parser("walked")
    w.add_argument("report")
    w.add_argument("name")
    w.add_argument("conns")
    for name in ("service_before", "database_before", "service_after", "database_after"):
        w.add_argument(name, type=float)
    c = sub.add_parser("cpu")
    c.add_argument("service")
    c.add_argument("postmaster_pid")
    m = sub.add_parser("summary")
    m.add_argument("results")
    args = parser.parse_args()
    {"setup": setup, "cpu": cpu, "walked": walked, "summary": summary}[args.command](args)


if __name__ == "__main__":
    main()
