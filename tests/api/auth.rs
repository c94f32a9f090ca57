//! The token endpoint (RFC 6749 4.4 and 5.2).

use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn token_request(app: &TestApp, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http.post(app.url("/v1/oauth/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn oauth_error(response: reqwest::Response, status: u16, error: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn issues_a_token_by_basic_auth_or_form_fields() {
    let app = TestApp::spawn().await;
    let id = app.practice_a.client_id.to_string();
    let secret = app.practice_a.client_secret.clone();

    let by_basic = token_request(&app, Some((&id, &secret)), &[("grant_type", "client_credentials")]).await;
    assert_eq!(by_basic.status(), 200);
    assert_eq!(by_basic.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = by_basic.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(
        body["scope"],
        "clients:read clients:write assessments:read assessments:write homework:read homework:write progress:read events:read audit:read admin"
    );
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);

    let by_form = token_request(
        &app,
        None,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(by_form.status(), 200);
}

#[tokio::test]
async fn a_narrowed_token_carries_only_the_scopes_asked_for() {
    let app = TestApp::spawn().await;
    let id = app.practice_a.client_id.to_string();
    let secret = app.practice_a.client_secret.clone();
    let response = token_request(
        &app,
        Some((&id, &secret)),
        &[("grant_type", "client_credentials"), ("scope", "progress:read clients:read")],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "clients:read progress:read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/v1/clients", token).await.status(), 200);
    let write = app.post_json("/v1/clients", token, &json!({"display_name": "X"})).await;
    assert_eq!(write.status(), 403);
    assert!(
        write.headers().get("www-authenticate").unwrap().to_str().unwrap().contains("error=\"insufficient_scope\"")
    );
}

#[tokio::test]
async fn refuses_bad_clients_grants_and_scopes_in_oauth_format() {
    let app = TestApp::spawn().await;
    let id = app.practice_a.client_id.to_string();
    let secret = app.practice_a.client_secret.clone();
    let grant = [("grant_type", "client_credentials")];

    let wrong_secret = token_request(&app, Some((&id, "atn_wrong")), &grant).await;
    assert_eq!(wrong_secret.headers().get("www-authenticate").unwrap(), "Basic realm=\"attune\"");
    oauth_error(wrong_secret, 401, "invalid_client").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    oauth_error(token_request(&app, Some((&unknown, &secret)), &grant).await, 401, "invalid_client").await;
    oauth_error(token_request(&app, Some(("not-a-uuid", &secret)), &grant).await, 401, "invalid_client").await;
    oauth_error(token_request(&app, None, &grant).await, 401, "invalid_client").await;
    oauth_error(
        token_request(&app, Some((&id, &secret)), &[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    )
    .await;
    oauth_error(token_request(&app, Some((&id, &secret)), &[]).await, 400, "invalid_request").await;
    oauth_error(
        token_request(&app, Some((&id, &secret)), &[("grant_type", "client_credentials"), ("scope", "root")]).await,
        400,
        "invalid_scope",
    )
    .await;
    // Both Basic and form credentials at once.
    oauth_error(
        token_request(&app, Some((&id, &secret)), &[("grant_type", "client_credentials"), ("client_id", &id)]).await,
        400,
        "invalid_request",
    )
    .await;
    // Not a form body.
    let json_body = app
        .http
        .post(app.url("/v1/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    oauth_error(json_body, 400, "invalid_request").await;
}

#[tokio::test]
async fn the_acting_clinician_is_recorded_with_every_write() {
    let app = TestApp::spawn().await;
    let id = app.practice_a.client_id.to_string();
    let secret = app.practice_a.client_secret.clone();
    let response =
        token_request(&app, Some((&id, &secret)), &[("grant_type", "client_credentials"), ("actor", "clinician-4711")])
            .await;
    let token = response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let client = app.create_client(&token, json!({"display_name": "A."})).await;
    let client_id = client["id"].as_str().unwrap();
    let recorded = app
        .count(&format!(
            "SELECT count(*) AS count FROM audit_events WHERE resource_id = '{client_id}' \
             AND operation = 'create_client' AND action = 'create' AND outcome = 201 \
             AND actor = 'clinician-4711' AND api_client = '{id}'"
        ))
        .await;
    assert_eq!(recorded, 1);
}
