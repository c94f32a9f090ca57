//! The audit trail: every access recorded once, refusals included; readable
//! as JSON and FHIR; append-only; tampering found by the chain's walk.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

/// A token of practice A acting for `actor`, with `scope` (all when `None`).
async fn token_acting(app: &TestApp, actor: &str, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials".to_owned()), ("actor", actor.to_owned())];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_owned()));
    }
    let response = app
        .http
        .post(app.url("/v1/oauth/token"))
        .basic_auth(app.practice_a.client_id, Some(&app.practice_a.client_secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/v1/audit-events{query}"), token).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["data"].as_array().unwrap().clone()
}

/// The newest entry of practice A for `operation`, straight from the table.
async fn newest(app: &TestApp, operation: &str) -> Value {
    let token = app.token_a().await;
    let found = entries(app, &token, "?limit=200").await;
    found.into_iter().find(|e| e["operation"] == operation).unwrap_or_else(|| panic!("no entry for {operation}"))
}

#[tokio::test]
async fn a_read_records_who_what_which_client_and_how_it_ended() {
    let app = TestApp::spawn().await;
    let token = token_acting(&app, "clinician-4711", None).await;
    let client = app.create_client(&token, json!({"display_name": "Robin Q.", "external_id": "ehr-881"})).await;
    let id = client["id"].as_str().unwrap();
    let response = app
        .http
        .get(app.url(&format!("/v1/clients/{id}")))
        .bearer_auth(&token)
        .header("x-request-id", "portal-read-17")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let read = newest(&app, "get_client").await;
    assert_eq!(read["action"], "read");
    assert_eq!(read["resource_type"], "client");
    assert_eq!((read["resource_id"].as_str(), read["client_id"].as_str()), (Some(id), Some(id)));
    assert_eq!(read["outcome"], 200);
    assert_eq!(read["actor"], "clinician-4711");
    assert_eq!(read["api_client_id"], app.practice_a.client_id.to_string());
    assert_eq!(read["request_id"], "portal-read-17");
    assert_eq!(read["source"], "127.0.0.1");
    // Linked into the chain within a second (the verifier links at once).
    verify(&app, &token).await;
    let path = format!("/v1/audit-events/{}", read["id"].as_str().unwrap());
    let linked: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(linked["hash"].as_str().unwrap().len(), 64);
    assert!(linked["sequence"].as_i64().unwrap() >= 2);

    let created = newest(&app, "create_client").await;
    assert_eq!((created["action"].as_str(), created["outcome"].as_i64()), (Some("create"), Some(201)));
    assert_eq!(created["client_id"], id);
    // Ids only: nothing the client is called by, anywhere in the trail.
    let named =
        app.count("SELECT count(*) FROM audit_events a WHERE a::text LIKE '%Robin%' OR a::text LIKE '%ehr-881%'").await;
    assert_eq!(named, 0);
}

#[tokio::test]
async fn refusals_are_recorded_in_the_callers_trail_and_unknown_callers_nowhere() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let readonly = token_acting(&app, "clinician-2", Some("clients:read")).await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await;
    let id = client["id"].as_str().unwrap();
    // Reading the trail to check it is itself recorded: leave those out.
    let recorded = "SELECT count(*) FROM audit_events WHERE operation <> 'list_audit_events'";
    let before = app.count(recorded).await;

    // Missing scope: 403, recorded with the client it was after.
    assert_problem(app.get(&format!("/v1/clients/{id}/progress"), &readonly).await, 403, "insufficient_scope").await;
    let refused = newest(&app, "get_client_progress").await;
    assert_eq!((refused["outcome"].as_i64(), refused["client_id"].as_str()), (Some(403), Some(id)));
    assert_eq!(refused["actor"], "clinician-2");
    // Another practice's client (or none): 404, in the prober's trail.
    let token_b = app.token_b().await;
    assert_problem(app.get(&format!("/v1/clients/{id}"), &token_b).await, 404, "not_found").await;
    let probed = format!(
        "SELECT count(*) FROM audit_events WHERE practice_id = '{}' AND operation = 'get_client' \
         AND outcome = 404 AND resource_id = '{id}'",
        app.practice_b.practice_id
    );
    assert_eq!(app.count(&probed).await, 1);
    // A token that does not check out names no practice: no trail to write to.
    assert_eq!(app.get(&format!("/v1/clients/{id}"), "not-a-token").await.status(), 401);
    assert_eq!(app.count(recorded).await, before + 2);
}

#[tokio::test]
async fn a_search_records_its_filters_and_count_never_what_it_found() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for name in ["Alma K.", "Bruno F.", "Cleo D."] {
        app.create_client(&token, json!({"display_name": name})).await;
    }
    let page = app.get("/v1/clients?status=active&limit=2", &token).await;
    assert_eq!(page.status(), 200);
    let search = newest(&app, "list_clients").await;
    assert_eq!(search["action"], "search");
    assert_eq!(search["query"], json!({"status": "active"}));
    assert_eq!(search["result_count"], 2);
    assert!(search["client_id"].is_null());
    let leaked = app.count("SELECT count(*) FROM audit_events a WHERE a::text ~ '(Alma|Bruno|Cleo)'").await;
    assert_eq!(leaked, 0);
}

#[tokio::test]
async fn the_trail_is_append_only() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    app.create_client(&token, json!({"display_name": "E."})).await;
    let mut db = app.db().await;
    use diesel_async::SimpleAsyncConnection;
    for statement in [
        "UPDATE audit_events SET outcome = 500",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "TRUNCATE audit_chain",
    ] {
        let refused = db.batch_execute(statement).await.unwrap_err().to_string();
        assert!(refused.contains("append-only"), "{statement}: {refused}");
    }
    assert!(app.count("SELECT count(*) FROM audit_events").await >= 1);
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let response = app.get("/v1/audit-events/verify", token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Changes the trail as someone with the database's superuser could, with
/// the append-only triggers bypassed.
async fn behind_the_services_back(app: &TestApp, sql: &str) {
    use diesel_async::SimpleAsyncConnection;
    let mut db = app.db().await;
    db.batch_execute(&format!("SET session_replication_role = replica; {sql}; SET session_replication_role = origin"))
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_walks_the_chain_and_names_the_first_entry_edited_or_removed() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for n in 0..5 {
        app.create_client(&token, json!({"display_name": format!("C{n}")})).await;
    }
    let practice = app.practice_a.practice_id;
    let walked = verify(&app, &token).await;
    assert_eq!((walked["ok"].as_bool(), walked["outside_chain"].as_i64()), (Some(true), Some(0)), "{walked}");
    assert!(walked["checked"].as_i64().unwrap() >= 5, "{walked}");

    // An edited outcome: that entry's own link breaks.
    let edited: Value = entries(&app, &token, "?action=create").await[2].clone();
    let (id, seq) = (edited["id"].as_str().unwrap().to_owned(), edited["sequence"].as_i64().unwrap());
    let edit = |outcome: u16| format!("UPDATE audit_events SET outcome = {outcome} WHERE id = '{id}'");
    behind_the_services_back(&app, &edit(500)).await;
    let walked = verify(&app, &token).await;
    assert_eq!(walked["ok"], false);
    assert_eq!(walked["first_broken"]["sequence"], seq);
    assert_eq!(walked["first_broken"]["id"], id.as_str());
    behind_the_services_back(&app, &edit(201)).await;
    assert_eq!(verify(&app, &token).await["ok"], true, "restored, the chain holds again");

    // A removed entry leaves its link without an entry.
    behind_the_services_back(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE id = (SELECT entry_id FROM audit_chain \
             WHERE practice_id = '{practice}' AND seq = 2)"
        ),
    )
    .await;
    let walked = verify(&app, &token).await;
    assert_eq!((walked["ok"].as_bool(), walked["first_broken"]["sequence"].as_i64()), (Some(false), Some(2)));
    assert!(walked["first_broken"]["reason"].as_str().unwrap().contains("removed"), "{walked}");
}

#[tokio::test]
async fn a_removed_link_leaves_a_gap_and_its_entry_outside_the_chain() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for n in 0..4 {
        app.create_client(&token, json!({"display_name": format!("G{n}")})).await;
    }
    let practice = app.practice_a.practice_id;
    assert_eq!(verify(&app, &token).await["ok"], true);
    behind_the_services_back(&app, &format!("DELETE FROM audit_chain WHERE practice_id = '{practice}' AND seq = 2"))
        .await;
    let walked = verify(&app, &token).await;
    assert_eq!((walked["ok"].as_bool(), walked["first_broken"]["sequence"].as_i64()), (Some(false), Some(3)));
    assert!(walked["first_broken"]["reason"].as_str().unwrap().contains("missing"), "{walked}");
    assert_eq!(walked["outside_chain"], 1, "the unlinked entry is outside the chain: {walked}");
}

#[tokio::test]
async fn an_entry_slipped_in_behind_the_services_back_is_found() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    app.create_client(&token, json!({"display_name": "S."})).await;
    assert_eq!(verify(&app, &token).await["ok"], true);
    let practice = app.practice_a.practice_id;
    behind_the_services_back(
        &app,
        &format!(
            "INSERT INTO audit_events (practice_id, id, api_client, action, operation, resource_type, outcome) \
             VALUES ('{practice}', gen_random_uuid(), 'someone', 'read', 'get_client', 'client', 200)"
        ),
    )
    .await;
    let walked = verify(&app, &token).await;
    assert_eq!((walked["ok"].as_bool(), walked["outside_chain"].as_i64()), (Some(false), Some(1)), "{walked}");
}

#[tokio::test]
async fn cutting_the_newest_links_is_found_at_the_head() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for n in 0..3 {
        app.create_client(&token, json!({"display_name": format!("H{n}")})).await;
    }
    assert_eq!(verify(&app, &token).await["ok"], true);
    let practice = app.practice_a.practice_id;
    let last = app.count(&format!("SELECT max(seq) AS count FROM audit_chain WHERE practice_id = '{practice}'")).await;
    behind_the_services_back(
        &app,
        &format!(
            "DELETE FROM audit_events WHERE id = (SELECT entry_id FROM audit_chain \
             WHERE practice_id = '{practice}' AND seq = {last}); \
             DELETE FROM audit_chain WHERE practice_id = '{practice}' AND seq = {last}"
        ),
    )
    .await;
    // Cut from the end, the head no longer matches; and anything linked
    // after the cut names the gap.
    let walked = verify(&app, &token).await;
    assert_eq!(walked["ok"], false, "{walked}");
    assert!(walked["first_broken"]["sequence"].as_i64().unwrap() >= last, "{walked}");
}

#[tokio::test]
async fn a_retention_purge_removes_a_prefix_records_it_and_leaves_the_chain_whole() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for n in 0..3 {
        app.create_client(&token, json!({"display_name": format!("Old {n}")})).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.create_client(&token, json!({"display_name": "New"})).await;
    // Only linked entries are purged: link everything first.
    assert_eq!(verify(&app, &token).await["ok"], true);
    let practice = app.practice_a.practice_id;
    let removed = app.count(&format!("SELECT audit_purge('{practice}', '{}') AS count", cut.to_rfc3339())).await;
    assert!(removed >= 3, "removed {removed}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM audit_purges WHERE practice_id = '{practice}'")).await, 1);
    use diesel_async::SimpleAsyncConnection;
    let refused = app.db().await.batch_execute("UPDATE audit_purges SET removed = 0").await.unwrap_err();
    assert!(refused.to_string().contains("append-only"), "the purge record is kept as it was: {refused}");
    let walked = verify(&app, &token).await;
    assert_eq!(walked["ok"], true, "{walked}");
    // Entries after the purge link on from its anchor.
    app.create_client(&token, json!({"display_name": "Newer"})).await;
    assert_eq!(verify(&app, &token).await["ok"], true);
}

#[tokio::test]
async fn the_trail_reads_filtered_paged_newest_first_as_json_and_fhir() {
    let app = TestApp::spawn().await;
    let token = token_acting(&app, "clinician-9", None).await;
    let a = app.create_client(&token, json!({"display_name": "A."})).await;
    let b = app.create_client(&token, json!({"display_name": "B."})).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    for _ in 0..3 {
        app.get(&format!("/v1/clients/{a_id}"), &token).await;
    }
    app.get(&format!("/v1/clients/{b_id}"), &token).await;
    let couple = app
        .post_json("/v1/relationships", &token, &json!({"kind": "couple", "client_ids": [a_id, b_id]}))
        .await
        .json::<Value>()
        .await
        .unwrap();

    // About client A: its creation, three reads, and the couple's creation (through the membership).
    let about_a = entries(&app, &token, &format!("?client_id={a_id}")).await;
    let operations: Vec<&str> = about_a.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["create_relationship", "get_client", "get_client", "get_client", "create_client"]);
    assert_eq!(about_a[0]["resource_id"], couple["id"]);
    let ids: Vec<&str> = about_a.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Filters combine; pages follow the cursor.
    let reads =
        entries(&app, &token, &format!("?client_id={a_id}&action=read&actor=clinician-9&outcome=success")).await;
    assert_eq!(reads.len(), 3);
    let first: Value = app.get("/v1/audit-events?limit=2", &token).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = entries(&app, &token, &format!("?limit=2&cursor={cursor}")).await;
    assert!(second[0]["id"].as_str() < first["data"][1]["id"].as_str());
    assert_problem(app.get("/v1/audit-events?action=peek", &token).await, 400, "invalid_query").await;

    // As FHIR: a Bundle of AuditEvents, and one by id.
    let fhir = app
        .http
        .get(app.url(&format!("/v1/audit-events?client_id={b_id}")))
        .bearer_auth(&token)
        .header("accept", "application/fhir+json")
        .send()
        .await
        .unwrap();
    assert_eq!(fhir.headers()["content-type"], "application/fhir+json");
    let bundle: Value = fhir.json().await.unwrap();
    assert_eq!((bundle["resourceType"].as_str(), bundle["type"].as_str()), (Some("Bundle"), Some("searchset")));
    let event = &bundle["entry"][0]["resource"];
    assert_eq!(event["resourceType"], "AuditEvent");
    assert_eq!(event["type"]["code"], "rest");
    let id = about_a[1]["id"].as_str().unwrap();
    let one = app
        .http
        .get(app.url(&format!("/v1/audit-events/{id}")))
        .bearer_auth(&token)
        .header("accept", "application/fhir+json")
        .send()
        .await
        .unwrap();
    let one: Value = one.json().await.unwrap();
    assert_eq!((one["id"].as_str(), one["subtype"][0]["code"].as_str()), (Some(id), Some("read")));
    assert_eq!(one["entity"][0]["what"]["reference"], format!("Patient/{a_id}"));
}

#[tokio::test]
async fn reading_the_trail_takes_audit_read_which_admin_includes() {
    let app = TestApp::spawn().await;
    let clinician = app.token_for(&app.practice_a, Some("clients:read clients:write")).await;
    assert_problem(app.get("/v1/audit-events", &clinician).await, 403, "insufficient_scope").await;
    let auditor = app.token_for(&app.practice_a, Some("audit:read")).await;
    assert_eq!(app.get("/v1/audit-events", &auditor).await.status(), 200);
    let admin = app.token_for(&app.practice_a, Some("admin")).await;
    assert_eq!(app.get("/v1/audit-events/verify", &admin).await.status(), 200);
    // Practice B sees none of A's entries.
    let token_b = app.token_b().await;
    let a_entry = entries(&app, &auditor, "?limit=1").await[0]["id"].as_str().unwrap().to_owned();
    assert_problem(app.get(&format!("/v1/audit-events/{a_entry}"), &token_b).await, 404, "not_found").await;
    let seen_by_b = entries(&app, &token_b, "?limit=200").await;
    assert!(seen_by_b.iter().all(|e| e["api_client_id"] == app.practice_b.client_id.to_string()));
}

#[tokio::test]
async fn with_read_auditing_off_only_writes_are_recorded() {
    let app = TestApp::spawn_with(|args| args.audit_reads = attune::audit::writer::ReadAuditing::Off).await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "Q."})).await;
    app.get(&format!("/v1/clients/{}", client["id"].as_str().unwrap()), &token).await;
    app.get("/v1/clients", &token).await;
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE action IN ('read', 'search')").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_events WHERE operation = 'create_client'").await, 1);
}

/// Reads the OpenAPI document and calls every audited operation once, as
/// the resource's own practice, with the schema's example body: whatever
/// the answer, the call leaves exactly one entry, with that answer.
#[tokio::test]
async fn every_audited_operation_leaves_exactly_one_entry_per_call() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.webhook_dispatch = false;
        settings.webhooks.webhook_timeout_ms = 300;
    })
    .await;
    let token = app.token_a().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let practice = app.practice_a.practice_id;
    let mut called = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !operation["x-attune-audit"].is_object() {
                continue;
            }
            let operation_id = operation["operationId"].as_str().unwrap();
            let mut url = path.clone();
            if path.contains("{id}") {
                let kind = path.split('/').nth(2).unwrap();
                url = url.replace("{id}", &crate::isolation::fixture(&app, &token, kind).await);
            }
            let count = format!(
                "SELECT count(*) FROM audit_events WHERE practice_id = '{practice}' AND operation = '{operation_id}'"
            );
            let before = app.count(&count).await;
            let method_name = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = app.http.request(method_name, app.url(&url)).bearer_auth(&token);
            if let Some((content_type, body)) = crate::isolation::example_body(&doc, operation) {
                request = request.header("content-type", content_type).body(body.to_string());
            }
            let status = request.send().await.unwrap().status().as_u16();
            assert_eq!(app.count(&count).await - before, 1, "{operation_id} answered {status}");
            let recorded = app.count(&format!("{count} AND outcome = {status}")).await;
            assert!(recorded >= 1, "{operation_id}: the entry says another outcome than {status}");
            called.push(operation_id.to_owned());
        }
    }
    assert!(called.len() >= 40, "called only {called:?}");
    assert_eq!(verify(&app, &token).await["ok"], true);
}

/// The sealer prints what a link hashes itself; the verifier hashes what
/// the database's `audit_content` prints. Entries with every awkward value
/// a column can hold must seal into a chain the verifier accepts.
#[tokio::test]
async fn the_sealers_bytes_are_the_databases_for_awkward_entries() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let practice = app.practice_a.practice_id;
    let awkward = r#"E'q"uote \\back\\slash \b\f\n\r\t \x01\x1f é 😀 </>'"#;
    let query =
        r#"'{"b": 1.50, "aa": 1e3, "é": [true, null, -0.0, 12345678901234567890], "": {"z": "\u0001\"\\"}}'::jsonb"#;
    let mut db = app.db().await;
    db.batch_execute(&format!(
        "SET TIME ZONE 'Asia/Kathmandu';
         SELECT audit_append('{practice}', ARRAY[gen_random_uuid(), gen_random_uuid()],
           ARRAY['2026-12-05 10:11:12.345678+05:45'::timestamptz, '1999-12-31 23:59:59.999999Z'::timestamptz],
           ARRAY[{awkward}, 'plain'], ARRAY[{awkward}, NULL], ARRAY['read', 'search'], ARRAY['get_client', 'list_clients'],
           ARRAY['client', 'client'], ARRAY[gen_random_uuid(), NULL], ARRAY[NULL, gen_random_uuid()], ARRAY[200, 404],
           ARRAY[{awkward}, NULL], ARRAY[NULL, {awkward}], ARRAY[{query}, NULL], ARRAY[NULL, 2147483647])"
    ))
    .await
    .unwrap();
    let walked = verify(&app, &token).await;
    assert_eq!((walked["ok"].as_bool(), walked["outside_chain"].as_i64()), (Some(true), Some(0)), "{walked}");
    let linked = app
        .count(&format!(
            "SELECT count(*) FROM audit_chain c JOIN audit_events e ON e.practice_id = c.practice_id \
             AND e.id = c.entry_id WHERE c.practice_id = '{practice}' AND e.operation IN ('get_client', 'list_clients')"
        ))
        .await;
    assert_eq!(linked, 2, "both awkward entries are linked, and the walk found their links whole");
}

/// A practice whose trail grows faster than the table is re-analysed looks
/// small to the planner. The sealer must still find a round's entries by
/// their keys, not by walking all of the practice's entries once a round
/// (which held a core for minutes under load, while the queue grew): here,
/// 20,000 entries in 20,000 batches (100 rounds) of a practice the
/// statistics have never seen are sealed by fetching about one row each.
/// The sealer before the fix read 2,000,000.
#[tokio::test]
async fn sealing_a_practice_the_statistics_have_not_seen_reads_each_entry_once() {
    use diesel::QueryableByName;
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    #[derive(QueryableByName)]
    struct Fetched {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        fetched: i64,
    }
    const ENTRIES: i64 = 20_000;
    let app = TestApp::spawn().await;
    let (older, practice) = (app.practice_a.practice_id, uuid::Uuid::now_v7());
    let mut db = app.db().await;
    // The service's own sealer stands aside (it skips a tick whose lock is
    // held), and the statistics stay as they are now: a trail of 100,000
    // entries of an older practice, none of `practice`.
    db.batch_execute(&format!(
        "SELECT pg_advisory_lock(hashtextextended('job:seal the audit trail', 0));
         ALTER TABLE audit_events SET (autovacuum_enabled = false);
         INSERT INTO audit_events (practice_id, id, occurred_at, api_client, action, operation, resource_type, outcome)
           SELECT '{older}', gen_random_uuid(), now(), 'api-client', 'read', 'get_client', 'client', 200
             FROM generate_series(1, 100000);
         ANALYZE audit_events;
         INSERT INTO practices (id, name) VALUES ('{practice}', 'Grows fast');
         SELECT audit_append('{practice}', ARRAY[gen_random_uuid()], ARRAY[now()], ARRAY['api-client'],
                             ARRAY[NULL]::text[], ARRAY['read'], ARRAY['get_client'], ARRAY['client'],
                             ARRAY[gen_random_uuid()], ARRAY[gen_random_uuid()], ARRAY[200], ARRAY[NULL]::text[],
                             ARRAY[NULL]::text[], ARRAY[NULL]::jsonb[], ARRAY[NULL]::int[])
           FROM generate_series(1, {ENTRIES});
         BEGIN;"
    ))
    .await
    .unwrap();
    let sealed =
        attune::audit::store::seal(&mut db, attune::practices::PracticeId(practice), uuid::Uuid::nil()).await.unwrap();
    let read: Fetched = diesel::sql_query(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS fetched \
         FROM pg_stat_xact_user_tables WHERE relname = 'audit_events'",
    )
    .get_result(&mut db)
    .await
    .unwrap();
    db.batch_execute("COMMIT").await.unwrap();
    assert_eq!(sealed, ENTRIES as u64);
    assert!(read.fetched <= 2 * ENTRIES, "sealing {ENTRIES} entries read {} rows of the trail", read.fetched);
    let linked = app.count(&format!("SELECT count(*) FROM audit_chain WHERE practice_id = '{practice}'")).await;
    assert_eq!(linked, ENTRIES);
}

/// Most sealing ticks look only at the last seconds of the queue (its index
/// keeps every released batch until a vacuum, and walking those on each
/// tick cost more than the sealing). A batch stamped long before it was
/// queued (a commit that stalled, an instance whose clock runs behind) is
/// still linked, by the full tick that comes once a second.
#[tokio::test]
async fn a_batch_stamped_long_before_it_was_queued_is_still_sealed() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let practice = app.practice_a.practice_id;
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let since_epoch = an_hour_ago.duration_since(std::time::UNIX_EPOCH).unwrap();
    let stale = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        since_epoch.as_secs(),
        since_epoch.subsec_nanos(),
    ));
    let mut db = app.db().await;
    db.batch_execute(&format!(
        "SELECT audit_append('{practice}', ARRAY['{stale}'::uuid], ARRAY[now()], ARRAY['api-client'],
                             ARRAY[NULL]::text[], ARRAY['read'], ARRAY['get_client'], ARRAY['client'],
                             ARRAY[NULL]::uuid[], ARRAY[NULL]::uuid[], ARRAY[200], ARRAY[NULL]::text[],
                             ARRAY[NULL]::text[], ARRAY[NULL]::jsonb[], ARRAY[NULL]::int[])"
    ))
    .await
    .unwrap();
    let linked = format!("SELECT count(*) FROM audit_chain WHERE practice_id = '{practice}' AND entry_id = '{stale}'");
    let mut waited = 0;
    while app.count(&linked).await == 0 {
        // Reads keep the sealer on its short, recent ticks meanwhile.
        assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
        assert!(waited < 100, "the stale batch was not sealed within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_unsealed_batches WHERE practice_id = '{practice}' AND batch_id = '{stale}'"
        ))
        .await,
        0
    );
}
