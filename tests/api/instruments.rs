//! `/v1/instruments`, mirroring its routes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

pub fn custom_definition(key: &str) -> Value {
    json!({
        "key": key,
        "title": "Relationship check",
        "description": "A practice's own questionnaire.",
        "scale": {"min": 0, "max": 4, "labels": [{"value": 0, "label": "Never"}, {"value": 4, "label": "Always"}]},
        "items": [
            {"id": "q1", "text": "We talk things through.", "subscale": "closeness"},
            {"id": "q2", "text": "I keep things to myself.", "subscale": "closeness", "reverse": true},
            {"id": "q3", "text": "We argue.", "subscale": "conflict"}
        ],
        "subscales": [
            {"key": "closeness", "title": "Closeness", "method": "sum", "max_missing": 1, "direction": "higher_is_better",
             "bands": [{"min": 0, "max": 3, "label": "low"}, {"min": 4, "max": 8, "label": "high"}],
             "norms": {"sd": 1.8, "reliability": 0.85, "reliability_kind": "test_retest",
                       "clinical_mean": 3.0, "clinical_sd": 1.5, "normal_mean": 6.0, "normal_sd": 1.2, "source": "Manual, 2019"}},
            {"key": "conflict", "title": "Conflict", "method": "mean", "direction": "lower_is_better", "norms": null}
        ],
        "classification": null
    })
}

fn keys(page: &Value) -> Vec<(String, i64)> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["key"].as_str().unwrap().to_owned(), i["version"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn every_practice_sees_the_builtin_instruments() {
    let app = TestApp::spawn().await;
    for token in [app.token_a().await, app.token_b().await] {
        let page: Value = app.get("/v1/instruments", &token).await.json().await.unwrap();
        assert_eq!(
            keys(&page),
            vec![("interdependence_balance".to_owned(), 1), ("attachment_lean_short_form".to_owned(), 1)]
        );
        assert!(page["data"].as_array().unwrap().iter().all(|i| i["builtin"] == true));
    }
    let token = app.token_a().await;
    let page: Value = app.get("/v1/instruments?key=attachment_lean_short_form", &token).await.json().await.unwrap();
    let instrument = &page["data"][0];
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let fetched: Value =
        app.get(&format!("/v1/instruments/{}", instrument["id"].as_str().unwrap()), &token).await.json().await.unwrap();
    assert_eq!(&fetched, instrument);
    assert_eq!(fetched["definition"]["classification"]["kind"], "quadrant");
    assert_eq!(fetched["definition"]["items"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn registering_a_key_again_makes_its_next_version() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let first = app.post_json("/v1/instruments", &admin, &custom_definition("rel_check")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["version"].as_i64(), first["builtin"].as_bool()), (Some(1), Some(false)));
    let mut changed = custom_definition("rel_check");
    changed["title"] = json!("Relationship check, revised");
    let second: Value = app.post_json("/v1/instruments", &admin, &changed).await.json().await.unwrap();
    assert_eq!(second["version"], 2);
    // The first version is unchanged.
    let again: Value =
        app.get(&format!("/v1/instruments/{}", first["id"].as_str().unwrap()), &admin).await.json().await.unwrap();
    assert_eq!(again["title"], "Relationship check");
    let page: Value = app.get("/v1/instruments?key=rel_check", &admin).await.json().await.unwrap();
    assert_eq!(keys(&page), vec![("rel_check".to_owned(), 1), ("rel_check".to_owned(), 2)]);
}

#[tokio::test]
async fn invalid_definitions_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let mut broken = custom_definition("broken");
    broken["items"][1]["id"] = json!("q1");
    broken["items"][2]["subscale"] = json!("nowhere");
    broken["subscales"][0]["norms"]["reliability"] = json!(1.2);
    broken["subscales"][0]["bands"][1]["min"] = json!(2);
    let problem =
        assert_problem(app.post_json("/v1/instruments", &admin, &broken).await, 422, "validation_failed").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for expected in [
        "items[1].id",
        "items[2].subscale",
        "subscales[0].norms.reliability",
        "subscales[0].bands[1]",
        "subscales[1].key",
    ] {
        assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
    }
    let mut wrong_type = custom_definition("typed");
    wrong_type["scale"]["min"] = json!("zero");
    let problem =
        assert_problem(app.post_json("/v1/instruments", &admin, &wrong_type).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "scale.min");

    let reserved = app.post_json("/v1/instruments", &admin, &custom_definition("attachment_lean_short_form")).await;
    assert_problem(reserved, 409, "instrument_key_reserved").await;
    assert_eq!(app.count("SELECT count(*) AS count FROM instruments WHERE practice_id IS NOT NULL").await, 0);

    let reader = app.token_for(&app.practice_a, Some("assessments:read")).await;
    let forbidden = app.post_json("/v1/instruments", &reader, &custom_definition("x")).await;
    assert_problem(forbidden, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn another_practices_instrument_is_not_found() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let own: Value =
        app.post_json("/v1/instruments", &token_a, &custom_definition("private")).await.json().await.unwrap();
    let path = format!("/v1/instruments/{}", own["id"].as_str().unwrap());
    assert_problem(app.get(&path, &token_b).await, 404, "not_found").await;
    let page: Value = app.get("/v1/instruments?key=private", &token_b).await.json().await.unwrap();
    assert!(page["data"].as_array().unwrap().is_empty());
    // B may use the same key for its own instrument: version 1 of B's.
    let theirs: Value =
        app.post_json("/v1/instruments", &token_b, &custom_definition("private")).await.json().await.unwrap();
    assert_eq!(theirs["version"], 1);
    assert_eq!(app.get(&path, &token_a).await.status(), 200);
}

#[tokio::test]
async fn an_instrument_exports_as_a_fhir_questionnaire() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let own: Value =
        app.post_json("/v1/instruments", &token, &custom_definition("rel_fhir")).await.json().await.unwrap();
    let path = format!("/v1/instruments/{}/fhir", own["id"].as_str().unwrap());
    let response = app.get(&path, &token).await;
    assert_eq!(response.headers().get("content-type").unwrap(), "application/fhir+json");
    let q: Value = response.json().await.unwrap();
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!((q["url"].as_str(), q["version"].as_str()), (Some("urn:attune:instrument:rel_fhir"), Some("1")));
    // Scale 0..4; q2 is reverse-keyed: weights 4..0.
    let weights: Vec<f64> = q["item"][1]["answerOption"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["extension"][0]["valueDecimal"].as_f64().unwrap())
        .collect();
    assert_eq!(weights, vec![4.0, 3.0, 2.0, 1.0, 0.0]);
    assert_eq!(q["item"][0]["answerOption"][4]["valueCoding"]["display"], "Always");
    let token_b = app.token_b().await;
    assert_problem(app.get(&path, &token_b).await, 404, "not_found").await;
}

#[tokio::test]
async fn instruments_read_in_the_language_asked_for_when_they_have_it() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let own = app.post_json("/v1/instruments", &token, &custom_definition("own_form")).await;
    assert_eq!(own.status(), 201);
    let catalog: Value =
        serde_json::from_str(include_str!("../../catalog/instruments/attachment_lean_short_form.json")).unwrap();
    let spanish = &catalog["translations"]["es"];
    let read = |path: &'static str, language: &'static str| {
        app.http.get(app.url(path)).bearer_auth(&token).header("accept-language", language).send()
    };

    let response = read("/v1/instruments?key=attachment_lean_short_form", "es-MX, es;q=0.9, en;q=0.5").await.unwrap();
    assert_eq!(response.headers()["content-language"], "es");
    assert_eq!(response.headers()["vary"], "Accept-Language");
    let page: Value = response.json().await.unwrap();
    let form = &page["data"][0];
    assert_eq!(form["title"], spanish["title"]);
    assert_eq!(form["definition"]["items"][0]["text"], spanish["items"]["ax1"]);
    assert_eq!(form["definition"]["scale"]["labels"][0]["label"], spanish["scale_labels"][0]["label"]);
    assert_eq!(form["definition"]["subscales"], catalog["subscales"], "scoring data is not translated");

    let english: Value =
        read("/v1/instruments?key=attachment_lean_short_form", "en").await.unwrap().json().await.unwrap();
    assert_eq!(english["data"][0]["title"], catalog["title"]);

    // The practice's own instrument has no Spanish: its own words, and no claim to be Spanish.
    let response = read("/v1/instruments?key=own_form", "es").await.unwrap();
    assert!(response.headers().get("content-language").is_none());
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["data"][0]["title"], custom_definition("own_form")["title"]);
}
