# shellcheck shell=bash
# The Citus part of scripts/bench (BENCH_ONLY=citus; sourced there, uses its
# work, binary, jwt_secret, practice_id, token, target_id, instrument_id,
# answers, api_port, psql_cmd and run_wrk).
#
# The same requests through a Citus coordinator (two workers, all on this
# machine) and on the single PostgreSQL of the rest of the bench, in one
# run, alternated so drift falls on both: GET /v1/clients/{id},
# POST /v1/assessments with a full answer set, and the progress of a client
# with three years of history. Each side has a practice of its own seeded
# alike. The coordinator adds a hop (coordinator -> worker) to every
# statement, on the same two cores, so expect below 1.0.

source scripts/lib/citus.sh
source scripts/lib/bench_seed.sh
if ! reason="$(citus_available)"; then
    echo "citus part skipped: $reason" >&2
else
    citus_install >/dev/null
    citus_dir="$work/cluster"
    # Durable like the bench's own server (citus.sh's nodes skip fsync unless asked).
    coordinator="$(PG_FSYNC=on citus_start "$citus_dir" attune_bench 2>"$work/citus-start.log" | tail -n 1)"
    DATABASE_URL="$coordinator" "$binary" migrate >/dev/null
    citus_creds="$(DATABASE_URL="$coordinator" "$binary" bootstrap --practice "Bench on Citus" --json)"
    citus_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$citus_creds" "$1"; }
    citus_port="$(free_port)"
    DATABASE_URL="$coordinator" ATTUNE_JWT_SECRET="$jwt_secret" ATTUNE_BIND="127.0.0.1:$citus_port" \
    ATTUNE_SKIP_MIGRATIONS=true ATTUNE_WEBHOOK_DISPATCH=false ATTUNE_METRICS_BIND=off \
    ATTUNE_TOKEN_LIFETIME_SECONDS=7200 RUST_LOG=warn \
        "$binary" serve >"$work/service-citus.log" 2>&1 &
    citus_service_pid=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$citus_port/readyz" >/dev/null && break; sleep 0.1; done
    citus_token="$(curl -fs -u "$(citus_field client_id):$(citus_field client_secret)" -d grant_type=client_credentials \
        "http://127.0.0.1:$citus_port/v1/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
    citus_target="$(curl -fs "http://127.0.0.1:$citus_port/v1/clients" -H "Authorization: Bearer $citus_token" \
        -H 'Content-Type: application/json' -d '{"display_name": "Bench target"}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

    # Three years of history for one client of each practice, and the
    # 20,000 clients the single database's practice already has.
    echo "seeding both practices..." >&2
    seed_psql=("$PG_BIN/psql" "$coordinator" -qtA)
    seed_practice="$(citus_field practice_id)"
    "${seed_psql[@]}" -c "INSERT INTO clients (practice_id, id, external_id, display_name, status)
      SELECT '$seed_practice', gen_random_uuid(), 'seed-' || g, 'Seed ' || g, 'active' FROM generate_series(1, 20000) g"
    seed_histories hist 1 156 1095
    citus_history="$("${seed_psql[@]}" -c "SELECT id FROM clients WHERE practice_id = '$seed_practice' AND external_id = 'hist-1'")"
    seed_psql=("${psql_cmd[@]}" -d attune_bench)
    seed_practice="$practice_id"
    seed_histories hist 1 156 1095
    single_history="$("${seed_psql[@]}" -c "SELECT id FROM clients WHERE practice_id = '$practice_id' AND external_id = 'hist-1'")"
    # The seeding's dirty pages and statistics settled on every node before measuring.
    for node_port in $(_citus_nodes "$citus_dir" | awk '{print $3}'); do
        "$PG_BIN/psql" -h 127.0.0.1 -p "$node_port" -U postgres -d attune_bench -qc "VACUUM ANALYZE" -c "CHECKPOINT"
    done
    "${psql_cmd[@]}" -d attune_bench -c "VACUUM ANALYZE" -c "CHECKPOINT"

    cat >"$work/assess-citus.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"client_id": "$citus_target", "instrument_id": "$instrument_id", "answers": $answers}'
wrk.headers["Content-Type"] = "application/json"
LUA
    # citus_pair NAME CONNS SCRIPT SINGLE_PATH CITUS_PATH: single, Citus,
    # Citus, single.
    citus_pair() {
        local single_script="${3:-}" citus_script=""
        [ -n "$3" ] && citus_script="$work/$(basename "$3" .lua)-citus.lua"
        run_wrk "single_$1" "$2" "$single_script" "http://127.0.0.1:$api_port$4"
        token="$citus_token" run_wrk "citus_$1" "$2" "$citus_script" "http://127.0.0.1:$citus_port$5"
        token="$citus_token" run_wrk "citus_$1" "$2" "$citus_script" "http://127.0.0.1:$citus_port$5"
        run_wrk "single_$1" "$2" "$single_script" "http://127.0.0.1:$api_port$4"
    }
    for conns in 8 32; do
        citus_pair get "$conns" "" "/v1/clients/$target_id" "/v1/clients/$citus_target"
        citus_pair assess "$conns" "$work/assess.lua" /v1/assessments /v1/assessments
        citus_pair progress "$conns" "" "/v1/clients/$single_history/progress" "/v1/clients/$citus_history/progress"
    done
    kill "$citus_service_pid" && wait "$citus_service_pid" 2>/dev/null || true
    citus_service_pid=""
    citus_stop "$citus_dir" >/dev/null 2>&1 || true
    citus_dir=""
fi
