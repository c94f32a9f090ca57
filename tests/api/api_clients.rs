//! `/v1/api-clients`: credentials managed by practice admins.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, token_with};

async fn access_token(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_creates_credentials_with_chosen_scopes() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let response =
        app.post_json("/v1/api-clients", &admin, &json!({"name": "Reports", "scopes": ["clients:read"]})).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(created["scopes"], json!(["clients:read"]));

    let token = access_token(token_with(&app, id, secret).await).await;
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
    assert_problem(app.get("/v1/api-clients", &token).await, 403, "insufficient_scope").await;
    // The secret is stored hashed, never in clear.
    let stored =
        app.count(&format!("SELECT count(*) AS count FROM api_clients WHERE secret_hash LIKE '%{secret}%'")).await;
    assert_eq!(stored, 0);

    let listed: Value = app.get("/v1/api-clients", &admin).await.json().await.unwrap();
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["integration", "Reports"]);
    assert!(listed["data"][1].get("client_secret").is_none());

    let invalid = app.post_json("/v1/api-clients", &admin, &json!({"name": "X", "scopes": ["root"]})).await;
    let problem = assert_problem(invalid, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "scopes[0]");
    let empty = app.post_json("/v1/api-clients", &admin, &json!({"name": "X", "scopes": []})).await;
    assert_problem(empty, 422, "validation_failed").await;
}

#[tokio::test]
async fn rotating_a_secret_retires_the_old_one() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let created: Value = app
        .post_json("/v1/api-clients", &admin, &json!({"name": "Portal", "scopes": ["clients:read"]}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let old_secret = created["client_secret"].as_str().unwrap();
    let rotated = app.post_json(&format!("/v1/api-clients/{id}/rotate-secret"), &admin, &json!({})).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["secret_rotated_at"].is_string());
    assert_eq!(token_with(&app, id, old_secret).await.status(), 401);
    access_token(token_with(&app, id, new_secret).await).await;
}

#[tokio::test]
async fn a_revoked_client_loses_its_tokens_within_seconds() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let created: Value = app
        .post_json("/v1/api-clients", &admin, &json!({"name": "Old", "scopes": ["clients:read"]}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let token = access_token(token_with(&app, id, secret).await).await;
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);

    let revoked = app.http.delete(app.url(&format!("/v1/api-clients/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    // This instance forgets at once; others re-read within the check interval (1 s here).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_problem(app.get("/v1/clients", &token).await, 401, "invalid_token").await;
    let refused = token_with(&app, id, secret).await;
    assert_eq!(refused.status(), 401);
    let listed: Value = app.get("/v1/api-clients", &admin).await.json().await.unwrap();
    assert!(listed["data"][1]["revoked_at"].is_string());
    let again = app.http.delete(app.url(&format!("/v1/api-clients/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(again.status(), 204, "revoking twice is harmless");
}

#[tokio::test]
async fn a_replayed_creation_never_shows_the_secret_twice() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let send = || {
        app.http
            .post(app.url("/v1/api-clients"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "creds-1")
            .json(&json!({"name": "Once", "scopes": ["clients:read"]}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    assert_problem(send().await.unwrap(), 409, "secret_not_replayable").await;
    assert_eq!(app.count("SELECT count(*) AS count FROM api_clients WHERE name = 'Once'").await, 1);
    assert_eq!(app.count("SELECT count(*) AS count FROM idempotency_keys WHERE response_body LIKE '%atn_%'").await, 0);
}

#[tokio::test]
async fn another_practices_credentials_are_not_found() {
    let app = TestApp::spawn().await;
    let token_b = app.token_b().await;
    let a_client = app.practice_a.client_id;
    let rotate = app.post_json(&format!("/v1/api-clients/{a_client}/rotate-secret"), &token_b, &json!({})).await;
    assert_problem(rotate, 404, "not_found").await;
    let revoke = app.http.delete(app.url(&format!("/v1/api-clients/{a_client}"))).bearer_auth(&token_b).send();
    assert_problem(revoke.await.unwrap(), 404, "not_found").await;
    let listed: Value = app.get("/v1/api-clients", &token_b).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], app.practice_b.client_id.to_string());
    // Practice A's credentials still work.
    app.token_a().await;
}

#[tokio::test]
async fn a_client_cannot_revoke_itself() {
    // Found by contract fuzzing: an admin token could revoke its own client and
    // lock the integration out mid-run.
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let own = app.practice_a.client_id;
    let response =
        app.http.delete(app.url(&format!("/v1/api-clients/{own}"))).bearer_auth(&admin).send().await.unwrap();
    assert_problem(response, 409, "cannot_revoke_self").await;
    assert_eq!(app.get("/v1/api-clients", &admin).await.status(), 200, "still in");
    assert_eq!(app.count("SELECT count(*) FROM api_clients WHERE revoked_at IS NOT NULL").await, 0);
}

#[tokio::test]
async fn an_empty_cursor_means_the_first_page() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let first: Value = app.get("/v1/api-clients?cursor=", &admin).await.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
}
