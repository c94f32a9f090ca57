//! `/v1/client-links`: issuing, listing, fetching and revoking links.
//! The pages a link opens are tested in `client_pages.rs`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, assert_problem};

pub struct LinkSetup {
    pub app: TestApp,
    pub token: String,
    pub client_id: String,
    pub assessment_id: String,
    pub homework_id: String,
}

/// A client with one open assessment (the short form) and one active
/// assignment (ask for small help).
pub async fn link_setup() -> LinkSetup {
    link_setup_with(|_| {}).await
}

pub async fn link_setup_with(tweak: impl FnOnce(&mut attune::config::ServeArgs)) -> LinkSetup {
    let app = TestApp::spawn_with(tweak).await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "L."})).await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    let instrument = crate::assessments::instrument_id(&app, &token, "attachment_lean_short_form").await;
    let assessment: Value = app
        .post_json("/v1/assessments", &token, &json!({"client_id": client_id, "instrument_id": instrument}))
        .await
        .json()
        .await
        .unwrap();
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let starts_on = (chrono::Utc::now() - chrono::Duration::days(3)).date_naive().to_string();
    let homework: Value = app
        .post_json(
            "/v1/homework",
            &token,
            &json!({"client_id": client_id, "exercise_id": page["data"][0]["id"], "cadence_per_week": 3, "starts_on": starts_on}),
        )
        .await
        .json()
        .await
        .unwrap();
    LinkSetup {
        client_id,
        assessment_id: assessment["id"].as_str().unwrap().to_owned(),
        homework_id: homework["id"].as_str().unwrap().to_owned(),
        token,
        app,
    }
}

/// Issues a link and returns the answer's body.
pub async fn issue(s: &LinkSetup, body: Value) -> Value {
    let response = s.app.post_json("/v1/client-links", &s.token, &body).await;
    assert_eq!(response.status(), 201, "issuing a link");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_link_is_issued_once_with_its_url_and_read_back_without_it() {
    let s = link_setup().await;
    let body = json!({"client_id": s.client_id, "all_open_assessments": true, "homework_ids": [s.homework_id], "language": "es"});
    let response = s.app.post_json("/v1/client-links", &s.token, &body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("etag"));
    let issued: Value = response.json().await.unwrap();
    let id = issued["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/client-links/{id}"));
    let url = issued["url"].as_str().unwrap();
    assert!(url.starts_with(&s.app.url("/l/atl_")), "{url}");
    assert_eq!(issued["state"], "active");
    assert_eq!(issued["language"], "es");
    assert_eq!(issued["homework_ids"], json!([s.homework_id]));
    let created = chrono::DateTime::parse_from_rfc3339(issued["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(issued["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_minutes(), 96 * 60);

    let fetched: Value = s.app.get(&location, &s.token).await.json().await.unwrap();
    assert!(fetched.get("url").is_none(), "the URL is shown once: {fetched}");
    assert_eq!(fetched["state"], "active");
    assert_eq!(fetched["submissions"], json!([]));
    let listed: Value =
        s.app.get(&format!("/v1/client-links?client_id={}", s.client_id), &s.token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0].get("url").is_none());

    // Only the token's digest is kept.
    let token = url.rsplit('/').next().unwrap();
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let matching = s
        .app
        .count(&format!("SELECT count(*) FROM client_links WHERE id = '{id}' AND token_digest = '\\x{digest}'::bytea"))
        .await;
    assert_eq!(matching, 1);
    let leaked = s
        .app
        .count(&format!(
            "SELECT count(*) FROM client_links l WHERE l::text LIKE '%{token}%' \
             OR EXISTS (SELECT 1 FROM idempotency_keys k WHERE k::text LIKE '%{token}%') \
             OR EXISTS (SELECT 1 FROM audit_events a WHERE a::text LIKE '%{token}%')"
        ))
        .await;
    assert_eq!(leaked, 0, "the token is stored somewhere in the clear");
}

#[tokio::test]
async fn a_replayed_issue_does_not_show_the_url_again() {
    let s = link_setup().await;
    let send = || {
        s.app
            .http
            .post(s.app.url("/v1/client-links"))
            .bearer_auth(&s.token)
            .header("Idempotency-Key", "link-1")
            .json(&json!({"client_id": s.client_id, "all_open_assessments": true}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    assert_problem(send().await.unwrap(), 409, "secret_not_replayable").await;
    assert_eq!(s.app.count("SELECT count(*) FROM client_links").await, 1);
}

#[tokio::test]
async fn what_a_link_covers_is_checked_field_by_field() {
    let s = link_setup().await;
    let cases = [
        (json!({"client_id": s.client_id}), "all_open_assessments"),
        (
            json!({"client_id": s.client_id, "all_open_assessments": true, "assessment_ids": [s.assessment_id]}),
            "all_open_assessments",
        ),
        (
            json!({"client_id": s.client_id, "all_active_homework": true, "homework_ids": [s.homework_id]}),
            "all_active_homework",
        ),
        (json!({"client_id": s.client_id, "assessment_ids": [s.assessment_id, s.assessment_id]}), "assessment_ids[1]"),
        // A homework id is not an assessment of the client.
        (json!({"client_id": s.client_id, "assessment_ids": [s.homework_id]}), "assessment_ids[0]"),
        (json!({"client_id": s.client_id, "homework_ids": [s.assessment_id]}), "homework_ids[0]"),
        (json!({"client_id": s.client_id, "all_open_assessments": true, "expires_in_hours": 721}), "expires_in_hours"),
        (json!({"client_id": s.client_id, "all_open_assessments": true, "expires_in_hours": 0}), "expires_in_hours"),
        (json!({"client_id": s.homework_id, "all_open_assessments": true}), "client_id"),
        (json!({"client_id": s.client_id, "all_open_assessments": true, "language": "fr"}), "language"),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(s.app.post_json("/v1/client-links", &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    assert_eq!(s.app.count("SELECT count(*) FROM client_links").await, 0);
}

#[tokio::test]
async fn covering_something_needs_its_write_scope() {
    let s = link_setup().await;
    let homework_only = s.app.token_for(&s.app.practice_a, Some("homework:write")).await;
    let reader = s.app.token_for(&s.app.practice_a, Some("clients:read assessments:read")).await;
    let assessments = json!({"client_id": s.client_id, "all_open_assessments": true});
    let homework = json!({"client_id": s.client_id, "all_active_homework": true});
    let problem = assert_problem(
        s.app.post_json("/v1/client-links", &homework_only, &assessments).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("assessments:write"));
    let issued: Value = s.app.post_json("/v1/client-links", &homework_only, &homework).await.json().await.unwrap();
    let path = format!("/v1/client-links/{}", issued["id"].as_str().unwrap());
    assert_eq!(s.app.get(&path, &homework_only).await.status(), 200);
    assert_problem(s.app.get(&path, &reader).await, 403, "insufficient_scope").await;
    assert_problem(s.app.post_json("/v1/client-links", &reader, &homework).await, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn a_revoked_link_says_so_and_revoking_again_is_harmless() {
    let s = link_setup().await;
    let issued = issue(&s, json!({"client_id": s.client_id, "assessment_ids": [s.assessment_id]})).await;
    let path = format!("/v1/client-links/{}", issued["id"].as_str().unwrap());
    let stale =
        s.app.http.delete(s.app.url(&path)).bearer_auth(&s.token).header("If-Match", "\"v9\"").send().await.unwrap();
    assert_problem(stale, 412, "precondition_failed").await;
    let current = s.app.get(&path, &s.token).await.headers()["etag"].to_str().unwrap().to_owned();
    let revoke =
        || s.app.http.delete(s.app.url(&path)).bearer_auth(&s.token).header("If-Match", current.clone()).send();
    assert_eq!(revoke().await.unwrap().status(), 204);
    let fetched: Value = s.app.get(&path, &s.token).await.json().await.unwrap();
    assert_eq!(fetched["state"], "revoked");
    assert!(fetched["revoked_at"].is_string());
    // The version moved on, so the same If-Match is now stale; without it, a second revoke is a no-op.
    assert_eq!(revoke().await.unwrap().status(), 412);
    let again = s.app.http.delete(s.app.url(&path)).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(again.status(), 204);
    // Each call has its entry: two refused as stale, the revoke and the harmless second one.
    let outcomes = "SELECT count(*) FROM audit_events WHERE operation = 'revoke_client_link'";
    assert_eq!(s.app.count(&format!("{outcomes} AND outcome = 204")).await, 2);
    assert_eq!(s.app.count(&format!("{outcomes} AND outcome = 412")).await, 2);
}
