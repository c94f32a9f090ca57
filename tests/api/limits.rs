//! Resource limits: whatever size or shape an integrator sends, the answer is
//! a clear 4xx naming what is too big, and nothing is stored. The body limit
//! (413 before parsing) bounds the memory a request can take.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

fn field(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn oversized_arrays_are_refused_by_count() {
    // A larger body limit, so the count rules (not the byte limit) are what answer.
    let app = TestApp::spawn_with(|args| args.body_limit_bytes = 512 * 1024).await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "L."})).await;
    let instrument = crate::assessments::instrument_id(&app, &token, "attachment_lean_short_form").await;

    let answers: Vec<Value> = (0..501).map(|i| json!({"item_id": format!("ax{i}"), "value": 1})).collect();
    let body = json!({"client_id": client["id"], "instrument_id": instrument, "answers": answers});
    let problem = assert_problem(app.post_json("/v1/assessments", &token, &body).await, 422, "validation_failed").await;
    assert_eq!(field(&problem), "answers");

    let mut definition = crate::instruments::custom_definition("huge");
    definition["items"] = Value::Array(
        (0..501).map(|i| json!({"id": format!("q{i}"), "text": "Item", "subscale": "closeness"})).collect(),
    );
    let problem =
        assert_problem(app.post_json("/v1/instruments", &token, &definition).await, 422, "validation_failed").await;
    assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == "items"), "{problem}");

    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let assign = json!({"client_id": client["id"], "exercise_id": page["data"][0]["id"], "cadence_per_week": 3,
                        "starts_on": (Utc::now() - Duration::days(3)).date_naive()});
    let homework: Value = app.post_json("/v1/homework", &token, &assign).await.json().await.unwrap();
    let fields: serde_json::Map<String, Value> = (0..31).map(|i| (format!("f{i}"), json!(1))).collect();
    let log = json!({"occurred_at": Utc::now() - Duration::hours(1), "done": true, "fields": fields});
    let path = format!("/v1/homework/{}/logs", homework["id"].as_str().unwrap());
    let problem = assert_problem(app.post_json(&path, &token, &log).await, 422, "validation_failed").await;
    assert_eq!(field(&problem), "fields");
    // Free-form JSON nested 5,000 deep: the parser's depth limit answers, not a stack overflow.
    let deep = format!(
        "{{\"occurred_at\": \"{}\", \"done\": true, \"fields\": {{\"a\": {}1{}}}}}",
        (Utc::now() - Duration::hours(1)).to_rfc3339(),
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let response =
        app.http.post(app.url(&path)).bearer_auth(&token).header("content-type", "application/json").body(deep);
    let problem = assert_problem(response.send().await.unwrap(), 400, "malformed_json").await;
    assert_eq!(field(&problem), "body");

    let clients = (0..11).map(|_| client["id"].clone()).collect::<Vec<_>>();
    let problem = assert_problem(
        app.post_json("/v1/relationships", &token, &json!({"kind": "group", "client_ids": clients})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field(&problem), "client_ids");
    for table in ["assessments", "homework_logs", "relationships"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table}")).await, 0, "{table}");
    }
    assert_eq!(app.count("SELECT count(*) FROM instruments WHERE practice_id IS NOT NULL").await, 0);
}

#[tokio::test]
async fn deep_nesting_long_strings_and_page_sizes_get_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    // 5,000 levels of nesting where a string belongs: the type is wrong at the
    // first bracket, so nothing recurses.
    let deep = format!("{{\"display_name\": {}1{}}}", "[".repeat(5000), "]".repeat(5000));
    let response =
        app.http.post(app.url("/v1/clients")).bearer_auth(&token).header("content-type", "application/json").body(deep);
    let problem = assert_problem(response.send().await.unwrap(), 422, "validation_failed").await;
    assert_eq!(field(&problem), "display_name");
    // Over the body limit: 413 before anything is parsed.
    let wide = json!({"display_name": "A.", "external_id": "x".repeat(64 * 1024)});
    assert_problem(app.post_json("/v1/clients", &token, &wide).await, 413, "payload_too_large").await;
    // Long strings within the limit: the field that is too long.
    let long = json!({"display_name": "x".repeat(5000)});
    let problem = assert_problem(app.post_json("/v1/clients", &token, &long).await, 422, "validation_failed").await;
    assert_eq!(field(&problem), "display_name");
    let problem = assert_problem(
        app.post_json("/v1/relationships", &token, &json!({"kind": "k".repeat(65), "client_ids": []})).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == "kind"), "{problem}");
    // Page sizes beyond the maximum, and numbers beyond any integer.
    for query in ["limit=201", "limit=0", "limit=-5", "limit=99999999999999999999999"] {
        let problem =
            assert_problem(app.get(&format!("/v1/clients?{query}"), &token).await, 400, "invalid_query").await;
        assert_eq!(field(&problem), "limit", "{query}");
    }
    let long_key = "k".repeat(4000);
    let problem = assert_problem(
        app.get(&format!("/v1/clients/00000000-0000-0000-0000-000000000000/progress?instrument={long_key}"), &token)
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(field(&problem), "instrument");
    assert_eq!(app.count("SELECT count(*) FROM clients").await, 0);
}

#[tokio::test]
async fn dates_outside_what_postgresql_stores_are_a_4xx_not_a_500() {
    // Found by hand after fuzzing: year -200000 parses as a date but no
    // PostgreSQL column can hold it.
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "D."})).await;
    let id = client["id"].as_str().unwrap();
    let problem = assert_problem(
        app.get(&format!("/v1/clients/{id}/progress?from=-200000-01-01"), &token).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(field(&problem), "from");
    let since = "/v1/assessments?completed_since=-200000-01-01T00:00:00Z";
    assert_problem(app.get(since, &token).await, 400, "value_out_of_range").await;
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let body = json!({"client_id": id, "exercise_id": page["data"][0]["id"], "cadence_per_week": 2, "starts_on": "-200000-01-01"});
    assert_problem(app.post_json("/v1/homework", &token, &body).await, 400, "value_out_of_range").await;
    assert_eq!(app.count("SELECT count(*) FROM homework").await, 0);
}

#[tokio::test]
async fn nul_characters_are_a_4xx_not_a_500() {
    // Found by hand after fuzzing: JSON's \u0000 and a URL's %00 parse, but
    // PostgreSQL text and jsonb refuse them.
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let nul = json!({"display_name": "a\u{0}b"});
    assert_problem(app.post_json("/v1/clients", &token, &nul).await, 400, "invalid_characters").await;
    assert_problem(app.get("/v1/clients?external_id=a%00b", &token).await, 400, "invalid_characters").await;
    let client = app.create_client(&token, json!({"display_name": "N."})).await;
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let assign = json!({"client_id": client["id"], "exercise_id": page["data"][0]["id"], "cadence_per_week": 3,
                        "starts_on": (Utc::now() - Duration::days(3)).date_naive()});
    let homework: Value = app.post_json("/v1/homework", &token, &assign).await.json().await.unwrap();
    let log = json!({"occurred_at": Utc::now() - Duration::hours(1), "done": true, "reflection": "x\u{0}",
                     "fields": {"what_i_asked": "A lift", "discomfort_before": 6, "discomfort_after": 2, "let_them_do_it_their_way": true}});
    let path = format!("/v1/homework/{}/logs", homework["id"].as_str().unwrap());
    assert_problem(app.post_json(&path, &token, &log).await, 400, "invalid_characters").await;
    assert_eq!(app.count("SELECT count(*) FROM homework_logs").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM clients").await, 1);
}
