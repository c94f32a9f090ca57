//! Races an integrator's retries and parallel workers produce: optimistic
//! concurrency holds (one winner per version) and an Idempotency-Key names one
//! write however many copies arrive at once.

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn concurrent_patches_with_one_if_match_have_exactly_one_winner_per_version() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "Race"})).await;
    let path = app.url(&format!("/v1/clients/{}", client["id"].as_str().unwrap()));
    for version in 1..=3 {
        let tag = format!("\"v{version}\"");
        let patches = (0..16).map(|i| {
            app.http
                .patch(&path)
                .bearer_auth(&token)
                .header("if-match", &tag)
                .header("content-type", "application/merge-patch+json")
                .body(json!({"display_name": format!("Writer {i}")}).to_string())
                .send()
        });
        let statuses: Vec<u16> = join_all(patches).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "version {version}: {statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 15, "the rest are stale: {statuses:?}");
    }
    let now: Value =
        app.get(&format!("/v1/clients/{}", client["id"].as_str().unwrap()), &token).await.json().await.unwrap();
    assert!(now["display_name"].as_str().unwrap().starts_with("Writer "));
    // Every call is in the trail: the three that changed it, and the stale ones refused.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE operation = 'update_client' AND outcome = 200").await,
        3
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_events WHERE operation = 'update_client' AND outcome = 412").await,
        45
    );
}

#[tokio::test]
async fn concurrent_log_submissions_with_one_idempotency_key_store_one_row() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "Race"})).await;
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", &token).await.json().await.unwrap();
    let body = json!({"client_id": client["id"], "exercise_id": page["data"][0]["id"], "cadence_per_week": 3,
                      "starts_on": (Utc::now() - Duration::days(7)).date_naive()});
    let homework: Value = app.post_json("/v1/homework", &token, &body).await.json().await.unwrap();
    let url = app.url(&format!("/v1/homework/{}/logs", homework["id"].as_str().unwrap()));
    let log = json!({"occurred_at": Utc::now() - Duration::hours(1), "done": true,
                     "fields": {"what_i_asked": "A lift", "discomfort_before": 6, "discomfort_after": 2, "let_them_do_it_their_way": true}});
    let submissions = (0..12)
        .map(|_| app.http.post(&url).bearer_auth(&token).header("idempotency-key", "portal-77").json(&log).send());
    let mut ids = Vec::new();
    for response in join_all(submissions).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same log");
    assert_eq!(app.count("SELECT count(*) FROM homework_logs").await, 1);
    // One log, and one entry per call: replays are accesses too.
    let calls = app.count("SELECT count(*) FROM audit_events WHERE operation = 'create_homework_log'").await;
    assert_eq!(calls, 12);
}
