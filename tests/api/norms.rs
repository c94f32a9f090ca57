//! `/v1/instruments/{id}/statistics` and `/v1/instruments/{id}/local-norms`.
//!
//! The 30 administrations: anxiety items keyed [2,2,2,2,2,3] (15 times) and
//! [6,6,6,6,6,5] (15 times); avoidance always 2. By hand:
//! - anxiety scores 13/6 and 35/6: mean 4, sd (11/6) x sqrt(30/29);
//! - item variances 5 x 120/29 + 30/29 = 630/29, totals 13 and 35 have
//!   variance 30 x 121/29 = 3630/29: alpha = 6/5 x (1 - 630/3630) = 120/121;
//! - avoidance never varies: sd 0, alpha undefined.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::assessments::instrument_id;
use crate::helpers::{TestApp, assert_problem};
use crate::progress::{complete, keyed};

struct Setup {
    app: TestApp,
    token: String,
    form: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let form = instrument_id(&app, &token, "attachment_lean_short_form").await;
    Setup { app, token, form }
}

async fn administer(s: &Setup, count: usize) {
    let client = s.app.create_client(&s.token, json!({"display_name": "N."})).await["id"].as_str().unwrap().to_owned();
    for i in 0..count {
        let anxiety = if i % 2 == 0 { [2, 2, 2, 2, 2, 3] } else { [6, 6, 6, 6, 6, 5] };
        let at = Utc::now() - Duration::days(100 - i as i64);
        complete(&s.app, &s.token, &client, &s.form, keyed(&[("ax", anxiety), ("av", [2; 6])]), at).await;
    }
}

fn close(actual: &Value, expected: f64) {
    assert!((actual.as_f64().unwrap() - expected).abs() < 1e-9, "{actual} != {expected}");
}

async fn statistics(s: &Setup, token: &str) -> reqwest::Response {
    s.app.get(&format!("/v1/instruments/{}/statistics", s.form), token).await
}

async fn opt_in(s: &Setup) -> reqwest::Response {
    s.app
        .http
        .put(s.app.url(&format!("/v1/instruments/{}/local-norms", s.form)))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn below_thirty_only_n_is_reported_and_opting_in_is_refused() {
    let s = setup().await;
    administer(&s, 29).await;
    let body: Value = statistics(&s, &s.token).await.json().await.unwrap();
    assert_eq!(body["minimum_n"], 30);
    let anxiety = &body["subscales"][0];
    assert_eq!((anxiety["key"].as_str(), anxiety["n"].as_u64()), (Some("anxiety"), Some(29)));
    assert_eq!((&anxiety["mean"], &anxiety["alpha"]), (&Value::Null, &Value::Null));
    assert_eq!(anxiety["reason"], "n = 29: statistics are reported from 30 completed administrations");
    let refused = assert_problem(opt_in(&s).await, 409, "local_norms_unavailable").await;
    assert!(refused["detail"].as_str().unwrap().contains("anxiety: n = 29"));
    assert_eq!(s.app.count("SELECT count(*) FROM local_norms").await, 0);
}

#[tokio::test]
async fn statistics_by_hand_then_local_norms_drive_reliable_change() {
    let s = setup().await;
    administer(&s, 30).await;
    let body: Value = statistics(&s, &s.token).await.json().await.unwrap();
    let anxiety = &body["subscales"][0];
    assert_eq!((anxiety["n"].as_u64(), anxiety["complete_n"].as_u64()), (Some(30), Some(30)));
    close(&anxiety["mean"], 4.0);
    close(&anxiety["sd"], 11.0 / 6.0 * (30.0_f64 / 29.0).sqrt());
    close(&anxiety["alpha"], 120.0 / 121.0);
    assert_eq!(anxiety["reason"], Value::Null);
    let avoidance = &body["subscales"][1];
    close(&avoidance["sd"], 0.0);
    assert_eq!(avoidance["alpha"], Value::Null);
    assert_eq!(avoidance["reason"], "alpha is undefined: the totals do not vary");
    assert_eq!(body["local_norms"], Value::Null);

    let response = opt_in(&s).await;
    assert_eq!(response.status(), 200);
    let norms: Value = response.json().await.unwrap();
    assert_eq!(norms["subscales"].as_array().unwrap().len(), 1, "avoidance does not qualify");
    assert_eq!(norms["subscales"][0]["key"], "anxiety");
    let body: Value = statistics(&s, &s.token).await.json().await.unwrap();
    assert_eq!(body["local_norms"], norms);

    // A client from 13/6 to 35/6: Sdiff = sd x sqrt(2 / 121) = sqrt(60/29) / 6,
    // RCI = (22/6) / Sdiff = 22 x sqrt(29/60) = 15.2951; lower is better.
    let client = s.app.create_client(&s.token, json!({"display_name": "C."})).await["id"].as_str().unwrap().to_owned();
    for (days, anxiety) in [(20, [2, 2, 2, 2, 2, 3]), (1, [6, 6, 6, 6, 6, 5])] {
        let at = Utc::now() - Duration::days(days);
        complete(&s.app, &s.token, &client, &s.form, keyed(&[("ax", anxiety), ("av", [2; 6])]), at).await;
    }
    let progress: Value = s.app.get(&format!("/v1/clients/{client}/progress"), &s.token).await.json().await.unwrap();
    let rc = &progress["instruments"][0]["subscales"][0]["reliable_change"];
    close(&rc["rci"], 22.0 * (29.0_f64 / 60.0).sqrt());
    assert_eq!(rc["category"], "deteriorated");
    assert_eq!(rc["norms"]["source"], "local");
    assert_eq!(rc["norms"]["n"], 30);
    assert_eq!(rc["norms"]["reliability_kind"], "cronbach_alpha");
    assert_eq!(progress["instruments"][0]["subscales"][1]["reliable_change"]["rci"], Value::Null);

    // Opting out: change only again; a second opt-out finds nothing.
    let path = s.app.url(&format!("/v1/instruments/{}/local-norms", s.form));
    assert_eq!(s.app.http.delete(&path).bearer_auth(&s.token).send().await.unwrap().status(), 204);
    let progress: Value = s.app.get(&format!("/v1/clients/{client}/progress"), &s.token).await.json().await.unwrap();
    assert_eq!(progress["instruments"][0]["subscales"][0]["reliable_change"]["rci"], Value::Null);
    assert_problem(s.app.http.delete(&path).bearer_auth(&s.token).send().await.unwrap(), 404, "not_found").await;
}

#[tokio::test]
async fn each_practice_sees_only_its_own_administrations() {
    let s = setup().await;
    administer(&s, 30).await;
    assert_eq!(opt_in(&s).await.status(), 200);
    let token_b = s.app.token_b().await;
    let theirs: Value = statistics(&s, &token_b).await.json().await.unwrap();
    assert_eq!(theirs["subscales"][0]["n"], 0);
    assert_eq!(theirs["local_norms"], Value::Null, "A's opt-in is A's alone");
    let path = s.app.url(&format!("/v1/instruments/{}/local-norms", s.form));
    let refused = s.app.http.put(&path).bearer_auth(&token_b).send().await.unwrap();
    assert_problem(refused, 409, "local_norms_unavailable").await;
    let deleted = s.app.http.delete(&path).bearer_auth(&token_b).send().await.unwrap();
    assert_problem(deleted, 404, "not_found").await;
    assert_eq!(s.app.count("SELECT count(*) FROM local_norms").await, 1, "A's norms untouched");
    // A practice's own instrument is invisible to others.
    let own: Value = s
        .app
        .post_json("/v1/instruments", &s.token, &crate::instruments::custom_definition("mine"))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/instruments/{}/statistics", own["id"].as_str().unwrap());
    assert_problem(s.app.get(&path, &token_b).await, 404, "not_found").await;
    // Opting in is an admin's decision.
    let reader = s.app.token_for(&s.app.practice_a, Some("assessments:read")).await;
    let path = s.app.url(&format!("/v1/instruments/{}/local-norms", s.form));
    assert_problem(s.app.http.put(&path).bearer_auth(&reader).send().await.unwrap(), 403, "insufficient_scope").await;
}
