# shellcheck shell=bash
# The client pages part of scripts/bench (sourced there; uses its psql_cmd,
# practice_id, instrument_id, api_port, token, work, seconds, results and
# run_wrk; the service must run with ATTUNE_PUBLIC_URL pointing at itself).
#
# Rendering an assessment's form through a link (GET /l/assessments/{id})
# next to the reads an integrator's portal makes to render the same form
# (GET /v1/assessments/{id}, GET /v1/instruments/{id}); and submitting a full
# answer set through a link (POST /l/assessments/{id}, 303 to /l/thanks)
# next to POST /v1/assessments/{id}/responses with the same answers (200).
# Every submission completes an assessment that was still open: enough are
# created beforehand for BENCH_PAGES_RATE submissions a second on each side
# (warm-ups included), and a wrk thread that runs out stops, which the table
# says. scripts/lib/bench_pages.py sets up and reports; bench_pages.lua drives wrk.

pages_rate="${BENCH_PAGES_RATE:-2000}"
pages_conns=(8 32)
echo "setting up the client pages..." >&2
python3 scripts/lib/bench_pages.py setup --api "http://127.0.0.1:$api_port" --token "$token" \
    --practice "$practice_id" --instrument "$instrument_id" --work "$work" \
    --submissions "$(( pages_rate * (seconds + 2) * ${#pages_conns[@]} ))" -- "${psql_cmd[@]}" -d attune_bench

# CPU seconds used so far by the service and by the database's processes.
pages_cpu() {
    python3 scripts/lib/bench_pages.py cpu "$service_pid" "$work/pg/postmaster.pid"
}

# run_wrk with one of bench_pages.py's scripts, then its own counts (requests
# sent, answers other than the one expected, whether it ran out) and the CPU
# the service and the database spent per request (warm-up included).
pages_wrk() { # name connections
    local service_before database_before service_after database_after
    : >"$work/pages-$1.report"
    read -r service_before database_before < <(pages_cpu)
    run_wrk "$1" "$2" "$work/pages-$1.lua" "http://127.0.0.1:$api_port/"
    read -r service_after database_after < <(pages_cpu)
    python3 scripts/lib/bench_pages.py walked "$work/pages-$1.report" "$1" "$2" \
        "$service_before" "$database_before" "$service_after" "$database_after" >>"$results"
}

for conns in "${pages_conns[@]}"; do
    pages_wrk page_form "$conns"
    pages_wrk api_assessment "$conns"
    pages_wrk api_instrument "$conns"
done
for conns in "${pages_conns[@]}"; do
    pages_wrk page_submit "$conns"
    pages_wrk api_submit "$conns"
done
