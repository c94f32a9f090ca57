use std::time::{Duration, Instant};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn liveness_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    let live = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_fast_while_the_database_is_away_and_recovers_alone() {
    let app = TestApp::spawn_behind_proxy().await;
    let token = app.token_a().await;
    assert_eq!(app.http.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    app.proxy.as_ref().unwrap().cut().await;
    let started = Instant::now();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert!(ready.headers().contains_key("retry-after"));
    assert_problem(ready, 503, "service_unavailable").await;
    let list = app.get("/v1/clients", &token).await;
    assert_problem(list, 503, "service_unavailable").await;
    // Bounded by the pool's wait (1 s in tests), not a hang.
    assert!(started.elapsed() < Duration::from_secs(10));
    // Liveness does not depend on the database.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);

    app.proxy.as_ref().unwrap().restore();
    let mut recovered = false;
    for _ in 0..50 {
        if app.http.get(app.url("/readyz")).send().await.unwrap().status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service did not recover once the database returned");
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_report_the_pool() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let created = app.create_client(&token, serde_json::json!({"display_name": "M."})).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/clients/{id}"), &token).await.status(), 200);
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "the API port does not show the service's internals");
    let metrics = app.http.get(format!("{}/metrics", app.metrics_address)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"endpoint="/v1/clients/{id}",method="GET",status="200""#), "{metrics}");
    assert!(!metrics.contains(id), "raw ids must not become labels");
    assert!(metrics.contains("attune_http_requests_duration_seconds_bucket"));
    assert!(metrics.contains("attune_db_pool_max 16"));
}

#[tokio::test]
async fn the_container_healthcheck_probe_passes_against_a_live_service() {
    let app = TestApp::spawn().await;
    let bind = app.address.trim_start_matches("http://").to_owned();
    let probe = tokio::task::spawn_blocking(move || attune::health::probe::check(&bind, Duration::from_secs(2)));
    assert!(probe.await.unwrap().is_ok());
}
