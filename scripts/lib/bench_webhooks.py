"""The webhooks part's report, for scripts/bench (see scripts/lib/bench_webhooks.sh).

Usage: bench_webhooks.py summary RESULTS
"""

import math
import sys

LABELS = {"assess": "POST /v1/assessments", "log": "POST /v1/homework/{id}/logs"}


def mean(values):
    return sum(values) / len(values) if values else math.nan


def summary(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    if not any(r[0] == "webhooks" or r[1].startswith("wh_") for r in rows if len(r) > 1):
        return

    def tps(name, conns):
        return mean([float(r[3]) for r in rows if r[0] == "pgbench" and r[1] == name and r[2] == conns])

    def api(name, conns):
        return next((r for r in rows if r[0] == "api" and r[1] == name and r[2] == conns), None)

    print("\nWebhooks: what the outbox costs writes (pgbench tps, mean of 2 runs each, on the endpoint's SQL "
          "without and with its events, recorded with its audit entry as the service does; target with/without "
          ">= 0.90; floor: the same rows into a table without indexes, the least any event written with its "
          "change costs)\n")
    print(f"{'write':<30}{'conns':>6}{'without':>10}{'with':>10}{'ratio':>7}{'floor':>10}{'ratio':>7}"
          f"{'API req/s':>11}{'API/with':>10}")
    for name, label in LABELS.items():
        for conns in ("8", "32"):
            plain, event = tps(f"wh_{name}_plain", conns), tps(f"wh_{name}_event", conns)
            floor_tps = tps(f"wh_{name}_floor", conns)
            if math.isnan(plain) or math.isnan(event):
                continue
            wrk = api(name, conns)
            # wrk's figure comes from the full run's earlier part (the service appends the event).
            shown = f"{wrk[3]:>11}{float(wrk[3]) / event:>10.2f}" if wrk else f"{'-':>11}{'-':>10}"
            verdict = "" if event / plain >= 0.90 else "  < 0.90"
            print(f"{label:<30}{conns:>6}{plain:>10.0f}{event:>10.0f}{event / plain:>7.2f}{floor_tps:>10.0f}"
                  f"{floor_tps / plain:>7.2f}{shown}{verdict}")

    settings = next((r for r in rows if r[0] == "webhook_settings"), None)
    floor = api("wh_receiver", "8")
    print("\nWebhooks: delivery to a local nginx answering 204"
          + (f" (ATTUNE_WEBHOOK_POLL_MS={settings[1]}, ATTUNE_WEBHOOK_CONCURRENCY_PER_ENDPOINT={settings[2]})"
             if settings else "") + "\n")
    floor_rps = float(floor[3]) if floor else math.nan
    if floor:
        print(f"receiver floor: wrk POST at 8 connections: {floor[3]} req/s, p50 {floor[4]} ms, p99 {floor[5]} ms, "
              f"non-2xx {floor[6]}\n")
    print(f"{'endpoints':>9}{'events':>8}{'deliveries':>12}{'seconds':>9}{'first s':>9}{'deliv/s':>9}"
          f"{'of floor':>10}{'attempts':>10}{'rows':>8}{'distinct':>10}")
    for r in rows:
        if r[0] != "webhooks":
            continue
        endpoints, events, expected, done, elapsed_ms, first_ms, attempts, deliveries, distinct, pending = r[1:11]
        seconds = int(elapsed_ms) / 1000
        rate = int(done) / seconds if seconds > 0 else math.nan
        first = f"{int(first_ms) / 1000:.1f}" if first_ms != "nan" else "-"
        note = "" if int(done) >= int(expected) else f"  timed out: {done} of {expected} delivered, {pending} pending"
        print(f"{endpoints:>9}{events:>8}{expected:>12}{seconds:>9.1f}{first:>9}{rate:>9.0f}{rate / floor_rps:>10.3f}"
              f"{attempts:>10}{deliveries:>8}{distinct:>10}{note}")
    probes = [r for r in rows if r[0] == "webhooks_probe"]
    if probes:
        print("sized by probes of 100 deliveries: " + ", ".join(
            f"{r[1]} endpoint(s) {int(r[4]) / max(int(r[5]), 1) * 1000:.0f}/s" for r in probes))
    print("(deliveries: all succeeded; seconds: from the events' commit until the last one succeeded, polled every "
          "100 ms; first s: until the first succeeded; attempts = rows = distinct when none was sent twice)")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "summary":
        sys.exit(__doc__)
    summary(sys.argv[2])
