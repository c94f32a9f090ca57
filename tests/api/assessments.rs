//! `/v1/assessments`, mirroring its routes. Expected scores are worked by
//! hand from catalog/instruments/attachment_lean_short_form.json (scale 1..7,
//! ax3/ax5 and av3/av5 reverse-keyed, means, quadrant cut-offs 4.0).

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::instruments::custom_definition;

pub async fn instrument_id(app: &TestApp, token: &str, key: &str) -> String {
    let page: Value = app.get(&format!("/v1/instruments?key={key}"), token).await.json().await.unwrap();
    page["data"][0]["id"].as_str().unwrap().to_owned()
}

/// ax: 6 5 2 6 3 5 -> keyed 6 5 6 6 5 5 = 33, mean 5.5 (high).
/// av: 2 3 6 1 5 2 -> keyed 2 3 2 1 3 2 = 13, mean 13/6 = 2.1667 (low). Anxious.
pub fn anxious_answers() -> Value {
    let values = [("ax", [6, 5, 2, 6, 3, 5]), ("av", [2, 3, 6, 1, 5, 2])];
    let answers: Vec<Value> = values
        .iter()
        .flat_map(|(prefix, vals)| {
            vals.iter().enumerate().map(move |(i, v)| json!({"item_id": format!("{prefix}{}", i + 1), "value": v}))
        })
        .collect();
    Value::Array(answers)
}

struct Setup {
    app: TestApp,
    token: String,
    client_id: String,
    instrument_id: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await;
    let instrument_id = instrument_id(&app, &token, "attachment_lean_short_form").await;
    Setup { token, client_id: client["id"].as_str().unwrap().to_owned(), instrument_id, app }
}

async fn assign(s: &Setup) -> Value {
    let body = json!({"client_id": s.client_id, "instrument_id": s.instrument_id, "due_on": "2026-12-01"});
    let response = s.app.post_json("/v1/assessments", &s.token, &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn assert_anxious_scores(assessment: &Value) {
    assert_eq!(assessment["status"], "completed");
    let scores = assessment["scores"].as_array().unwrap();
    assert_eq!(
        scores[0],
        json!({"key": "anxiety", "score": 5.5, "raw": 33.0, "answered": 6, "missing": 0, "band": "high"})
    );
    assert_eq!(scores[1]["key"], "avoidance");
    assert_eq!(scores[1]["raw"], 13.0);
    assert!((scores[1]["score"].as_f64().unwrap() - 13.0 / 6.0).abs() < 1e-12);
    assert_eq!(scores[1]["band"], "low");
    assert_eq!(
        assessment["classification"],
        json!({"label": "anxious", "explanation": "anxiety 5.5 >= 4 (high), avoidance 2.17 < 4 (low): anxious"})
    );
}

#[tokio::test]
async fn assign_then_submit_scores_and_completes() {
    let s = setup().await;
    let assigned = assign(&s).await;
    assert_eq!(assigned["status"], "assigned");
    assert_eq!(assigned["due_on"], "2026-12-01");
    assert_eq!(assigned["instrument_key"], "attachment_lean_short_form");
    assert_eq!(assigned["scores"], Value::Null);
    let path = format!("/v1/assessments/{}", assigned["id"].as_str().unwrap());

    let submitted =
        s.app.post_json(&format!("{path}/responses"), &s.token, &json!({"answers": anxious_answers()})).await;
    assert_eq!(submitted.status(), 200);
    let completed: Value = submitted.json().await.unwrap();
    assert_anxious_scores(&completed);
    assert!(completed["completed_at"].is_string());

    let fetched = s.app.get(&path, &s.token).await;
    assert!(fetched.headers().get("etag").is_some());
    assert_eq!(fetched.json::<Value>().await.unwrap(), completed);
    let id = assigned["id"].as_str().unwrap();
    let rows =
        s.app.count(&format!("SELECT count(*) AS count FROM assessment_scores WHERE assessment_id = '{id}'")).await;
    assert_eq!(rows, 2, "one score row per subscale for progress queries");

    let again = s.app.post_json(&format!("{path}/responses"), &s.token, &json!({"answers": anxious_answers()})).await;
    assert_problem(again, 409, "assessment_completed").await;
}

#[tokio::test]
async fn answers_given_at_assignment_complete_it_at_once() {
    let s = setup().await;
    let body = json!({"client_id": s.client_id, "instrument_id": s.instrument_id, "answers": anxious_answers()});
    let response = s.app.post_json("/v1/assessments", &s.token, &body).await;
    assert_eq!(response.status(), 201);
    assert_anxious_scores(&response.json().await.unwrap());
}

#[tokio::test]
async fn a_bad_answer_set_is_refused_whole_with_the_answer_at_fault() {
    let s = setup().await;
    let assigned = assign(&s).await;
    let id = assigned["id"].as_str().unwrap();
    let path = format!("/v1/assessments/{id}/responses");
    let with = |change: &dyn Fn(&mut Vec<Value>)| {
        let mut answers = anxious_answers().as_array().unwrap().clone();
        change(&mut answers);
        json!({"answers": answers})
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|a| a[0]["item_id"] = json!("zz9")), "answers[0].item_id"),
        (with(&|a| a[1]["item_id"] = json!("ax1")), "answers[1].item_id"),
        (with(&|a| a[2]["value"] = json!(8)), "answers[2].value"),
        (with(&|a| a[3]["value"] = json!(0)), "answers[3].value"),
        (with(&|a| a[4]["value"] = json!(4.5)), "answers[4].value"),
        (with(&|a| a[5]["value"] = json!("5")), "answers[5].value"),
        // Two anxiety items unanswered; one is tolerated.
        (with(&|a| a.drain(0..2).for_each(drop)), "answers"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(s.app.post_json(&path, &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let fetched: Value = s.app.get(&format!("/v1/assessments/{id}"), &s.token).await.json().await.unwrap();
    assert_eq!(fetched["status"], "assigned", "nothing stored");
    assert_eq!(s.app.count("SELECT count(*) AS count FROM assessment_scores").await, 0);

    // One missing anxiety item is tolerated: mean over the five answered.
    // ax2..ax6 keyed 5 6 6 5 5 = 27 -> 5.4.
    let tolerated = with(&|a| drop(a.remove(0)));
    let completed: Value = s.app.post_json(&path, &s.token, &tolerated).await.json().await.unwrap();
    assert_eq!(completed["scores"][0]["score"], 5.4);
    assert_eq!(completed["scores"][0]["missing"], 1);
}

#[tokio::test]
async fn clients_and_instruments_must_be_the_practices_own_and_live() {
    let s = setup().await;
    let token_b = s.app.token_b().await;
    let b_client = s.app.create_client(&token_b, json!({"display_name": "B."})).await;
    let b_instrument: Value =
        s.app.post_json("/v1/instruments", &token_b, &custom_definition("b_only")).await.json().await.unwrap();

    let cases = [
        (json!({"client_id": b_client["id"], "instrument_id": s.instrument_id}), "client_id"),
        (json!({"client_id": uuid::Uuid::now_v7(), "instrument_id": s.instrument_id}), "client_id"),
        (json!({"client_id": s.client_id, "instrument_id": b_instrument["id"]}), "instrument_id"),
        (json!({"client_id": s.client_id}), "instrument_id"),
        (json!({"client_id": s.client_id, "instrument_id": s.instrument_id, "due_on": "soon"}), "due_on"),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(s.app.post_json("/v1/assessments", &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let archived = s.app.http.delete(s.app.url(&format!("/v1/clients/{}", s.client_id))).bearer_auth(&s.token).send();
    assert_eq!(archived.await.unwrap().status(), 204);
    let body = json!({"client_id": s.client_id, "instrument_id": s.instrument_id});
    let problem =
        assert_problem(s.app.post_json("/v1/assessments", &s.token, &body).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["message"], "the client is archived");
    assert_eq!(s.app.count("SELECT count(*) AS count FROM assessments").await, 0);
}

#[tokio::test]
async fn cancelling_closes_an_assessment() {
    let s = setup().await;
    let assigned = assign(&s).await;
    let path = format!("/v1/assessments/{}", assigned["id"].as_str().unwrap());
    for _ in 0..2 {
        let cancelled = s.app.post_json(&format!("{path}/cancel"), &s.token, &json!({})).await;
        assert_eq!(cancelled.status(), 200);
        let cancelled: Value = cancelled.json().await.unwrap();
        assert_eq!(cancelled["status"], "cancelled");
        assert!(cancelled["cancelled_at"].is_string());
    }
    let submit = s.app.post_json(&format!("{path}/responses"), &s.token, &json!({"answers": anxious_answers()})).await;
    assert_problem(submit, 409, "assessment_cancelled").await;

    let done = assign(&s).await;
    let done_path = format!("/v1/assessments/{}", done["id"].as_str().unwrap());
    s.app.post_json(&format!("{done_path}/responses"), &s.token, &json!({"answers": anxious_answers()})).await;
    let cancel_done = s.app.post_json(&format!("{done_path}/cancel"), &s.token, &json!({})).await;
    assert_problem(cancel_done, 409, "assessment_completed").await;
}

#[tokio::test]
async fn lists_filter_by_client_instrument_and_status() {
    let s = setup().await;
    let other_client = s.app.create_client(&s.token, json!({"display_name": "Q."})).await;
    let balance = instrument_id(&s.app, &s.token, "interdependence_balance").await;
    let first = assign(&s).await;
    s.app
        .post_json(
            &format!("/v1/assessments/{}/responses", first["id"].as_str().unwrap()),
            &s.token,
            &json!({"answers": anxious_answers()}),
        )
        .await;
    let second = assign(&s).await;
    let body = json!({"client_id": other_client["id"], "instrument_id": balance});
    let third: Value = s.app.post_json("/v1/assessments", &s.token, &body).await.json().await.unwrap();
    let ids =
        |page: Value| -> Vec<Value> { page["data"].as_array().unwrap().iter().map(|a| a["id"].clone()).collect() };
    let (app, token) = (&s.app, &s.token);
    let get = |query: String| async move {
        app.get(&format!("/v1/assessments?{query}"), token).await.json::<Value>().await.unwrap()
    };

    assert_eq!(ids(get(format!("client_id={}", s.client_id)).await), vec![first["id"].clone(), second["id"].clone()]);
    assert_eq!(ids(get("instrument_key=interdependence_balance".into()).await), vec![third["id"].clone()]);
    assert_eq!(ids(get("status=completed".into()).await), vec![first["id"].clone()]);
    assert_eq!(ids(get("limit=2".into()).await).len(), 2);
    let problem = assert_problem(s.app.get("/v1/assessments?status=done", &s.token).await, 400, "invalid_query").await;
    assert_eq!(problem["errors"][0]["field"], "status");
}

#[tokio::test]
async fn another_practices_assessment_is_not_found_by_any_verb() {
    let s = setup().await;
    let token_b = s.app.token_b().await;
    let assigned = assign(&s).await;
    let path = format!("/v1/assessments/{}", assigned["id"].as_str().unwrap());
    assert_problem(s.app.get(&path, &token_b).await, 404, "not_found").await;
    let submit = s.app.post_json(&format!("{path}/responses"), &token_b, &json!({"answers": anxious_answers()})).await;
    assert_problem(submit, 404, "not_found").await;
    assert_problem(s.app.post_json(&format!("{path}/cancel"), &token_b, &json!({})).await, 404, "not_found").await;
    let listed: Value = s.app.get("/v1/assessments", &token_b).await.json().await.unwrap();
    assert!(listed["data"].as_array().unwrap().is_empty());
    let fetched: Value = s.app.get(&path, &s.token).await.json().await.unwrap();
    assert_eq!(fetched, assigned, "unchanged for its own practice");
}

#[tokio::test]
async fn a_retried_submission_is_scored_once() {
    let s = setup().await;
    let assigned = assign(&s).await;
    let url = s.app.url(&format!("/v1/assessments/{}/responses", assigned["id"].as_str().unwrap()));
    let send = || {
        s.app
            .http
            .post(&url)
            .bearer_auth(&s.token)
            .header("Idempotency-Key", "portal-submit-1")
            .json(&json!({"answers": anxious_answers()}))
            .send()
    };
    let (first, second) = tokio::join!(send(), send());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let replayed = [&first, &second].iter().filter(|r| r.headers().contains_key("idempotent-replayed")).count();
    assert_eq!(replayed, 1);
    assert_eq!(s.app.count("SELECT count(*) AS count FROM assessment_scores").await, 2);
}

#[tokio::test]
async fn a_completed_assessment_exports_as_a_fhir_bundle() {
    let s = setup().await;
    let client = s.app.create_client(&s.token, json!({"display_name": "F.", "external_id": "ehr-77"})).await;
    let body = json!({"client_id": client["id"], "instrument_id": s.instrument_id, "answers": anxious_answers()});
    let assessment: Value = s.app.post_json("/v1/assessments", &s.token, &body).await.json().await.unwrap();
    let id = assessment["id"].as_str().unwrap();
    let response = s.app.get(&format!("/v1/assessments/{id}/fhir"), &s.token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-type").unwrap(), "application/fhir+json");
    let bundle: Value = response.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "the response and one observation per subscale");

    let qr = &entries[0]["resource"];
    assert_eq!(qr["resourceType"], "QuestionnaireResponse");
    assert_eq!(qr["status"], "completed");
    assert_eq!(qr["questionnaire"], "urn:attune:instrument:attachment_lean_short_form|1");
    assert_eq!(qr["subject"]["identifier"]["value"], "ehr-77");
    assert_eq!(qr["item"].as_array().unwrap().len(), 12);
    assert_eq!(
        qr["item"][2],
        json!({"linkId": "ax3", "answer": [{"valueCoding": {
        "system": "urn:attune:answer:attachment_lean_short_form", "code": "2", "display": "Disagree"}}]})
    );

    let anxiety = &entries[1]["resource"];
    assert_eq!(anxiety["resourceType"], "Observation");
    assert_eq!(anxiety["category"][0]["coding"][0]["code"], "survey");
    assert_eq!(anxiety["code"]["coding"][0]["code"], "attachment_lean_short_form.anxiety");
    assert_eq!(anxiety["valueQuantity"]["value"], 5.5);
    assert_eq!(anxiety["derivedFrom"][0]["reference"], entries[0]["fullUrl"]);
    assert_eq!(anxiety["interpretation"][0]["text"], "high");

    // Stable across exports.
    let again: Value = s.app.get(&format!("/v1/assessments/{id}/fhir"), &s.token).await.json().await.unwrap();
    assert_eq!(again, bundle);

    let open = assign(&s).await;
    let not_done = s.app.get(&format!("/v1/assessments/{}/fhir", open["id"].as_str().unwrap()), &s.token).await;
    assert_problem(not_done, 409, "assessment_not_completed").await;
    let token_b = s.app.token_b().await;
    assert_problem(s.app.get(&format!("/v1/assessments/{id}/fhir"), &token_b).await, 404, "not_found").await;
}
