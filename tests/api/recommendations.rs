//! `GET /v1/clients/{id}/recommendations`.

use serde_json::{Value, json};

use crate::assessments::anxious_answers;
use crate::helpers::{TestApp, assert_problem};

async fn id_of(app: &TestApp, token: &str, path: &str) -> String {
    let page: Value = app.get(path, token).await.json().await.unwrap();
    page["data"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn recommendations_follow_the_latest_scores_with_reasons() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "R."})).await;
    let client_id = client["id"].as_str().unwrap();
    let path = format!("/v1/clients/{client_id}/recommendations");

    let empty: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["note"], "the client has no completed assessments yet");

    // The anxious answer set (anxiety 5.5, avoidance 2.17) on the attachment form.
    let instrument = id_of(&app, &token, "/v1/instruments?key=attachment_lean_short_form").await;
    let body = json!({"client_id": client_id, "instrument_id": instrument, "answers": anxious_answers()});
    let assessment: Value = app.post_json("/v1/assessments", &token, &body).await.json().await.unwrap();

    let delight = id_of(&app, &token, "/v1/exercises?key=delight_in_solo_time").await;
    let assign =
        json!({"client_id": client_id, "exercise_id": delight, "cadence_per_week": 2, "starts_on": "2026-11-01"});
    assert_eq!(app.post_json("/v1/homework", &token, &assign).await.status(), 201);

    let found: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(found["based_on"][0]["assessment_id"], assessment["id"]);
    let summary: Vec<(String, Value, bool)> = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["exercise_key"].as_str().unwrap().to_owned(),
                r["reasons"].clone(),
                r["already_assigned"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("delight_in_solo_time".to_owned(), json!(["attachment_lean_short_form classification is anxious"]), true),
            ("build_a_fuller_life".to_owned(), json!(["attachment_lean_short_form classification is anxious"]), false),
        ]
    );
    assert_eq!(found["note"], Value::Null);
}

#[tokio::test]
async fn another_practices_client_has_no_recommendations() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let client = app.create_client(&token_a, json!({"display_name": "R."})).await;
    let path = format!("/v1/clients/{}/recommendations", client["id"].as_str().unwrap());
    assert_problem(app.get(&path, &token_b).await, 404, "not_found").await;
    let missing = format!("/v1/clients/{}/recommendations", uuid::Uuid::now_v7());
    assert_problem(app.get(&missing, &token_a).await, 404, "not_found").await;
}
