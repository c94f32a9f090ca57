# shellcheck shell=bash
# The exports part of scripts/bench (sourced there under BENCH_ONLY=exports
# and in the full run; uses its psql_cmd, api_port, binary, service_pid and
# work).
#
# A practice of its own gets BENCH_EXPORT_CLIENTS clients (default 10,000)
# with a year of history each, by SQL: weekly administrations of both
# built-in forms with answers, scores and results, three assignments logged
# daily (a reflection every seventh day), an audit entry per client and per
# administration; and one client with three years of it. Then, through the
# API: a bulk export of everything, timed from kick-off to manifest, with
# the service's peak RSS while it ran (VmHWM, reset first through
# /proc/PID/clear_refs, and VmRSS sampled every 200 ms); and the record of
# the client with the most history, as JSON and as FHIR (seconds, bytes,
# peak RSS).

export_clients="${BENCH_EXPORT_CLIENTS:-10000}"
: >>"$results" # the summary reads it, and this part adds no rows to it
export_creds="$("$binary" bootstrap --practice "Exports bench" --json)"
export_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$export_creds" "$1"; }
export_practice="$(export_field practice_id)"
export_token="$(curl -fs -u "$(export_field client_id):$(export_field client_secret)" -d grant_type=client_credentials \
    "http://127.0.0.1:$api_port/v1/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

# seed_export_histories PREFIX COUNT WEEKS DAYS
seed_export_histories() {
    "${psql_cmd[@]}" -d attune_bench <<SQL
INSERT INTO clients (practice_id, id, external_id, display_name, status)
  SELECT '$export_practice', gen_random_uuid(), '$1-' || g, 'Export ' || g, 'active' FROM generate_series(1, $2) g;
INSERT INTO audit_events (practice_id, id, api_client, actor, action, operation, resource_type, resource_id,
                          client_id, outcome)
  SELECT '$export_practice', gen_random_uuid(), 'bench', 'clinician-1', 'create', 'create_client', 'client', id, id, 201
    FROM clients WHERE practice_id = '$export_practice' AND external_id LIKE '$1-%';
-- Seven answer sets per form (each item answered, values cycling over the
-- scale), and a result with every subscale scored.
CREATE TEMP TABLE answer_sets AS
  SELECT i.id AS instrument_id, v.variant,
         (SELECT jsonb_agg(jsonb_build_object('item_id', it ->> 'id', 'value', 1 + (v.variant + o::int) % 7) ORDER BY o)
            FROM jsonb_array_elements(i.definition -> 'items') WITH ORDINALITY t(it, o)) AS answers,
         jsonb_build_object(
           'subscales', (SELECT jsonb_agg(jsonb_build_object('key', s ->> 'key', 'score', 1 + v.variant * 0.75 + o * 0.1,
                                                             'raw', 6 * (1 + v.variant * 0.75), 'answered', 6, 'missing', 0,
                                                             'band', NULL) ORDER BY o)
                           FROM jsonb_array_elements(i.definition -> 'subscales') WITH ORDINALITY t(s, o)),
           'classification', jsonb_build_object('label', 'interdependent', 'explanation', 'seeded')) AS result
    FROM instruments i CROSS JOIN generate_series(0, 6) v(variant) WHERE i.practice_id IS NULL;
CREATE TEMP TABLE seed AS
  SELECT c.id AS client_id, i.id AS instrument_id, i.key AS instrument_key, gen_random_uuid() AS id,
         now() - make_interval(weeks => w) AS at, (w + c.n) % 7 AS variant
    FROM (SELECT id, row_number() OVER () AS n FROM clients
           WHERE practice_id = '$export_practice' AND external_id LIKE '$1-%') c
    CROSS JOIN generate_series(0, $3 - 1) w
    CROSS JOIN instruments i WHERE i.practice_id IS NULL;
INSERT INTO assessments (practice_id, id, client_id, instrument_id, status, answers, result, version, created_at, updated_at, completed_at)
  SELECT '$export_practice', s.id, s.client_id, s.instrument_id, 'completed', a.answers, a.result, 2, s.at, s.at, s.at
    FROM seed s JOIN answer_sets a ON a.instrument_id = s.instrument_id AND a.variant = s.variant;
INSERT INTO assessment_scores (practice_id, assessment_id, client_id, instrument_id, instrument_key, subscale, score, completed_at)
  SELECT '$export_practice', s.id, s.client_id, s.instrument_id, s.instrument_key, sub ->> 'key', (sub ->> 'score')::float8, s.at
    FROM seed s JOIN answer_sets a ON a.instrument_id = s.instrument_id AND a.variant = s.variant
    CROSS JOIN jsonb_array_elements(a.result -> 'subscales') sub;
INSERT INTO audit_events (practice_id, id, api_client, actor, action, operation, resource_type, resource_id,
                          client_id, outcome, occurred_at)
  SELECT '$export_practice', gen_random_uuid(), 'bench', 'clinician-1', 'update', 'submit_responses', 'assessment', id,
         client_id, 200, at FROM seed;
CREATE TEMP TABLE seed_homework AS
  SELECT c.id AS client_id, e.id AS exercise_id, gen_random_uuid() AS id, x.cadence
    FROM clients c
    CROSS JOIN (VALUES ('ask_for_small_help', 3), ('delight_in_solo_time', 2), ('weekly_check_in', 1)) x(key, cadence)
    JOIN exercises e ON e.key = x.key AND e.practice_id IS NULL
   WHERE c.practice_id = '$export_practice' AND c.external_id LIKE '$1-%';
INSERT INTO homework (practice_id, id, client_id, exercise_id, cadence_per_week, starts_on, status, note)
  SELECT '$export_practice', id, client_id, exercise_id, cadence, current_date - $4, 'active', 'Start small.' FROM seed_homework;
INSERT INTO homework_logs (practice_id, id, homework_id, client_id, occurred_at, done, fields, reflection)
  SELECT '$export_practice', gen_random_uuid(), h.id, h.client_id, (current_date - $4 + d) + time '09:00', d % 5 <> 0,
         jsonb_build_object('minutes', 10 + d % 30),
         CASE WHEN d % 7 = 0 THEN 'A week in: easier than I expected, and I noticed the urge to check in less.' END
    FROM seed_homework h CROSS JOIN generate_series(0, $4 - 1) d;
DROP TABLE answer_sets, seed, seed_homework;
SQL
}

echo "seeding an exports practice: $export_clients clients with a year of history, and one with three years..." >&2
seed_started=$SECONDS
seed_export_histories exp "$export_clients" 52 365
seed_export_histories longest 1 156 1095
"${psql_cmd[@]}" -d attune_bench -c "ANALYZE"
echo "seeded in $((SECONDS - seed_started)) s: $("${psql_cmd[@]}" -d attune_bench -c "
  SELECT (SELECT count(*) FROM clients WHERE practice_id = '$export_practice') || ' clients, '
      || (SELECT count(*) FROM assessments WHERE practice_id = '$export_practice') || ' assessments, '
      || (SELECT count(*) FROM assessment_scores WHERE practice_id = '$export_practice') || ' scores, '
      || (SELECT count(*) FROM homework WHERE practice_id = '$export_practice') || ' assignments, '
      || (SELECT count(*) FROM homework_logs WHERE practice_id = '$export_practice') || ' logs, '
      || (SELECT count(*) FROM audit_events WHERE practice_id = '$export_practice') || ' audit entries, '
      || pg_size_pretty(pg_database_size('attune_bench')) || ' database'")" >&2

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$service_pid/status"; }
# Resets the service's VmHWM to its current RSS (Linux: clear_refs 5).
reset_peak() { echo 5 >"/proc/$service_pid/clear_refs" 2>/dev/null || true; }
# Samples VmRSS every 200 ms into FILE until stopped.
sample_rss() { while kill -0 "$service_pid" 2>/dev/null; do kib VmRSS >>"$1"; sleep 0.2; done; }

export_rss="$work/export-rss.txt"
rss_before="$(kib VmRSS)"
reset_peak
sample_rss "$export_rss" &
sampler_pid=$!
started="$(date +%s.%N)"
location="$(curl -fs -D - -o /dev/null -X POST "http://127.0.0.1:$api_port/v1/exports" \
    -H "Authorization: Bearer $export_token" -H 'Prefer: respond-async' | tr -d '\r' |
    awk -F': ' 'tolower($1) == "content-location" {print $2}')"
while :; do
    code="$(curl -s -o "$work/manifest.json" -w '%{http_code}' "$location" -H "Authorization: Bearer $export_token")"
    [ "$code" = 202 ] || break
    sleep 0.5
done
finished="$(date +%s.%N)"
kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true
[ "$code" = 200 ] || { echo "the export answered $code: $(cat "$work/manifest.json")" >&2; exit 1; }
export_hwm="$(kib VmHWM)"
export_id="${location##*/}"
export_bytes="$("${psql_cmd[@]}" -d attune_bench -c "SELECT sum(bytes) FROM export_files WHERE export_id = '$export_id'")"

longest_id="$("${psql_cmd[@]}" -d attune_bench -c "SELECT id FROM clients WHERE external_id = 'longest-1' AND practice_id = '$export_practice'")"
measure_record() { # label accept
    reset_peak
    local before out="$work/record-$1"
    before="$(kib VmRSS)"
    curl -fs -o "$out" -w '%{time_total} %{size_download}\n' -H "Authorization: Bearer $export_token" -H "Accept: $2" \
        "http://127.0.0.1:$api_port/v1/clients/$longest_id/record" >"$out.timing"
    python3 - "$out" "$1" >&2 <<'PY'
import json, sys
json.load(open(sys.argv[1]))  # the whole record parses
PY
    echo "$1 $(cat "$out.timing") $before $(kib VmHWM)" >>"$work/records.txt"
}
measure_record json application/json
measure_record fhir application/fhir+json

python3 - "$work/manifest.json" "$export_rss" "$started" "$finished" "$rss_before" "$export_hwm" "$export_bytes" \
    "$work/records.txt" "$export_clients" <<'PY'
import collections, json, sys
manifest = json.load(open(sys.argv[1]))
samples = [int(x) for x in open(sys.argv[2]).read().split()] or [0]
seconds = float(sys.argv[4]) - float(sys.argv[3])
before, hwm, total_bytes, clients = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7] or 0), int(sys.argv[9])
counts = collections.Counter()
for file in manifest["output"]:
    counts[file["type"]] += file["count"]
resources = sum(counts.values())
print(f"\nBulk export of a practice of {clients:,} clients with a year of history (+1 with three years):")
print(f"  {seconds:.1f} s from kick-off to manifest, {resources:,} resources ({resources / seconds:,.0f}/s) "
      f"in {len(manifest['output'])} files, {total_bytes / 2**20:,.0f} MiB of NDJSON")
print("  " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
print(f"  service RSS: {before / 1024:.0f} MiB before; peak {hwm / 1024:.0f} MiB (VmHWM) while it ran; "
      f"sampled VmRSS max {max(samples) / 1024:.0f} MiB, median {sorted(samples)[len(samples) // 2] / 1024:.0f} MiB")
for line in open(sys.argv[8]):
    label, seconds, size, before, hwm = line.split()
    print(f"  record of the client with the most history ({label}): {float(seconds):.2f} s, "
          f"{int(float(size)) / 2**20:.1f} MiB, service RSS {int(before) / 1024:.0f} MiB before, peak {int(hwm) / 1024:.0f} MiB")
PY
