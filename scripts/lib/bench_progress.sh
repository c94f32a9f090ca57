# shellcheck shell=bash
# The progress part of scripts/bench (sourced there; uses its psql_cmd,
# practice_id, api_port, token, work, run_wrk and run_pgbench).
#
# A client with three years of history (weekly administrations of both
# built-in instruments, daily logs on three assignments) is measured alone,
# then again after 1,000 other clients with a year of history each join the
# practice: progress reads only the client's own rows, so the figures should
# not move. EXPLAIN plans of the heavy queries are printed for both.

source scripts/lib/bench_seed.sh
seed_psql=("${psql_cmd[@]}" -d attune_bench)
seed_practice="$practice_id"

echo "seeding a client with three years of history..." >&2
seed_histories hist 1 156 1095
history_id="$("${psql_cmd[@]}" -d attune_bench -c "SELECT id FROM clients WHERE external_id = 'hist-1'")"
progress_url="http://127.0.0.1:$api_port/v1/clients/$history_id/progress"
chart_url="$progress_url/chart.svg?instrument=attachment_lean_short_form&subscale=anxiety"
curl -fs "$progress_url" -H "Authorization: Bearer $token" -o "$work/progress.json"
curl -fs "$chart_url" -H "Authorization: Bearer $token" -o "$work/chart.svg"
python3 - "$work/progress.json" >&2 <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
points = sum(len(s["series"]) for i in p["instruments"] for s in i["subscales"])
print(f"progress: {len(open(sys.argv[1]).read()) // 1024} KiB, {points} score points, "
      f"{sum(len(i['classifications']) for i in p['instruments'])} classifications, "
      f"{len(p['adherence']['assignments'])} assignments, {len(p['flags'])} flags")
PY

# The SQL the progress endpoint sends, in order (the instrument ids and
# homework ids are what the earlier queries return).
write_progress_sql() {
    local instruments homework
    instruments="$("${psql_cmd[@]}" -d attune_bench -c "SELECT string_agg(quote_literal(id), ',') FROM instruments WHERE practice_id IS NULL")"
    homework="$("${psql_cmd[@]}" -d attune_bench -c "SELECT string_agg(quote_literal(id), ',') FROM homework WHERE client_id = '$history_id'")"
    cat >"$work/progress.sql" <<SQL
SELECT id, external_id, display_name, status, version, created_at, updated_at, archived_at
  FROM clients WHERE practice_id = '$practice_id' AND id = '$history_id' LIMIT 1;
SELECT assessment_id, instrument_id, instrument_key, subscale, score, completed_at FROM assessment_scores
  WHERE practice_id = '$practice_id' AND client_id = '$history_id' ORDER BY instrument_key, subscale, completed_at;
SELECT a.id, i.key, a.completed_at, a.result -> 'classification' ->> 'label'
  FROM assessments a JOIN instruments i ON i.id = a.instrument_id
  WHERE a.practice_id = '$practice_id' AND a.client_id = '$history_id' AND a.status = 'completed' ORDER BY a.completed_at;
SELECT id, key, title, definition FROM instruments WHERE id IN ($instruments);
SELECT instrument_id, subscale, n, mean, sd, alpha, computed_at FROM local_norms
  WHERE practice_id = '$practice_id' AND instrument_id IN ($instruments);
SELECT h.id, e.key, e.title, h.cadence_per_week, h.starts_on, h.ends_on, h.status, h.updated_at
  FROM homework h JOIN exercises e ON e.id = h.exercise_id
  WHERE h.practice_id = '$practice_id' AND h.client_id = '$history_id' ORDER BY h.id;
SELECT homework_id, paused_at, resumed_at FROM homework_pauses WHERE practice_id = '$practice_id' AND homework_id IN ($homework);
SELECT homework_id, count(*) FILTER (WHERE done AND occurred_at >= coalesce(NULL::timestamptz, '-infinity') AND occurred_at < now()),
       max(occurred_at)
  FROM homework_logs WHERE practice_id = '$practice_id' AND homework_id IN ($homework) GROUP BY homework_id;
SELECT homework_id, occurred_at FROM homework_logs
  WHERE practice_id = '$practice_id' AND homework_id IN ($homework)
    AND occurred_at >= date_trunc('week', now()) - interval '11 weeks' AND occurred_at < now() AND done;
SELECT a.id, i.key, a.due_on FROM assessments a JOIN instruments i ON i.id = a.instrument_id
  WHERE a.practice_id = '$practice_id' AND a.client_id = '$history_id' AND a.status = 'assigned' AND a.due_on < current_date
  ORDER BY a.due_on;
SQL
}

explain_progress() { # label
    local out="$work/explain-$1.txt"
    grep -v '^\s*$' "$work/progress.sql" | python3 -c '
import sys
sql = sys.stdin.read().split(";")
for stmt in sql:
    if stmt.strip():
        print("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY OFF) " + stmt.strip() + ";")
' | "${psql_cmd[@]}" -d attune_bench >"$out"
    echo "--- EXPLAIN ($1): scan nodes and buffers per query" >&2
    grep -E "Scan|Buffers: shared" "$out" | sed 's/^ */  /' >&2
}

measure_progress() { # suffix
    run_wrk "progress$1" 1 "" "$progress_url"
    run_wrk "progress$1" 8 "" "$progress_url"
    run_pgbench "progress$1" 1 "$work/progress.sql"
    run_pgbench "progress$1" 8 "$work/progress.sql"
    run_wrk "chart$1" 1 "" "$chart_url"
    run_wrk "chart$1" 8 "" "$chart_url"
    run_pgbench "chart$1" 1 "$work/progress.sql"
    run_pgbench "chart$1" 8 "$work/progress.sql"
}

write_progress_sql
explain_progress "one client"
measure_progress ""

echo "seeding 1,000 other clients with a year of history each..." >&2
seed_histories other 1000 52 365
"${psql_cmd[@]}" -d attune_bench -c "SELECT 'practice now holds ' || (SELECT count(*) FROM assessments) || ' assessments, '
  || (SELECT count(*) FROM assessment_scores) || ' scores, ' || (SELECT count(*) FROM homework_logs) || ' homework logs'" >&2
explain_progress "with 1,000 others"
measure_progress "_big"
