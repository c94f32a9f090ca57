//! `/v1/homework` and its logs, mirroring the routes.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

struct Setup {
    app: TestApp,
    token: String,
    client_id: String,
    exercise_id: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "H."})).await;
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let exercise_id = page["data"][0]["id"].as_str().unwrap().to_owned();
    Setup { token, client_id: client["id"].as_str().unwrap().to_owned(), exercise_id, app }
}

fn week_ago() -> String {
    (Utc::now() - Duration::days(7)).date_naive().to_string()
}

async fn assign(s: &Setup) -> Value {
    let body = json!({"client_id": s.client_id, "exercise_id": s.exercise_id, "cadence_per_week": 3,
                      "starts_on": week_ago(), "note": "Start small."});
    let response = s.app.post_json("/v1/homework", &s.token, &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn good_log() -> Value {
    json!({"occurred_at": (Utc::now() - Duration::hours(2)).to_rfc3339(), "done": true,
           "fields": {"what_i_asked": "A lift to work", "discomfort_before": 7, "discomfort_after": 3, "let_them_do_it_their_way": true},
           "reflection": "Easier than I thought."})
}

async fn patch(s: &Setup, path: &str, body: Value, if_match: Option<&str>) -> reqwest::Response {
    let mut request = s.app.http.patch(s.app.url(path)).bearer_auth(&s.token).json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn assign_fetch_and_list_homework() {
    let s = setup().await;
    let homework = assign(&s).await;
    assert_eq!(homework["status"], "active");
    assert_eq!(homework["exercise_key"], "ask_for_small_help");
    assert_eq!(homework["cadence_per_week"], 3);
    let path = format!("/v1/homework/{}", homework["id"].as_str().unwrap());
    let fetched = s.app.get(&path, &s.token).await;
    assert_eq!(fetched.headers().get("etag").unwrap(), "\"v1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), homework);
    let by_client: Value =
        s.app.get(&format!("/v1/homework?client_id={}", s.client_id), &s.token).await.json().await.unwrap();
    assert_eq!(by_client["data"][0]["id"], homework["id"]);
    let paused: Value = s.app.get("/v1/homework?status=paused", &s.token).await.json().await.unwrap();
    assert!(paused["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_assignments_name_the_field() {
    let s = setup().await;
    let token_b = s.app.token_b().await;
    let b_client = s.app.create_client(&token_b, json!({"display_name": "B."})).await;
    let base = json!({"client_id": s.client_id, "exercise_id": s.exercise_id, "cadence_per_week": 3, "starts_on": "2026-11-01"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("cadence_per_week", json!(0)), "cadence_per_week"),
        (with("cadence_per_week", json!(15)), "cadence_per_week"),
        (with("ends_on", json!("2026-10-01")), "ends_on"),
        (with("client_id", b_client["id"].clone()), "client_id"),
        (with("exercise_id", json!(uuid::Uuid::now_v7())), "exercise_id"),
        (with("note", json!("x".repeat(4001))), "note"),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(s.app.post_json("/v1/homework", &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(s.app.count("SELECT count(*) AS count FROM homework").await, 0);
}

#[tokio::test]
async fn status_moves_between_active_and_paused_and_ends_final() {
    let s = setup().await;
    let homework = assign(&s).await;
    let path = format!("/v1/homework/{}", homework["id"].as_str().unwrap());
    let paused = patch(&s, &path, json!({"status": "paused"}), Some("\"v1\"")).await;
    assert_eq!(paused.headers().get("etag").unwrap(), "\"v2\"");
    assert_eq!(paused.json::<Value>().await.unwrap()["status"], "paused");
    assert_problem(patch(&s, &path, json!({"cadence_per_week": 2}), Some("\"v1\"")).await, 412, "precondition_failed")
        .await;
    let resumed: Value = patch(&s, &path, json!({"status": "active", "cadence_per_week": 2, "note": null}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((resumed["status"].as_str(), resumed["cadence_per_week"].as_i64()), (Some("active"), Some(2)));
    assert_eq!(resumed["note"], Value::Null);
    let id = homework["id"].as_str().unwrap();
    let spans = s
        .app
        .count(&format!(
            "SELECT count(*) AS count FROM homework_pauses WHERE homework_id = '{id}' AND resumed_at IS NOT NULL"
        ))
        .await;
    assert_eq!(spans, 1, "the paused span is recorded for adherence");

    assert_eq!(patch(&s, &path, json!({"status": "completed"}), None).await.status(), 200);
    for body in [json!({"status": "active"}), json!({"note": "more"})] {
        assert_problem(patch(&s, &path, body, None).await, 409, "homework_final").await;
    }
    let log = s.app.post_json(&format!("{path}/logs"), &s.token, &good_log()).await;
    assert_problem(log, 409, "homework_closed").await;
}

#[tokio::test]
async fn logs_are_checked_against_the_exercise() {
    let s = setup().await;
    let homework = assign(&s).await;
    let logs = format!("/v1/homework/{}/logs", homework["id"].as_str().unwrap());
    let created = s.app.post_json(&logs, &s.token, &good_log()).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["fields"]["discomfort_after"], 3);

    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = good_log();
        change(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|b| b["fields"]["mood"] = json!(3)), "fields.mood"),
        (with(&|b| b["fields"]["discomfort_before"] = json!(11)), "fields.discomfort_before"),
        (with(&|b| b["fields"]["discomfort_before"] = json!("high")), "fields.discomfort_before"),
        (with(&|b| b["fields"]["let_them_do_it_their_way"] = json!("yes")), "fields.let_them_do_it_their_way"),
        (
            with(&|b| {
                b["fields"].as_object_mut().unwrap().remove("discomfort_after");
            }),
            "fields.discomfort_after",
        ),
        (with(&|b| b["occurred_at"] = json!((Utc::now() + Duration::hours(3)).to_rfc3339())), "occurred_at"),
        (with(&|b| b["occurred_at"] = json!((Utc::now() - Duration::days(30)).to_rfc3339())), "occurred_at"),
        (with(&|b| b["reflection"] = json!("x".repeat(4001))), "reflection"),
        (with(&|b| b["done"] = json!("yes")), "done"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(s.app.post_json(&logs, &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // A practice not done needs none of the required fields.
    let skipped = json!({"occurred_at": Utc::now().to_rfc3339(), "done": false, "fields": {}});
    assert_eq!(s.app.post_json(&logs, &s.token, &skipped).await.status(), 201);

    let listed: Value = s.app.get(&logs, &s.token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0], created);
    let since = (Utc::now() - Duration::hours(1)).to_rfc3339().replace('+', "%2B");
    let recent: Value = s.app.get(&format!("{logs}?from={since}"), &s.token).await.json().await.unwrap();
    assert_eq!(recent["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retried_log_is_stored_once() {
    let s = setup().await;
    let homework = assign(&s).await;
    let url = s.app.url(&format!("/v1/homework/{}/logs", homework["id"].as_str().unwrap()));
    let body = good_log();
    let requests = (0..5).map(|_| {
        s.app.http.post(&url).bearer_auth(&s.token).header("Idempotency-Key", "portal-log-1").json(&body).send()
    });
    let responses = futures_util::future::join_all(requests).await;
    assert!(responses.iter().all(|r| r.as_ref().unwrap().status() == 201));
    assert_eq!(s.app.count("SELECT count(*) AS count FROM homework_logs").await, 1);
}

#[tokio::test]
async fn another_practices_homework_is_not_found_by_any_verb() {
    let s = setup().await;
    let token_b = s.app.token_b().await;
    let homework = assign(&s).await;
    let path = format!("/v1/homework/{}", homework["id"].as_str().unwrap());
    s.app.post_json(&format!("{path}/logs"), &s.token, &good_log()).await;
    assert_problem(s.app.get(&path, &token_b).await, 404, "not_found").await;
    let patched = s.app.http.patch(s.app.url(&path)).bearer_auth(&token_b).json(&json!({"status": "paused"})).send();
    assert_problem(patched.await.unwrap(), 404, "not_found").await;
    assert_problem(s.app.post_json(&format!("{path}/logs"), &token_b, &good_log()).await, 404, "not_found").await;
    assert_problem(s.app.get(&format!("{path}/logs"), &token_b).await, 404, "not_found").await;
    let listed: Value = s.app.get("/v1/homework", &token_b).await.json().await.unwrap();
    assert!(listed["data"].as_array().unwrap().is_empty());
    let fetched = s.app.get(&path, &s.token).await;
    assert_eq!(fetched.headers().get("etag").unwrap(), "\"v1\"");
    assert_eq!(s.app.count("SELECT count(*) AS count FROM homework_logs").await, 1);
}

#[tokio::test]
async fn an_assignment_exports_as_a_fhir_task_with_its_logs() {
    let s = setup().await;
    let homework = assign(&s).await;
    let path = format!("/v1/homework/{}", homework["id"].as_str().unwrap());
    s.app.post_json(&format!("{path}/logs"), &s.token, &good_log()).await;
    patch(&s, &path, json!({"status": "paused"}), None).await;
    let response = s.app.get(&format!("{path}/fhir"), &s.token).await;
    assert_eq!(response.headers().get("content-type").unwrap(), "application/fhir+json");
    let task: Value = response.json().await.unwrap();
    assert_eq!(task["resourceType"], "Task");
    assert_eq!(task["status"], "on-hold");
    assert_eq!(task["intent"], "order");
    assert_eq!(task["code"]["coding"][0]["code"], "ask_for_small_help");
    assert_eq!(task["for"]["reference"], format!("Patient/{}", s.client_id));
    assert_eq!(task["restriction"]["repetitions"], 3);
    assert_eq!(task["restriction"]["period"]["start"], week_ago());
    let outputs = task["output"].as_array().unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0]["type"]["coding"][0]["code"], "done");
    let record: Value = serde_json::from_str(outputs[0]["valueString"].as_str().unwrap()).unwrap();
    assert_eq!(record["fields"]["discomfort_before"], 7);
    let token_b = s.app.token_b().await;
    assert_problem(s.app.get(&format!("{path}/fhir"), &token_b).await, 404, "not_found").await;
}
