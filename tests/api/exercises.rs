//! `/v1/exercises`, mirroring its routes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

pub fn custom_exercise(key: &str) -> Value {
    json!({
        "key": key,
        "title": "Gratitude note",
        "summary": "Write one thing you appreciated about your partner.",
        "instructions": ["Write the note.", "Share it, or keep it for the session."],
        "target": "both",
        "suggested_cadence_per_week": 3,
        "log_fields": [
            {"key": "shared", "label": "Did you share it?", "type": "boolean"},
            {"key": "mood", "label": "Mood afterwards", "type": "integer", "min": 0, "max": 10, "required": true}
        ],
        "recommend_when": [{"kind": "subscale_at_most", "instrument": "interdependence_balance", "subscale": "mutuality", "at_most": 3.5}]
    })
}

fn keys(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_builtin_library_is_listed_and_filtered_by_target() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let all: Value = app.get("/v1/exercises", &token).await.json().await.unwrap();
    assert_eq!(keys(&all).len(), 8);
    let dependent: Value = app.get("/v1/exercises?target=over_dependence", &token).await.json().await.unwrap();
    assert_eq!(keys(&dependent), vec!["delight_in_solo_time", "time_with_friends", "build_a_fuller_life"]);
    let independent: Value = app.get("/v1/exercises?target=over_independence", &token).await.json().await.unwrap();
    assert_eq!(keys(&independent), vec!["ask_for_small_help"]);

    let ask = &independent["data"][0];
    let fetched: Value =
        app.get(&format!("/v1/exercises/{}", ask["id"].as_str().unwrap()), &token).await.json().await.unwrap();
    assert_eq!(&fetched, ask);
    assert_eq!(fetched["builtin"], true);
    assert_eq!(
        fetched["definition"]["log_fields"][1],
        json!({
            "key": "discomfort_before", "label": "Discomfort before asking (0-10)", "required": true,
            "type": "integer", "min": 0, "max": 10
        })
    );
    assert_problem(app.get("/v1/exercises?target=sideways", &token).await, 400, "invalid_query").await;
}

#[tokio::test]
async fn practices_register_versioned_exercises_of_their_own() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let first = app.post_json("/v1/exercises", &admin, &custom_exercise("gratitude_note")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["version"].as_i64(), first["builtin"].as_bool()), (Some(1), Some(false)));
    let second: Value =
        app.post_json("/v1/exercises", &admin, &custom_exercise("gratitude_note")).await.json().await.unwrap();
    assert_eq!(second["version"], 2);

    let mut broken = custom_exercise("broken");
    broken["suggested_cadence_per_week"] = json!(0);
    broken["log_fields"][1]["key"] = json!("shared");
    broken["log_fields"][1]["min"] = json!(10);
    broken["log_fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "pick", "label": "Pick", "type": "choice", "options": ["only"]}));
    let problem = assert_problem(app.post_json("/v1/exercises", &admin, &broken).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        vec!["suggested_cadence_per_week", "log_fields[1].key", "log_fields[1].max", "log_fields[2].options"]
    );

    let reserved = app.post_json("/v1/exercises", &admin, &custom_exercise("reliance_check")).await;
    assert_problem(reserved, 409, "exercise_key_reserved").await;
    let reader = app.token_for(&app.practice_a, Some("homework:read")).await;
    assert_problem(app.post_json("/v1/exercises", &reader, &custom_exercise("x")).await, 403, "insufficient_scope")
        .await;
}

#[tokio::test]
async fn another_practices_exercise_is_not_found() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let own: Value =
        app.post_json("/v1/exercises", &token_a, &custom_exercise("private_ex")).await.json().await.unwrap();
    let path = format!("/v1/exercises/{}", own["id"].as_str().unwrap());
    assert_problem(app.get(&path, &token_b).await, 404, "not_found").await;
    let listed: Value = app.get("/v1/exercises?key=private_ex", &token_b).await.json().await.unwrap();
    assert!(listed["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get(&path, &token_a).await.status(), 200);
}

#[tokio::test]
async fn an_exercise_reads_in_spanish_with_its_choice_values_kept() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let catalog: Value = serde_json::from_str(include_str!("../../catalog/exercises/active_listening.json")).unwrap();
    let page: Value = app.get("/v1/exercises?key=active_listening", &token).await.json().await.unwrap();
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let response = app
        .http
        .get(app.url(&format!("/v1/exercises/{id}")))
        .bearer_auth(&token)
        .header("accept-language", "es")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-language"], "es");
    let exercise: Value = response.json().await.unwrap();
    let spanish = &catalog["translations"]["es"];
    assert_eq!(exercise["title"], spanish["title"]);
    assert_eq!(exercise["definition"]["instructions"], spanish["instructions"]);
    let choice = catalog["log_fields"].as_array().unwrap().iter().find(|f| f["type"] == "choice").unwrap();
    let shown =
        exercise["definition"]["log_fields"].as_array().unwrap().iter().find(|f| f["key"] == choice["key"]).unwrap();
    assert_eq!(shown["label"], spanish["log_fields"][choice["key"].as_str().unwrap()]["label"]);
    assert_eq!(shown["options"], choice["options"], "options are the values logs store");
}
