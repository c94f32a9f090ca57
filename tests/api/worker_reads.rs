//! Point reads run on each HTTP worker's own connection, shared by the
//! worker's requests (src/db/worker.rs): answers must never cross, and a
//! connection the database dropped must be replaced, not kept.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn concurrent_reads_sharing_a_workers_connection_each_get_their_own_row() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let created = app.create_client(&token, json!({"display_name": format!("Client {n}")})).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    // One worker, 240 reads at once: they go out pipelined on one connection.
    let reads = (0..240).map(|i| {
        let (app, token, id) = (&app, &token, ids[i % ids.len()].clone());
        async move {
            let response = app.get(&format!("/v1/clients/{id}"), token).await;
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.unwrap();
            (id, body)
        }
    });
    for (asked, body) in join_all(reads).await {
        assert_eq!(body["id"], asked.as_str(), "a read answered with another request's row");
        let n = ids.iter().position(|id| *id == asked).unwrap();
        assert_eq!(body["display_name"], format!("Client {n}"));
    }
}

#[tokio::test]
async fn a_workers_connection_the_database_dropped_answers_503_once_and_is_replaced() {
    // The revocation check stays cached, so a GET runs no pooled query.
    let app = TestApp::spawn_with(|args| args.revocation_check_seconds = 600).await;
    let token = app.token_a().await;
    let created = app.create_client(&token, json!({"display_name": "R."})).await;
    let path = format!("/v1/clients/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &token).await.status(), 200, "the first read opens the worker's connection");

    let dropped = app
        .count(
            "SELECT count(pg_terminate_backend(pid)) AS count FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
    assert!(dropped >= 1, "the service held no connection to drop");

    // The read finds its connection gone, which is the database's failure
    // (503, never a 500); the next read opens a new connection.
    assert_problem(app.get(&path, &token).await, 503, "service_unavailable").await;
    let again = app.get(&path, &token).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["display_name"], "R.");
}
