//! Erasure of a client's record, legal hold and the retention policy, over
//! the real service and database; the last test scans every column of
//! every table for what an erased client leaves behind.

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

/// An interval that keeps the service's own erasure job out of the way (the
/// setting refuses more than 60 s; tests set it directly): the tests run
/// the job themselves, so that each run's count is theirs.
const QUIET_JOB: u64 = 3600;

fn erasure_path(client: &str) -> String {
    format!("/v1/clients/{client}/erasure")
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn job_work(conn: &mut AsyncPgConnection) -> BoxFuture<'_, anyhow::Result<u64>> {
    Box::pin(attune::erasure::job::run(conn))
}

/// One run of the erasure job, as the service's led job makes it (waiting
/// while the service's own run holds the lock); answers what it did.
async fn tick(app: &TestApp) -> u64 {
    let pool = attune::db::build_pool(&app.db_url, 1, Duration::from_secs(5)).unwrap();
    for _ in 0..200 {
        if let Some(done) = attune::jobs::run_led(attune::erasure::job::NAME, &pool, job_work).await.unwrap() {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the erasure job's lock was never free");
}

async fn request(app: &TestApp, token: &str, client: &str, body: Value) -> reqwest::Response {
    app.post_json(&erasure_path(client), token, &body).await
}

async fn erasure(app: &TestApp, token: &str, client: &str) -> Value {
    let response = app.get(&erasure_path(client), token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn cancel(app: &TestApp, token: &str, client: &str, if_match: Option<&str>) -> reqwest::Response {
    let mut request = app.http.delete(app.url(&erasure_path(client))).bearer_auth(token);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.send().await.unwrap()
}

async fn patch_client(app: &TestApp, token: &str, client: &str, body: Value) -> reqwest::Response {
    app.http
        .patch(app.url(&format!("/v1/clients/{client}")))
        .bearer_auth(token)
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap().into()
}

async fn audit_actions(app: &TestApp, resource: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Action {
        #[diesel(sql_type = Text)]
        action: String,
    }
    let mut conn = app.db().await;
    // The changes the trail recorded about the client (every read is in it
    // too, and refused calls; these are the ones that changed something).
    let rows: Vec<Action> = diesel::sql_query(format!(
        "SELECT operation AS action FROM audit_events \
          WHERE (client_id = '{resource}' OR resource_id = '{resource}') \
            AND action NOT IN ('read', 'search', 'export') AND outcome < 400 ORDER BY occurred_at, id"
    ))
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|row| row.action).collect()
}

#[tokio::test]
async fn an_erasure_is_scheduled_shown_and_cancelled_within_its_grace_period() {
    let app = TestApp::spawn_with(|settings| settings.erasure.erasure_interval_seconds = QUIET_JOB).await;
    let token = app.token_a().await;
    let client = id_of(&app.create_client(&token, json!({"display_name": "A."})).await);

    let before = chrono::Utc::now();
    let response = request(&app, &token, &client, json!({"reason": "Asked by letter", "grace_period_days": 3})).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["location"], erasure_path(&client).as_str());
    assert_eq!(response.headers()["etag"], "\"v2\"");
    let scheduled: Value = response.json().await.unwrap();
    assert_eq!(scheduled["client_id"], client.as_str());
    assert_eq!(scheduled["state"], "scheduled");
    assert_eq!(scheduled["waiting_on"], "grace_period");
    assert_eq!(scheduled["reason"], "Asked by letter");
    assert_eq!(scheduled["requested_by"], app.practice_a.client_id.to_string());
    assert_eq!(scheduled["legal_hold"], false);
    assert_eq!(scheduled["cancelled_at"], Value::Null);
    assert_eq!(scheduled["completed_at"], Value::Null);
    let due = instant(&scheduled["scheduled_for"]) - instant(&scheduled["requested_at"]);
    assert_eq!(due, chrono::Duration::days(3));
    assert!(instant(&scheduled["requested_at"]) >= before);
    assert_eq!(erasure(&app, &token, &client).await, scheduled);

    // The client shows it, and its version moved on.
    let shown = app.get(&format!("/v1/clients/{client}"), &token).await;
    assert_eq!(shown.headers()["etag"], "\"v2\"");
    let shown: Value = shown.json().await.unwrap();
    assert_eq!(shown["erasure_scheduled_for"], scheduled["scheduled_for"]);

    // A second request names the first.
    let again = request(&app, &token, &client, json!({"reason": "Again"})).await;
    let problem = assert_problem(again, 409, "erasure_scheduled").await;
    assert!(problem["detail"].as_str().unwrap().contains(&scheduled["scheduled_for"].as_str().unwrap()[..19]));

    // Nothing runs before its time.
    tick(&app).await;
    assert_eq!(erasure(&app, &token, &client).await["state"], "scheduled");

    assert_problem(cancel(&app, &token, &client, Some("\"v1\"")).await, 412, "precondition_failed").await;
    assert_eq!(cancel(&app, &token, &client, Some("\"v2\"")).await.status(), 204);
    let cancelled = erasure(&app, &token, &client).await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["waiting_on"], Value::Null);
    assert!(cancelled["cancelled_at"].is_string());
    assert_eq!(cancelled["reason"], "Asked by letter", "the record of the request stays");
    assert_eq!(cancel(&app, &token, &client, None).await.status(), 204, "cancelling twice is harmless");
    let shown: Value = app.get(&format!("/v1/clients/{client}"), &token).await.json().await.unwrap();
    assert_eq!(shown["erasure_scheduled_for"], Value::Null);
    assert_eq!(shown["display_name"], "A.");

    // A cancelled erasure may be requested again; the default grace is a week.
    let renewed: Value = request(&app, &token, &client, json!({"reason": "Second letter"})).await.json().await.unwrap();
    assert_eq!(renewed["state"], "scheduled");
    assert_eq!(renewed["cancelled_at"], Value::Null);
    let due = instant(&renewed["scheduled_for"]) - instant(&renewed["requested_at"]);
    assert_eq!(due, chrono::Duration::days(7));

    assert_eq!(
        audit_actions(&app, &client).await,
        // The harmless second cancel is an access too.
        [
            "create_client",
            "request_client_erasure",
            "cancel_client_erasure",
            "cancel_client_erasure",
            "request_client_erasure"
        ]
    );
}

#[tokio::test]
async fn requests_are_validated_and_need_the_admin_scope() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = id_of(&app.create_client(&token, json!({"display_name": "A."})).await);
    let cases = [
        (json!({}), "reason"),
        (json!({"reason": ""}), "reason"),
        (json!({"reason": " \t"}), "reason"),
        (json!({"reason": "x".repeat(501)}), "reason"),
        (json!({"reason": "x", "grace_period_days": 31}), "grace_period_days"),
        (json!({"reason": "x", "grace_period_days": -1}), "grace_period_days"),
        (json!({"reason": "x", "grace_period_days": "7"}), "grace_period_days"),
        (json!({"reason": "x", "when": "now"}), "when"),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(request(&app, &token, &client, body.clone()).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_problem(app.get(&erasure_path(&client), &token).await, 404, "not_found").await;
    assert_problem(cancel(&app, &token, &client, None).await, 404, "not_found").await;
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_problem(request(&app, &token, &nobody, json!({"reason": "x"})).await, 404, "not_found").await;

    let writer = app.token_for(&app.practice_a, Some("clients:read clients:write")).await;
    let body = json!({"reason": "x"});
    assert_problem(request(&app, &writer, &client, body).await, 403, "insufficient_scope").await;
    assert_problem(app.get(&erasure_path(&client), &writer).await, 403, "insufficient_scope").await;
    assert_problem(cancel(&app, &writer, &client, None).await, 403, "insufficient_scope").await;
    assert_problem(app.get("/v1/retention-policy", &writer).await, 403, "insufficient_scope").await;
    assert_problem(app.get("/v1/retention/preview", &writer).await, 403, "insufficient_scope").await;
    let put = app.http.put(app.url("/v1/retention-policy")).bearer_auth(&writer).json(&json!({})).send().await;
    assert_problem(put.unwrap(), 403, "insufficient_scope").await;

    // A retry with the same key replays the answer; another body under it is refused.
    let keyed = |body: Value| {
        app.http
            .post(app.url(&erasure_path(&client)))
            .bearer_auth(&token)
            .header("idempotency-key", "erase-1")
            .json(&body)
            .send()
    };
    let first = keyed(json!({"reason": "By letter"})).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let replay = keyed(json!({"reason": "By letter"})).await.unwrap();
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_problem(keyed(json!({"reason": "Other"})).await.unwrap(), 422, "idempotency_key_reused").await;
    // The replay is an access too, and has its entry; the refused reuse is no change.
    assert_eq!(
        audit_actions(&app, &client).await,
        ["create_client", "request_client_erasure", "request_client_erasure"]
    );
}

#[tokio::test]
async fn a_due_erasure_runs_on_the_job_and_the_client_is_gone() {
    // The service's own job, every second: the setting is wired through.
    let app = TestApp::spawn_with(|settings| settings.erasure.erasure_interval_seconds = 1).await;
    let token = app.token_a().await;
    let client = id_of(&app.create_client(&token, json!({"display_name": "Gone G.", "external_id": "g-1"})).await);
    let other = id_of(&app.create_client(&token, json!({"display_name": "Stays S."})).await);
    let instrument = crate::assessments::instrument_id(&app, &token, "attachment_lean_short_form").await;
    let answers = crate::assessments::anxious_answers();
    let body = json!({"client_id": client, "instrument_id": instrument, "answers": answers});
    assert_eq!(app.post_json("/v1/assessments", &token, &body).await.status(), 201);
    let body = json!({"client_id": other, "instrument_id": instrument, "answers": answers});
    assert_eq!(app.post_json("/v1/assessments", &token, &body).await.status(), 201);
    let audit_before = app.count("SELECT count(*) AS count FROM audit_events").await;

    let scheduled = request(&app, &token, &client, json!({"reason": "Asked by phone", "grace_period_days": 0})).await;
    assert_eq!(scheduled.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let state = erasure(&app, &token, &client).await;
        if state["state"] == "completed" {
            break state;
        }
        assert!(Instant::now() < deadline, "the erasure never ran: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(done["completed_at"].is_string());
    assert_eq!(done["waiting_on"], Value::Null);
    assert_eq!(done["reason"], "Asked by phone");

    // Every route of the client answers 410, as problem+json.
    let client_path = format!("/v1/clients/{client}");
    for path in [
        client_path.clone(),
        format!("{client_path}/progress"),
        format!("{client_path}/progress/chart.svg?instrument=attachment_lean_short_form&subscale=anxiety"),
        format!("{client_path}/recommendations"),
    ] {
        assert_problem(app.get(&path, &token).await, 410, "client_erased").await;
    }
    assert_problem(patch_client(&app, &token, &client, json!({"display_name": "Back"})).await, 410, "client_erased")
        .await;
    assert_problem(patch_client(&app, &token, &client, json!({"legal_hold": true})).await, 410, "client_erased").await;
    let archive = app.http.delete(app.url(&client_path)).bearer_auth(&token).send().await.unwrap();
    assert_problem(archive, 410, "client_erased").await;
    // New records for the client are refused naming the field.
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let exercise = page["data"][0]["id"].clone();
    for (path, body, field) in [
        ("/v1/assessments", json!({"client_id": client, "instrument_id": instrument}), "client_id"),
        (
            "/v1/homework",
            json!({"client_id": client, "exercise_id": exercise, "cadence_per_week": 2, "starts_on": "2026-11-01"}),
            "client_id",
        ),
        ("/v1/client-links", json!({"client_id": client, "all_open_assessments": true}), "client_id"),
        ("/v1/relationships", json!({"kind": "couple", "client_ids": [other, client]}), "client_ids[1]"),
    ] {
        let problem = assert_problem(app.post_json(path, &token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0], json!({"field": field, "message": "the client was erased"}), "{path}");
    }
    // The erasure resource stays readable, and is done.
    assert_problem(request(&app, &token, &client, json!({"reason": "x"})).await, 409, "erasure_completed").await;
    assert_problem(cancel(&app, &token, &client, None).await, 409, "erasure_completed").await;
    // Lists leave it out, archived or not; the other client is untouched.
    let listed: Value = app.get("/v1/clients?include_archived=true", &token).await.json().await.unwrap();
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [other.as_str()]);
    let listed: Value = app.get(&format!("/v1/assessments?client_id={client}"), &token).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    let listed: Value = app.get(&format!("/v1/assessments?client_id={other}"), &token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // The trail keeps every entry and records the erasure once, by the job for the requester.
    assert!(app.count("SELECT count(*) AS count FROM audit_events").await > audit_before);
    let actions = audit_actions(&app, &client).await;
    assert_eq!(actions.get(..1), Some(&["create_client".to_owned()][..]));
    assert_eq!(actions.iter().filter(|a| *a == "erasure_job_erase_client").count(), 1, "{actions:?}");
    let by_job = app
        .count(&format!(
            "SELECT count(*) AS count FROM audit_events WHERE resource_id = '{client}' \
             AND operation = 'erasure_job_erase_client' AND action = 'erase' \
             AND api_client = 'attune:erasure-job' AND actor = '{}'",
            app.practice_a.client_id
        ))
        .await;
    assert_eq!(by_job, 1);

    // Exactly one client.erased event; no other event names the client, and
    // the feed keeps its numbering.
    let feed: Value = app.get("/v1/events?limit=200", &token).await.json().await.unwrap();
    let events = feed["data"].as_array().unwrap();
    let erased: Vec<&Value> = events.iter().filter(|e| e["type"] == "client.erased").collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0]["data"], json!({"client_id": client, "status": "erased"}));
    let naming: Vec<&Value> =
        events.iter().filter(|e| e["type"] != "client.erased" && e.to_string().contains(&client)).collect();
    assert!(naming.is_empty(), "{naming:?}");
    assert!(events.iter().any(|e| e["data"] == json!({"redacted": true})));
    let sequences: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
    let by_type: Value = app.get("/v1/events?type=client.erased", &token).await.json().await.unwrap();
    assert_eq!(by_type["data"].as_array().unwrap().len(), 1);

    // Another run finds nothing to do.
    assert_eq!(tick(&app).await, 0);
}

#[tokio::test]
async fn a_legal_hold_refuses_a_request_and_keeps_a_scheduled_erasure_waiting() {
    let app = TestApp::spawn_with(|settings| settings.erasure.erasure_interval_seconds = QUIET_JOB).await;
    let token = app.token_a().await;
    let writer = app.token_for(&app.practice_a, Some("clients:read clients:write")).await;
    let admin = app.token_for(&app.practice_a, Some("admin")).await;
    let client = id_of(&app.create_client(&token, json!({"display_name": "H."})).await);

    // Only an admin places a hold; the rest of a patch is clients:write's.
    let refused = patch_client(&app, &writer, &client, json!({"legal_hold": true})).await;
    assert_problem(refused, 403, "insufficient_scope").await;
    let refused = patch_client(&app, &admin, &client, json!({"legal_hold": true, "display_name": "X"})).await;
    assert_problem(refused, 403, "insufficient_scope").await;
    let held = patch_client(&app, &admin, &client, json!({"legal_hold": true})).await;
    assert_eq!(held.status(), 200);
    assert_eq!(held.headers()["etag"], "\"v2\"");
    let held: Value = held.json().await.unwrap();
    assert_eq!(held["legal_hold"], true);
    assert_eq!(held["display_name"], "H.");
    assert_problem(request(&app, &token, &client, json!({"reason": "x"})).await, 409, "legal_hold").await;
    // A clients:write token still changes the rest.
    let renamed: Value =
        patch_client(&app, &writer, &client, json!({"display_name": "H. R."})).await.json().await.unwrap();
    assert_eq!((renamed["display_name"].as_str(), renamed["legal_hold"].as_bool()), (Some("H. R."), Some(true)));

    // Lifted, requested with no grace, held again before the job runs: it waits.
    assert_eq!(patch_client(&app, &admin, &client, json!({"legal_hold": false})).await.status(), 200);
    assert_eq!(request(&app, &token, &client, json!({"reason": "x", "grace_period_days": 0})).await.status(), 202);
    assert_eq!(patch_client(&app, &admin, &client, json!({"legal_hold": true})).await.status(), 200);
    let waiting = erasure(&app, &token, &client).await;
    assert_eq!((waiting["state"].as_str(), waiting["waiting_on"].as_str()), (Some("scheduled"), Some("legal_hold")));
    assert_eq!(waiting["legal_hold"], true);
    tick(&app).await;
    tick(&app).await;
    assert_eq!(erasure(&app, &token, &client).await["state"], "scheduled");
    assert_eq!(app.get(&format!("/v1/clients/{client}"), &token).await.status(), 200);

    // Lifted: it runs on the next run.
    assert_eq!(patch_client(&app, &admin, &client, json!({"legal_hold": false})).await.status(), 200);
    assert_eq!(erasure(&app, &token, &client).await["waiting_on"], "next_run");
    assert_eq!(tick(&app).await, 1);
    assert_eq!(erasure(&app, &token, &client).await["state"], "completed");
    assert_problem(app.get(&format!("/v1/clients/{client}"), &token).await, 410, "client_erased").await;
    let holds = |placed: bool| {
        format!(
            "SELECT count(*) AS count FROM audit_events WHERE client_id = '{client}' AND operation = 'update_client' \
             AND outcome = 200 AND query->'legal_hold' = '{placed}'"
        )
    };
    assert_eq!(app.count(&holds(true)).await, 2, "holds placed");
    assert_eq!(app.count(&holds(false)).await, 2, "holds lifted");

    // An archived client takes a hold, though no other change.
    let archived = id_of(&app.create_client(&token, json!({"display_name": "Ar."})).await);
    app.http.delete(app.url(&format!("/v1/clients/{archived}"))).bearer_auth(&token).send().await.unwrap();
    let held: Value = patch_client(&app, &token, &archived, json!({"legal_hold": true})).await.json().await.unwrap();
    assert_eq!(held["legal_hold"], true);
    let renamed = patch_client(&app, &token, &archived, json!({"display_name": "B."})).await;
    assert_problem(renamed, 409, "client_archived").await;
}

/// Sets when a client was discharged or archived, as if long ago.
async fn backdate(app: &TestApp, client: &str, column: &str, days: i64) {
    let mut conn = app.db().await;
    diesel::sql_query(format!("UPDATE clients SET {column} = now() - interval '{days} days' WHERE id = '{client}'"))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn preview_ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page: Value = app.get(&format!("/v1/retention/preview{query}"), token).await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_retention_policy_previews_and_schedules_exactly_the_eligible_clients() {
    let app = TestApp::spawn_with(|settings| settings.erasure.erasure_interval_seconds = QUIET_JOB).await;
    let token = app.token_a().await;
    let put = |body: Value, if_match: Option<&'static str>| {
        let mut request = app.http.put(app.url("/v1/retention-policy")).bearer_auth(&token).json(&body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };

    // Off by default.
    let policy = app.get("/v1/retention-policy", &token).await;
    assert_eq!(policy.headers()["etag"], "\"v0\"");
    let policy: Value = policy.json().await.unwrap();
    assert_eq!(policy, json!({"erase_after_days": null, "grace_period_days": 7, "updated_at": null}));
    let preview: Value = app.get("/v1/retention/preview", &token).await.json().await.unwrap();
    assert_eq!(preview, json!({"erase_after_days": null, "data": [], "next_cursor": null}));

    let mut clients = Vec::new();
    for name in ["discharged", "archived", "recent", "active", "held", "scheduled", "cancelled", "both"] {
        let status = if ["discharged", "recent", "held", "scheduled", "cancelled", "both"].contains(&name) {
            "discharged"
        } else {
            "active"
        };
        clients.push(id_of(&app.create_client(&token, json!({"display_name": name, "status": status})).await));
    }
    let [discharged, archived, recent, _active, held, scheduled, cancelled, both] =
        <[String; 8]>::try_from(clients).unwrap();
    for client in [&archived, &both] {
        app.http.delete(app.url(&format!("/v1/clients/{client}"))).bearer_auth(&token).send().await.unwrap();
    }
    backdate(&app, &discharged, "discharged_at", 400).await;
    backdate(&app, &archived, "archived_at", 500).await;
    backdate(&app, &recent, "discharged_at", 100).await;
    backdate(&app, &held, "discharged_at", 400).await;
    backdate(&app, &scheduled, "discharged_at", 400).await;
    backdate(&app, &cancelled, "discharged_at", 400).await;
    // Discharged long ago, archived lately: the discharge counts.
    backdate(&app, &both, "discharged_at", 700).await;
    assert_eq!(patch_client(&app, &token, &held, json!({"legal_hold": true})).await.status(), 200);
    let response = request(&app, &token, &scheduled, json!({"reason": "x", "grace_period_days": 30})).await;
    assert_eq!(response.status(), 202);
    assert_eq!(request(&app, &token, &cancelled, json!({"reason": "x"})).await.status(), 202);
    assert_eq!(cancel(&app, &token, &cancelled, None).await.status(), 204);

    // N below a year, or past a century, is refused.
    for days in [364, 0, 36501] {
        let problem =
            assert_problem(put(json!({"erase_after_days": days}), None).await.unwrap(), 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "erase_after_days");
    }
    assert_problem(app.get("/v1/retention/preview?erase_after_days=364", &token).await, 400, "invalid_query").await;

    // A trial period previews before the policy is on.
    let mut expected = vec![discharged.clone(), archived.clone(), both.clone()];
    expected.sort();
    assert_eq!(preview_ids(&app, &token, "?erase_after_days=365").await, expected);
    assert_eq!(preview_ids(&app, &token, "").await, Vec::<String>::new(), "the stored policy is off");

    assert_problem(put(json!({"erase_after_days": 365}), Some("\"v3\"")).await.unwrap(), 412, "precondition_failed")
        .await;
    let set = put(json!({"erase_after_days": 365}), Some("\"v0\"")).await.unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(set.headers()["etag"], "\"v1\"");
    let set: Value = set.json().await.unwrap();
    assert_eq!(set["erase_after_days"], 365);
    assert!(set["updated_at"].is_string());
    assert_eq!(app.get("/v1/retention-policy", &token).await.json::<Value>().await.unwrap(), set);

    let preview: Value = app.get("/v1/retention/preview", &token).await.json().await.unwrap();
    assert_eq!(preview["erase_after_days"], 365);
    let by_id = |id: &str| preview["data"].as_array().unwrap().iter().find(|c| c["client_id"] == id).unwrap().clone();
    let first = by_id(&discharged);
    assert_eq!((first["basis"].as_str(), first["status"].as_str()), (Some("discharged"), Some("discharged")));
    assert_eq!(instant(&first["eligible_since"]) - instant(&first["since"]), chrono::Duration::days(365));
    let second = by_id(&archived);
    assert_eq!((second["basis"].as_str(), second["status"].as_str()), (Some("archived"), Some("active")));
    assert!(second["archived_at"].is_string());
    assert_eq!(by_id(&both)["basis"], "discharged");
    assert_eq!(preview_ids(&app, &token, "?erase_after_days=450").await, {
        let mut longer = vec![archived.clone(), both.clone()];
        longer.sort();
        longer
    });
    // Paged like every list.
    let page: Value = app.get("/v1/retention/preview?limit=2", &token).await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = preview_ids(&app, &token, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(rest, expected[2..]);

    // Previewing changed nothing; the next run schedules exactly those, with the usual grace.
    for client in &expected {
        assert_problem(app.get(&erasure_path(client), &token).await, 404, "not_found").await;
    }
    assert_eq!(tick(&app).await, 3);
    for client in &expected {
        let state = erasure(&app, &token, client).await;
        assert_eq!(state["state"], "scheduled");
        assert_eq!(state["requested_by"], "attune:retention-policy");
        assert_eq!(state["waiting_on"], "grace_period");
        let grace = instant(&state["scheduled_for"]) - instant(&state["requested_at"]);
        assert_eq!(grace, chrono::Duration::days(7));
        let actions = audit_actions(&app, client).await;
        assert_eq!(actions.last().map(String::as_str), Some("erasure_job_schedule"));
    }
    assert_eq!(erasure(&app, &token, &cancelled).await["state"], "cancelled", "a cancellation is respected");
    assert_eq!(erasure(&app, &token, &scheduled).await["requested_by"], app.practice_a.client_id.to_string());
    assert!(preview_ids(&app, &token, "").await.is_empty(), "nothing left for the next run");
    assert_eq!(tick(&app).await, 0);

    // Due, one of them back in care: that one's erasure is cancelled, not run.
    assert_eq!(patch_client(&app, &token, &discharged, json!({"status": "active"})).await.status(), 200);
    let mut conn = app.db().await;
    diesel::sql_query(
        "UPDATE clients SET erasure_scheduled_for = now() WHERE erasure_requested_by = 'attune:retention-policy'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(tick(&app).await, 2);
    let readmitted = erasure(&app, &token, &discharged).await;
    assert_eq!(readmitted["state"], "cancelled");
    assert_eq!(app.get(&format!("/v1/clients/{discharged}"), &token).await.status(), 200);
    assert_eq!(audit_actions(&app, &discharged).await.last().map(String::as_str), Some("erasure_job_cancel"));
    for client in [&archived, &both] {
        assert_eq!(erasure(&app, &token, client).await["state"], "completed");
    }

    // Turned off, the preview is empty again; what it scheduled stays scheduled.
    let off: Value = put(json!({"erase_after_days": null}), None).await.unwrap().json().await.unwrap();
    assert_eq!(off["erase_after_days"], Value::Null);
    let preview: Value = app.get("/v1/retention/preview", &token).await.json().await.unwrap();
    assert_eq!(preview["data"], json!([]));
    assert_eq!(erasure(&app, &token, &scheduled).await["state"], "scheduled");
}

/// What the scan looks for, and where it finds it.
#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Every column of every table of ours, read from the catalogue (not a hand
/// list), so that a table added later is scanned too.
async fn every_column(conn: &mut AsyncPgConnection) -> Vec<ColumnName> {
    diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
         ORDER BY table_name, ordinal_position",
    )
    .load(conn)
    .await
    .unwrap()
}

/// The `table.column`s where `needle` appears in a row's text, leaving out
/// rows `allowed` names (SQL over the table, by column).
async fn found_in(
    conn: &mut AsyncPgConnection,
    columns: &[ColumnName],
    needle: &str,
    allowed: &dyn Fn(&str, &str) -> Option<&'static str>,
) -> Vec<String> {
    let mut found = Vec::new();
    for ColumnName { table_name, column_name } in columns {
        let except = allowed(table_name, column_name).map_or(String::new(), |rule| format!(" AND NOT ({rule})"));
        let Count { count } = diesel::sql_query(format!(
            "SELECT count(*) AS count FROM \"{table_name}\" WHERE strpos(\"{column_name}\"::text, $1) > 0{except}"
        ))
        .bind::<Text, _>(needle)
        .get_result(conn)
        .await
        .unwrap();
        if count > 0 {
            found.push(format!("{table_name}.{column_name}"));
        }
    }
    found
}

/// No row may keep the client's name, external id or words.
fn nothing_may_stay(_: &str, _: &str) -> Option<&'static str> {
    None
}

/// The places the erased client's id may stay, each with its reason.
fn where_the_id_may_stay(table: &str, column: &str) -> Option<&'static str> {
    match (table, column) {
        // The tombstone itself: the row that answers 410 and keeps the record of the erasure.
        ("clients", "id") => Some("status = 'erased'"),
        // The audit trail keeps every entry (ids only), and records the erasure;
        // a search by client keeps its filter.
        ("audit_events", "resource_id" | "client_id" | "query") => Some("true"),
        // The one event that tells integrations which client was erased...
        ("events", "data") => Some("type = 'client.erased'"),
        // ... as delivered to a webhook receiver ...
        ("webhook_deliveries", "body") => Some("event_type = 'client.erased'"),
        // ... whose answer (this test's receiver echoes the body) is kept with the attempt.
        ("webhook_attempts", "response") => {
            Some("delivery_id IN (SELECT id FROM webhook_deliveries WHERE event_type = 'client.erased')")
        }
        _ => None,
    }
}

/// A webhook receiver that answers every delivery with its body, so the
/// attempts keep the receiver's echo as they would keep any answer. It
/// takes its time, so that the delivery of the event the erasure request
/// raises is still in flight when the erasure runs.
async fn echoing_receiver() -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|body: web::Bytes| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            HttpResponse::Ok().body(body)
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    format!("http://127.0.0.1:{port}/hooks")
}

/// Waits until every webhook delivery (of `event_type`, or all) has been
/// answered.
async fn deliveries_settled(app: &TestApp, at_least: i64, event_type: Option<&str>) {
    let filter = event_type.map_or(String::new(), |t| format!(" AND event_type = '{t}'"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = app
            .count(&format!("SELECT count(*) AS count FROM webhook_deliveries WHERE state = 'succeeded'{filter}"))
            .await;
        let pending = app
            .count(&format!("SELECT count(*) AS count FROM webhook_deliveries WHERE state = 'pending'{filter}"))
            .await;
        if done >= at_least && pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "deliveries did not settle: {done} done, {pending} pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn after_an_erasure_no_table_holds_the_clients_name_external_id_or_words() {
    use crate::client_links::LinkSetup;
    use crate::client_pages::{ANXIOUS, answers_form, arrive, csrf_of};

    let spawned = TestApp::spawn_with(|settings| {
        settings.webhooks.webhook_allow_loopback = true;
        settings.webhooks.webhook_poll_ms = 20;
        settings.erasure.erasure_interval_seconds = QUIET_JOB;
    })
    .await;
    // The link pages' helpers take a setup; only its app is used.
    let setup = LinkSetup {
        app: spawned,
        token: String::new(),
        client_id: String::new(),
        assessment_id: String::new(),
        homework_id: String::new(),
    };
    let app = &setup.app;
    let token = app.token_a().await;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let name = format!("Quokkaberry {}", &unique[20..]);
    let external_id = format!("ext-{unique}");
    let reflection = format!("Reflection-{unique} felt closer than I thought");
    let keyed = |path: String, key: String, body: Value| {
        let request = app.http.post(app.url(&path)).bearer_auth(&token).header("idempotency-key", key).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{path}: {}", response.status());
            response.json::<Value>().await.unwrap()
        }
    };

    // A receiver of every event type, before anything happens.
    let every_type: Vec<&str> = attune::events::EventType::ALL.iter().map(|t| t.as_str()).collect();
    let endpoint = json!({"url": echoing_receiver().await, "event_types": every_type});
    assert_eq!(app.post_json("/v1/webhook-endpoints", &token, &endpoint).await.status(), 201);

    // The client, created under a key that names its external id (as the README's example does).
    let client = keyed(
        "/v1/clients".to_owned(),
        format!("intake-{external_id}"),
        json!({"display_name": name, "external_id": external_id}),
    )
    .await;
    let client_id = id_of(&client);
    let partner = id_of(&app.create_client(&token, json!({"display_name": "Partner P."})).await);
    let third = id_of(&app.create_client(&token, json!({"display_name": "Third T."})).await);
    keyed(
        "/v1/relationships".to_owned(),
        format!("couple-{unique}"),
        json!({"kind": "couple", "client_ids": [client_id, partner]}),
    )
    .await;
    let body = json!({"kind": "family", "client_ids": [client_id, partner, third]});
    let family = id_of(&app.post_json("/v1/relationships", &token, &body).await.json::<Value>().await.unwrap());

    // Assessments: one completed with answers (under a key), one open for a link's draft.
    let instrument = crate::assessments::instrument_id(app, &token, "attachment_lean_short_form").await;
    let body =
        json!({"client_id": client_id, "instrument_id": instrument, "answers": crate::assessments::anxious_answers()});
    keyed("/v1/assessments".to_owned(), format!("assess-{unique}"), body).await;
    let body = json!({"client_id": client_id, "instrument_id": instrument});
    let open = id_of(&app.post_json("/v1/assessments", &token, &body).await.json::<Value>().await.unwrap());

    // Homework with a note, logs carrying the reflection in its words and in a typed field, a pause.
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let starts_on = (chrono::Utc::now() - chrono::Duration::days(5)).date_naive().to_string();
    let homework = app
        .post_json(
            "/v1/homework",
            &token,
            &json!({"client_id": client_id, "exercise_id": page["data"][0]["id"], "cadence_per_week": 3,
                    "starts_on": starts_on, "note": format!("For {name}: ask for one small thing")}),
        )
        .await;
    let homework = id_of(&homework.json::<Value>().await.unwrap());
    let log = json!({"occurred_at": chrono::Utc::now() - chrono::Duration::days(1), "done": true,
                     "fields": {"what_i_asked": reflection, "discomfort_before": 6, "discomfort_after": 2},
                     "reflection": reflection});
    keyed(format!("/v1/homework/{homework}/logs"), format!("log-{unique}"), log).await;
    for status in ["paused", "active"] {
        let response = app
            .http
            .patch(app.url(&format!("/v1/homework/{homework}")))
            .bearer_auth(&token)
            .json(&json!({"status": status}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    // A link: a draft of the open assessment saved, a homework log submitted through it.
    let link = json!({"client_id": client_id, "assessment_ids": [open], "homework_ids": [homework]});
    let issued = app.post_json("/v1/client-links", &token, &link).await.json::<Value>().await.unwrap();
    let visitor = arrive(&setup, issued["url"].as_str().unwrap()).await;
    let form_path = format!("/l/assessments/{open}");
    let html = visitor.get(&setup, &form_path).await.text().await.unwrap();
    let saved = visitor.post(&setup, &form_path, &answers_form(&csrf_of(&html), "save", &ANXIOUS[..6])).await;
    assert_eq!(saved.status(), 303);
    let log_path = format!("/l/homework/{homework}");
    let html = visitor.get(&setup, &log_path).await.text().await.unwrap();
    let date = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive().to_string();
    let form: Vec<(String, String)> = [
        ("csrf", csrf_of(&html)),
        ("date", date),
        ("done", "yes".to_owned()),
        ("field.what_i_asked", "A lift".to_owned()),
        ("field.discomfort_before", "5".to_owned()),
        ("field.discomfort_after", "3".to_owned()),
        ("reflection", reflection.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(visitor.post(&setup, &log_path, &form).await.status(), 303);

    let deliveries = app.count("SELECT count(*) AS count FROM events").await;
    deliveries_settled(app, deliveries, None).await;

    // The scan finds what is there before the erasure (it is no scan of nothing).
    let mut conn = app.db().await;
    let columns = every_column(&mut conn).await;
    let before = found_in(&mut conn, &columns, &reflection, &nothing_may_stay).await;
    for place in ["homework_logs.fields", "homework_logs.reflection", "idempotency_keys.response_body"] {
        assert!(before.contains(&place.to_owned()), "{place} not found before the erasure: {before:?}");
    }
    let before = found_in(&mut conn, &columns, &name, &nothing_may_stay).await;
    assert!(before.contains(&"clients.display_name".to_owned()) && before.contains(&"homework.note".to_owned()));
    assert!(
        found_in(&mut conn, &columns, &external_id, &nothing_may_stay)
            .await
            .contains(&"idempotency_keys.key".to_owned())
    );
    for table in ["assessment_drafts", "client_link_submissions", "homework_pauses", "assessment_scores"] {
        assert!(app.count(&format!("SELECT count(*) AS count FROM {table}")).await > 0, "{table} is empty");
    }
    let before = found_in(&mut conn, &columns, &client_id, &where_the_id_may_stay).await;
    assert!(before.len() > 5, "{before:?}");

    // Erase (under a key of its own), run the job, let the receiver hear of it.
    let erasure_key = format!("erase-{unique}");
    keyed(erasure_path(&client_id), erasure_key, json!({"reason": "Asked by letter", "grace_period_days": 0})).await;
    assert_eq!(tick(app).await, 1);
    deliveries_settled(app, 1, Some("client.erased")).await;

    // Nothing of the client's words, name or external id is left anywhere.
    for (what, needle) in [("name", &name), ("external id", &external_id), ("reflection", &reflection)] {
        let found = found_in(&mut conn, &columns, needle, &nothing_may_stay).await;
        assert!(found.is_empty(), "the client's {what} is still in {found:?}");
    }
    // Its id only where the test names a reason.
    let found = found_in(&mut conn, &columns, &client_id, &where_the_id_may_stay).await;
    assert!(found.is_empty(), "the client's id is still in {found:?}");
    let tables: std::collections::BTreeSet<&str> = columns.iter().map(|c| c.table_name.as_str()).collect();
    println!("the erasure scan checked {} tables ({} columns)", tables.len(), columns.len());
    assert!(tables.len() >= 24, "{tables:?}");

    // The exceptions hold what they should, and the others kept their records.
    assert_eq!(app.count(&format!("SELECT count(*) AS count FROM clients WHERE id = '{client_id}'")).await, 1);
    let erased_events = app
        .count(&format!(
            "SELECT count(*) AS count FROM events WHERE type = 'client.erased' AND data->>'client_id' = '{client_id}'"
        ))
        .await;
    assert_eq!(erased_events, 1);
    let couple =
        app.get(&format!("/v1/relationships?client_id={partner}"), &token).await.json::<Value>().await.unwrap();
    let kept: Vec<&Value> = couple["data"].as_array().unwrap().iter().collect();
    assert_eq!(kept.len(), 1, "the couple is dissolved, the family stays: {couple}");
    assert_eq!(kept[0]["id"], family.as_str());
    assert_eq!(kept[0]["client_ids"].as_array().unwrap().len(), 2);
    assert_eq!(app.get(&format!("/v1/clients/{partner}"), &token).await.status(), 200);
}
