//! Conventions every endpoint shares: problem+json for every error class,
//! request ids, body limits.

use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn unknown_routes_and_methods_answer_problem_json() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    assert_problem(app.get("/v1/nothing-here", &token).await, 404, "no_route").await;
    assert_problem(app.http.get(app.url("/nope")).send().await.unwrap(), 404, "no_route").await;
    let put = app.http.put(app.url("/v1/clients")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(put.headers().get("allow").unwrap(), "GET, POST");
    assert_problem(put, 405, "method_not_allowed").await;
    let id = uuid::Uuid::now_v7();
    let post = app.http.post(app.url(&format!("/v1/clients/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(post.headers().get("allow").unwrap(), "GET, DELETE, PATCH");
    assert_problem(post, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn malformed_bodies_and_ids_answer_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let broken = app
        .http
        .post(app.url("/v1/clients"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"display_name\": ")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(broken, 400, "malformed_json").await;
    assert_eq!(problem["errors"][0]["field"], "body");

    let bad_id = app.get("/v1/clients/not-a-uuid", &token).await;
    let problem = assert_problem(bad_id, 400, "invalid_path_parameter").await;
    assert_eq!(problem["errors"][0]["field"], "id");

    let wrong_type = app.http.post(app.url("/v1/clients")).bearer_auth(&token).body("display_name=A").send();
    assert_problem(wrong_type.await.unwrap(), 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let huge = json!({"display_name": "x".repeat(20 * 1024)});
    assert_problem(app.post_json("/v1/clients", &token, &huge).await, 413, "payload_too_large").await;
    // Also without a Content-Length (chunked), and on the token endpoint.
    let chunks: Vec<Result<String, std::io::Error>> = (0..40).map(|_| Ok("x".repeat(1024))).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let streamed = app
        .http
        .post(app.url("/v1/clients"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(streamed, 413, "payload_too_large").await;
    let token_body = app
        .http
        .post(app.url("/v1/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=".to_owned() + &"x".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(token_body.status(), 413);
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let given = app.http.get(app.url("/healthz")).header("x-request-id", "trace-abc-123").send().await.unwrap();
    assert_eq!(given.headers().get("x-request-id").unwrap(), "trace-abc-123");
    let generated = app.http.get(app.url("/healthz")).send().await.unwrap();
    let id = generated.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    // An unusable id (too long) is replaced, not echoed.
    let long = "a".repeat(300);
    let replaced = app.http.get(app.url("/healthz")).header("x-request-id", &long).send().await.unwrap();
    assert_ne!(replaced.headers().get("x-request-id").unwrap().to_str().unwrap(), long);
}

#[tokio::test]
async fn the_explorer_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let redirect = app.http.get(app.url("/docs")).send().await.unwrap();
    assert!(redirect.status().is_redirection());
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "no asset comes from a CDN");
    let bundle = app.http.get(app.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}
