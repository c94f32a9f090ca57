//! `Idempotency-Key` on POST.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(app.url("/v1/clients"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let body = json!({"display_name": "A", "external_id": "p-1"});
    let first = post_with_key(&app, &token, "key-1", &body).await;
    assert_eq!(first.status(), 201);
    let location = first.headers().get("location").unwrap().clone();
    let first_body = first.text().await.unwrap();

    // Same members in another order and spacing: still the same request.
    let retry = app
        .http
        .post(app.url("/v1/clients"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "key-1")
        .header("content-type", "application/json")
        .body(r#"{ "external_id": "p-1",  "display_name": "A" }"#)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(retry.headers().get("location").unwrap(), &location);
    assert_eq!(retry.headers().get("etag").unwrap(), "\"v1\"");
    assert_eq!(retry.text().await.unwrap(), first_body);
    assert_eq!(app.count("SELECT count(*) AS count FROM clients").await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    assert_eq!(post_with_key(&app, &token, "key-2", &json!({"display_name": "A"})).await.status(), 201);
    let other = post_with_key(&app, &token, "key-2", &json!({"display_name": "B"})).await;
    assert_problem(other, 422, "idempotency_key_reused").await;
    assert_eq!(app.count("SELECT count(*) AS count FROM clients").await, 1);
}

#[tokio::test]
async fn keys_are_scoped_by_practice_and_failures_are_not_remembered() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let body = json!({"display_name": "A", "external_id": "dup"});
    assert_eq!(post_with_key(&app, &token_a, "shared", &body).await.status(), 201);
    let b = post_with_key(&app, &token_b, "shared", &body).await;
    assert_eq!(b.status(), 201);
    assert!(b.headers().get("idempotent-replayed").is_none());

    // A rejected write leaves no key behind: the corrected retry runs.
    let bad = post_with_key(&app, &token_a, "fix-me", &json!({"display_name": "B", "external_id": "dup"})).await;
    assert_problem(bad, 409, "external_id_taken").await;
    assert_eq!(app.count("SELECT count(*) AS count FROM idempotency_keys WHERE key = 'fix-me'").await, 0);

    let invalid = app.http.post(app.url("/v1/clients")).bearer_auth(&token_a).header("Idempotency-Key", "").json(&body);
    assert_problem(invalid.send().await.unwrap(), 400, "invalid_header").await;
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_record() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let body = json!({"display_name": "Race"});
    let requests = (0..10).map(|_| post_with_key(&app, &token, "race-key", &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same client");
    assert_eq!(app.count("SELECT count(*) AS count FROM clients").await, 1);
}
