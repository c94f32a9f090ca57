//! `/v1/relationships` and the couple's profile, mirroring the routes.

use serde_json::{Value, json};

use crate::assessments::instrument_id;
use crate::helpers::{TestApp, assert_problem};
use crate::progress::{attachment, balance, complete};

struct Setup {
    app: TestApp,
    token: String,
    a: String,
    b: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let a = app.create_client(&token, json!({"display_name": "Sam"})).await["id"].as_str().unwrap().to_owned();
    let b = app.create_client(&token, json!({"display_name": "Kai"})).await["id"].as_str().unwrap().to_owned();
    Setup { app, token, a, b }
}

async fn link(s: &Setup) -> Value {
    let response =
        s.app.post_json("/v1/relationships", &s.token, &json!({"kind": "couple", "client_ids": [s.b, s.a]})).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/relationships/{}", body["id"].as_str().unwrap()));
    body
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn link_fetch_list_and_unlink() {
    let s = setup().await;
    let created = link(&s).await;
    assert_eq!(created["kind"], "couple");
    assert_eq!(created["client_ids"], json!(sorted(vec![s.a.clone(), s.b.clone()])));
    let path = format!("/v1/relationships/{}", created["id"].as_str().unwrap());
    assert_eq!(s.app.get(&path, &s.token).await.json::<Value>().await.unwrap(), created);

    let loner = s.app.create_client(&s.token, json!({"display_name": "L."})).await["id"].as_str().unwrap().to_owned();
    let by_member: Value =
        s.app.get(&format!("/v1/relationships?client_id={}", s.a), &s.token).await.json().await.unwrap();
    assert_eq!(by_member["data"], json!([created]));
    let by_loner: Value =
        s.app.get(&format!("/v1/relationships?client_id={loner}"), &s.token).await.json().await.unwrap();
    assert_eq!(by_loner["data"], json!([]));

    let deleted = s.app.http.delete(s.app.url(&path)).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(s.app.get(&path, &s.token).await, 404, "not_found").await;
    assert_eq!(s.app.count("SELECT count(*) FROM relationship_members").await, 0);
    assert_eq!(s.app.count("SELECT count(*) FROM clients").await, 3, "the clients stay");
}

#[tokio::test]
async fn bad_links_name_the_field_and_store_nothing() {
    let s = setup().await;
    let cases = [
        (json!({"kind": "couple", "client_ids": [s.a]}), "client_ids"),
        (json!({"kind": "couple", "client_ids": [s.a, s.a]}), "client_ids[1]"),
        (json!({"kind": "Couple!", "client_ids": [s.a, s.b]}), "kind"),
        (json!({"kind": "couple", "client_ids": [s.a, "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001"]}), "client_ids[1]"),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(s.app.post_json("/v1/relationships", &s.token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // Another practice's client is refused like an unknown one.
    let token_b = s.app.token_b().await;
    let theirs = s.app.create_client(&token_b, json!({"display_name": "T."})).await["id"].as_str().unwrap().to_owned();
    let body = json!({"kind": "couple", "client_ids": [s.a, theirs]});
    let problem =
        assert_problem(s.app.post_json("/v1/relationships", &s.token, &body).await, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "client_ids[1]");
    assert_eq!(s.app.count("SELECT count(*) FROM relationships").await, 0);
}

#[tokio::test]
async fn a_retried_link_creates_one_relationship() {
    let s = setup().await;
    let body = json!({"kind": "couple", "client_ids": [s.a, s.b]});
    let send = || {
        s.app
            .http
            .post(s.app.url("/v1/relationships"))
            .bearer_auth(&s.token)
            .header("idempotency-key", "intake-42")
            .json(&body)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    assert_eq!(s.app.count("SELECT count(*) FROM relationships").await, 1);
}

#[tokio::test]
async fn profile_sets_leans_side_by_side_and_names_pursue_withdraw() {
    let s = setup().await;
    let form = instrument_id(&s.app, &s.token, "attachment_lean_short_form").await;
    let inventory = instrument_id(&s.app, &s.token, "interdependence_balance").await;
    let now = chrono::Utc::now();
    // Sam: anxiety 6, avoidance 2 (anxious); over-dependence 6 vs
    // over-independence 2 (leans dependent). Kai: the mirror image.
    complete(&s.app, &s.token, &s.a, &form, attachment(6, 2), now).await;
    complete(&s.app, &s.token, &s.a, &inventory, balance(2, 6, 4), now).await;
    complete(&s.app, &s.token, &s.b, &form, attachment(2, 6), now).await;
    complete(&s.app, &s.token, &s.b, &inventory, balance(6, 2, 4), now).await;
    let relationship = link(&s).await;
    let path = format!("/v1/relationships/{}/profile", relationship["id"].as_str().unwrap());
    let profile: Value = s.app.get(&path, &s.token).await.json().await.unwrap();
    assert_eq!(profile["kind"], "couple");
    let members = profile["members"].as_array().unwrap();
    let sam = members.iter().find(|m| m["client_id"] == s.a.as_str()).unwrap();
    assert_eq!(sam["display_name"], "Sam");
    let labels: Vec<&str> = sam["leans"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert_eq!(labels, vec!["anxious", "leans_dependent"]);
    assert_eq!(sam["leans"][0]["scores"][0]["score"], 6.0, "the scores behind the label");
    assert_eq!(sam["adherence"], json!({"expected": 0.0, "logged": 0, "rate": null}));
    assert_eq!(profile["patterns"].as_array().unwrap().len(), 1);
    let pattern = &profile["patterns"][0];
    assert_eq!(pattern["kind"], "pursue_withdraw");
    assert_eq!(pattern["client_ids"], json!([s.a, s.b]), "the pursuer first");
    assert_eq!(
        pattern["explanation"],
        "pursuing (anxious, leans_dependent) with withdrawing (avoidant, leans_independent)"
    );
}

#[tokio::test]
async fn both_leaning_independent() {
    let s = setup().await;
    let inventory = instrument_id(&s.app, &s.token, "interdependence_balance").await;
    let now = chrono::Utc::now();
    complete(&s.app, &s.token, &s.a, &inventory, balance(6, 2, 3), now).await;
    complete(&s.app, &s.token, &s.b, &inventory, balance(5, 3, 3), now).await;
    let relationship = link(&s).await;
    let path = format!("/v1/relationships/{}/profile", relationship["id"].as_str().unwrap());
    let profile: Value = s.app.get(&path, &s.token).await.json().await.unwrap();
    let kinds: Vec<&str> =
        profile["patterns"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["both_leaning_independent"]);
}

#[tokio::test]
async fn another_practice_gets_404_and_changes_nothing() {
    let s = setup().await;
    let created = link(&s).await;
    let path = format!("/v1/relationships/{}", created["id"].as_str().unwrap());
    let token_b = s.app.token_b().await;
    assert_problem(s.app.get(&path, &token_b).await, 404, "not_found").await;
    assert_problem(s.app.get(&format!("{path}/profile"), &token_b).await, 404, "not_found").await;
    let deleted = s.app.http.delete(s.app.url(&path)).bearer_auth(&token_b).send().await.unwrap();
    assert_problem(deleted, 404, "not_found").await;
    let listed: Value = s.app.get("/v1/relationships", &token_b).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    assert_eq!(s.app.get(&path, &s.token).await.status(), 200, "still there for its practice");
    let reader = s.app.token_for(&s.app.practice_a, Some("clients:read")).await;
    let refused =
        s.app.post_json("/v1/relationships", &reader, &json!({"kind": "couple", "client_ids": [s.a, s.b]})).await;
    assert_problem(refused, 403, "insufficient_scope").await;
}
