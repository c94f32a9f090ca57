# shellcheck shell=bash
# The webhooks part of scripts/bench (sourced there; uses its psql_cmd,
# practice_id, api_port, token, work, seconds, results, run_wrk, run_pgbench,
# free_port and nginx_pid, which its cleanup kills; the service must run
# with ATTUNE_WEBHOOK_KEY and ATTUNE_WEBHOOK_ALLOW_LOOPBACK=true).
#
# What the outbox costs writes: pgbench on the SQL of POST /v1/assessments
# and POST /v1/homework/{id}/logs as scripts/bench has it (the audit entry
# recorded by `audit_append`, no events), and on copies that record the
# entry with the events as the service does (`audit_record`, one statement
# for the entry and the events, last before COMMIT; the numbers come after
# the commit; two events for an assessment created with its answers, one
# for a log), and on copies whose `audit_record` writes the same event rows
# to a table without indexes (the floor of any transactional outbox), at 8
# and 32 connections, in the order plain, event, floor, floor, event, plain
# so that drift on a shared machine falls on all three alike.
#
# How fast the dispatcher delivers: a local nginx that answers 204 (its own
# floor first: wrk POSTing to it at 8 connections), then deliveries to 1
# endpoint, and to 4 endpoints (distinct paths on the same nginx): as many as
# a probe run of 100 says take about BENCH_SECONDS, or BENCH_WEBHOOK_DELIVERIES
# in all when set (N/4 events for 4 endpoints). Each run registers its
# endpoints, inserts the events in one statement (gap-free, after the
# practice's last sequence), times until every delivery has succeeded
# (polled every 100 ms, for BENCH_WEBHOOK_TIMEOUT seconds at most, default
# 120), counts the attempts made against the deliveries, and disables its
# endpoints so that runs do not mix. scripts/lib/bench_webhooks.py reports.

webhook_deliveries="${BENCH_WEBHOOK_DELIVERIES:-}"
webhook_timeout="${BENCH_WEBHOOK_TIMEOUT:-120}"
if ! command -v nginx >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi

# ---- The outbox's cost to writes.

# The floor of any transactional outbox: the same rows into a table with the
# events' columns and no index, never numbered (nothing reads them), written
# by a copy of the migration's `audit_record` (taken from the database, so
# the two stay alike). What a write with these rows costs over the plain
# write is the least an event written with its change can cost; the summary
# prints it next to the real outbox's.
"${psql_cmd[@]}" -d attune_bench -c "CREATE TABLE bench_outbox_floor (LIKE events INCLUDING DEFAULTS)"
"${psql_cmd[@]}" -d attune_bench -c "SELECT pg_get_functiondef('audit_record'::regproc)" |
    sed -e 's/FUNCTION public\.audit_record(/FUNCTION bench_audit_record_floor(/' \
        -e 's/INSERT INTO events /INSERT INTO bench_outbox_floor /' |
    "${psql_cmd[@]}" -d attune_bench >/dev/null
# with_events FUNCTION SQLFILE OPERATION RESOURCE_TYPE TYPE DATA [TYPE DATA]...:
# SQLFILE's copy whose `audit_append` statement (its write's entry) becomes
# FUNCTION's call with the same entry and these events, in order; event ids
# are time-ordered as the service's (scripts/bench's uuid_v7_sql).
with_events() {
    local function="$1" file="$2" operation="$3" resource_type="$4" ids=() types=() data=()
    shift 4
    while [ "$#" -ge 2 ]; do
        ids+=("$uuid_v7_sql"); types+=("'$1'"); data+=("$2")
        shift 2
    done
    python3 "$(dirname "${BASH_SOURCE[0]}")/bench_with_events.py" "$file" "$function" "$operation" "$resource_type" \
        "$practice_id" "$client_id" "$target_id" \
        "$(IFS=,; echo "${ids[*]}")" "$(IFS=,; echo "${types[*]}")" "$(IFS=,; echo "${data[*]}")"
}
# POST /v1/assessments with answers writes two events: assessment.assigned,
# then assessment.completed.
assessment_uuid="(lpad(to_hex(:a::bigint), 16, '0') || lpad(to_hex(:b::bigint), 16, '0'))::uuid"
for target in event:audit_record floor:bench_audit_record_floor; do
    with_events "${target#*:}" "$work/assess.sql" create_assessment assessment \
        assessment.assigned \
        "jsonb_build_object('client_id', '$target_id'::uuid, 'assessment_id', $assessment_uuid, 'status', 'assigned')" \
        assessment.completed \
        "jsonb_build_object('client_id', '$target_id'::uuid, 'assessment_id', $assessment_uuid, 'status', 'completed')" \
        >"$work/assess_${target%%:*}.sql"
    with_events "${target#*:}" "$work/log.sql" create_homework_log homework homework.logged \
        "jsonb_build_object('client_id', '$target_id'::uuid, 'homework_id', '$homework_id'::uuid, 'log_id', gen_random_uuid(), 'status', 'active')" \
        >"$work/log_${target%%:*}.sql"
done

echo "measuring the outbox's cost to writes..." >&2
for conns in 8 32; do
    for name in assess log; do
        run_pgbench "wh_${name}_plain" "$conns" "$work/$name.sql"
        run_pgbench "wh_${name}_event" "$conns" "$work/${name}_event.sql"
        run_pgbench "wh_${name}_floor" "$conns" "$work/${name}_floor.sql"
        run_pgbench "wh_${name}_floor" "$conns" "$work/${name}_floor.sql"
        run_pgbench "wh_${name}_event" "$conns" "$work/${name}_event.sql"
        run_pgbench "wh_${name}_plain" "$conns" "$work/$name.sql"
    done
done

# ---- Delivery throughput.

# The receiver: nginx in the foreground, answering 204 to anything.
nginx_port="$(free_port)"
mkdir -p "$work/nginx"
{
    [ "$(id -u)" = 0 ] && echo "user root;"
    cat <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { return 204; }
    }
}
NGINX
} >"$work/nginx/nginx.conf"
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g "daemon off;" \
    >"$work/nginx/stdout.log" 2>&1 &
nginx_pid=$!
for _ in $(seq 1 50); do curl -fs -X POST "http://127.0.0.1:$nginx_port/hook" >/dev/null && break; sleep 0.1; done
if ! curl -fs -X POST "http://127.0.0.1:$nginx_port/hook" >/dev/null; then
    echo "the receiver (nginx) did not start:" >&2
    cat "$work/nginx/stdout.log" "$work/nginx/error.log" >&2 || true
    exit 1
fi

# Its floor: a body and headers the size of a delivery's.
cat >"$work/receiver.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"id":"$(python3 -c 'import uuid; print(uuid.uuid4())')","type":"client.created","sequence":1,"occurred_at":"2026-12-02T00:00:00.000000Z","data":{"client_id":"$target_id","status":"active"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["webhook-id"] = "$(python3 -c 'import uuid; print(uuid.uuid4())')"
wrk.headers["webhook-timestamp"] = "1764633600"
wrk.headers["webhook-signature"] = "v1,$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
LUA
echo "measuring the receiver's floor..." >&2
run_wrk wh_receiver 8 "$work/receiver.lua" "http://127.0.0.1:$nginx_port/hook"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
in_list() { local IFS=,; echo "$*"; }

# webhook_run KIND ENDPOINTS EVENTS: registers ENDPOINTS endpoints for
# client.created, inserts EVENTS events, waits for every delivery (all
# ENDPOINTS x EVENTS), disables the endpoints and writes a KIND row.
webhook_run() {
    local kind="$1" count="$2" events="$3" ids=() id i
    for i in $(seq 1 "$count"); do
        id="$(curl -fs "http://127.0.0.1:$api_port/v1/webhook-endpoints" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' \
            -d "{\"url\": \"http://127.0.0.1:$nginx_port/hook$i\", \"event_types\": [\"client.created\"]}" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
        ids+=("'$id'")
    done
    local endpoints expected=$(( events * count )) done_count=0 first_ms="" started elapsed
    endpoints="$(in_list "${ids[@]}")"
    echo "delivering $expected webhooks to $count endpoint(s)$([ "$kind" = webhooks ] || echo " ($kind)")..." >&2
    # The events, numbered on from the practice's last one, in one statement.
    "${psql_cmd[@]}" -d attune_bench -v ON_ERROR_STOP=1 <<SQL
BEGIN;
INSERT INTO event_sequences (practice_id, last_sequence) VALUES ('$practice_id', 0) ON CONFLICT (practice_id) DO NOTHING;
WITH taken AS (
    UPDATE event_sequences SET last_sequence = last_sequence + $events WHERE practice_id = '$practice_id'
    RETURNING last_sequence - $events AS last)
INSERT INTO events (practice_id, sequence, id, type, data)
  SELECT '$practice_id', taken.last + g, gen_random_uuid(), 'client.created',
         jsonb_build_object('client_id', gen_random_uuid(), 'status', 'active')
    FROM taken, generate_series(1, $events) g;
COMMIT;
SQL
    started="$(now_ms)"
    while :; do
        done_count="$("${psql_cmd[@]}" -d attune_bench -c \
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded' AND endpoint_id IN ($endpoints)")"
        elapsed=$(( $(now_ms) - started ))
        [ -z "$first_ms" ] && [ "$done_count" -gt 0 ] && first_ms="$elapsed"
        [ "$done_count" -ge "$expected" ] && break
        if [ "$elapsed" -ge $(( webhook_timeout * 1000 )) ]; then
            echo "timed out after ${webhook_timeout} s with $done_count of $expected delivered" >&2
            break
        fi
        sleep 0.1
    done
    for id in "${ids[@]}"; do
        curl -fs -X PATCH "http://127.0.0.1:$api_port/v1/webhook-endpoints/${id//\'/}" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/merge-patch+json' -d '{"enabled": false}' >/dev/null
    done
    # Attempts, deliveries and distinct (endpoint, event) pairs: all equal when none was sent twice.
    local counts
    counts="$("${psql_cmd[@]}" -d attune_bench -F $'\t' -c "
      SELECT (SELECT count(*) FROM webhook_attempts WHERE endpoint_id IN ($endpoints)),
             count(*), count(DISTINCT (endpoint_id, webhook_id)), count(*) FILTER (WHERE state = 'pending')
        FROM webhook_deliveries WHERE endpoint_id IN ($endpoints)")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$count" "$events" "$expected" "$done_count" \
        "$elapsed" "${first_ms:-nan}" "$counts" >>"$results"
}

# The events of a run to ENDPOINTS endpoints: BENCH_WEBHOOK_DELIVERIES in
# all when set; else what a probe of 100 deliveries says the dispatcher gets
# through in BENCH_SECONDS (at least 250, at most 50,000 deliveries).
webhook_events() { # endpoints
    if [ -n "$webhook_deliveries" ]; then
        echo $(( webhook_deliveries / $1 ))
        return
    fi
    webhook_run webhooks_probe "$1" $(( 100 / $1 ))
    python3 - "$results" "$1" "$seconds" <<'PY'
import sys
row = [r.rstrip("\n").split("\t") for r in open(sys.argv[1]) if r.startswith("webhooks_probe\t")][-1]
endpoints, seconds = int(sys.argv[2]), int(sys.argv[3])
rate = int(row[4]) / max(int(row[5]), 1) * 1000
deliveries = min(max(rate * seconds, 250), 50000)
print(max(1, round(deliveries / endpoints / 10) * 10))
PY
}
for endpoints in 1 4; do
    webhook_run webhooks "$endpoints" "$(webhook_events "$endpoints")"
done
printf 'webhook_settings\t%s\t%s\n' "${ATTUNE_WEBHOOK_POLL_MS:-1000}" \
    "${ATTUNE_WEBHOOK_CONCURRENCY_PER_ENDPOINT:-4}" >>"$results"
