//! A practice's whole workflow, each step on the other of two instances of
//! the service (as behind a load balancer): a couple's clients, an
//! assessment assigned and then answered, homework assigned and logged,
//! progress, the couple's profile, and local norms from 30 administrations.
//! It runs in the suite on PostgreSQL, and on the Citus coordinator from
//! `scripts/check-citus` (see `helpers::ATTUNE_TEST_DATABASE_URL`). Expected
//! figures are worked by hand in `assessments.rs` and `norms.rs`.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::assessments::{anxious_answers, instrument_id};
use crate::helpers::TestApp;
use crate::progress::{attachment, keyed};

/// Two instances on one database; step `n` goes to instance `n % 2`.
struct Pair {
    app: TestApp,
    other: String,
    token: String,
}

impl Pair {
    fn url(&self, step: usize, path: &str) -> String {
        if step.is_multiple_of(2) { self.app.url(path) } else { format!("{}{path}", self.other) }
    }

    async fn post(&self, step: usize, path: &str, body: Value, status: u16) -> Value {
        let response =
            self.app.http.post(self.url(step, path)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "POST {path}: {}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    async fn get(&self, step: usize, path: &str) -> Value {
        let response = self.app.http.get(self.url(step, path)).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}: {}", response.text().await.unwrap());
        response.json().await.unwrap()
    }
}

fn close(actual: &Value, expected: f64) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!((actual - expected).abs() < 1e-4, "{actual} != {expected}");
}

#[tokio::test]
async fn a_practices_whole_workflow_across_two_instances() {
    let app = TestApp::spawn().await;
    let other = app.another_instance(|_| {}).await;
    let token = app.token_a().await;
    let p = Pair { app, other, token };
    let form = instrument_id(&p.app, &p.token, "attachment_lean_short_form").await;

    let sam = p.post(0, "/v1/clients", json!({"display_name": "Sam"}), 201).await["id"].as_str().unwrap().to_owned();
    let kai = p.post(1, "/v1/clients", json!({"display_name": "Kai"}), 201).await["id"].as_str().unwrap().to_owned();

    // Assigned on one instance, answered on the other.
    let assigned = p.post(2, "/v1/assessments", json!({"client_id": sam, "instrument_id": form}), 201).await;
    assert_eq!(assigned["status"], "assigned");
    let path = format!("/v1/assessments/{}/responses", assigned["id"].as_str().unwrap());
    let answered = p.post(3, &path, json!({"answers": anxious_answers()}), 200).await;
    assert_eq!(answered["status"], "completed");
    close(&answered["scores"][0]["score"], 5.5);
    close(&answered["scores"][1]["score"], 13.0 / 6.0);
    assert_eq!(answered["classification"]["label"], "anxious");
    let completed = |ax, av| json!({"client_id": kai, "instrument_id": form, "answers": attachment(ax, av)});
    p.post(4, "/v1/assessments", completed(2, 6), 201).await;

    // Homework assigned on one, logged on the other.
    let exercise = p.get(5, "/v1/exercises?key=ask_for_small_help").await["data"][0]["id"].clone();
    let starts_on = (Utc::now() - Duration::days(6)).date_naive().to_string();
    let body = json!({"client_id": sam, "exercise_id": exercise, "cadence_per_week": 2, "starts_on": starts_on});
    let homework = p.post(6, "/v1/homework", body, 201).await["id"].as_str().unwrap().to_owned();
    let log = json!({"occurred_at": Utc::now() - Duration::hours(1), "done": true,
                     "fields": {"what_i_asked": "A lift", "discomfort_before": 7, "discomfort_after": 3,
                                "let_them_do_it_their_way": true}});
    p.post(7, &format!("/v1/homework/{homework}/logs"), log, 201).await;

    let progress = p.get(8, &format!("/v1/clients/{sam}/progress")).await;
    let anxiety = &progress["instruments"][0]["subscales"][0];
    close(&anxiety["latest"]["score"], 5.5);
    assert_eq!(progress["adherence"]["assignments"][0]["overall"]["logged"], 1);

    // The couple, side by side.
    let couple = json!({"kind": "couple", "client_ids": [sam, kai]});
    let relationship = p.post(9, "/v1/relationships", couple, 201).await["id"].as_str().unwrap().to_owned();
    let profile = p.get(10, &format!("/v1/relationships/{relationship}/profile")).await;
    let lean = |client: &str| {
        let member = profile["members"].as_array().unwrap().iter().find(|m| m["client_id"] == client).unwrap();
        member["leans"][0]["label"].as_str().unwrap().to_owned()
    };
    assert_eq!((lean(&sam), lean(&kai)), ("anxious".to_owned(), "avoidant".to_owned()));

    // Local norms: 30 administrations (norms.rs works the figures by hand),
    // then the practice opts in.
    let norming =
        p.post(11, "/v1/clients", json!({"display_name": "N."}), 201).await["id"].as_str().unwrap().to_owned();
    for i in 0..30 {
        let anxiety = if i % 2 == 0 { [2, 2, 2, 2, 2, 3] } else { [6, 6, 6, 6, 6, 5] };
        let body = json!({"client_id": norming, "instrument_id": form, "completed_at": Utc::now() - Duration::days(100 - i),
                          "answers": keyed(&[("ax", anxiety), ("av", [2; 6])])});
        p.post(i as usize, "/v1/assessments", body, 201).await;
    }
    let opted = p.app.http.put(p.url(1, &format!("/v1/instruments/{form}/local-norms"))).bearer_auth(&p.token);
    assert_eq!(opted.send().await.unwrap().status(), 200);
    let statistics = p.get(2, &format!("/v1/instruments/{form}/statistics")).await;
    let anxiety = &statistics["subscales"][0];
    // Sam's and Kai's administrations count too: 32 in all.
    assert_eq!(anxiety["n"], 32);
    assert_eq!(statistics["local_norms"]["subscales"][0]["key"], "anxiety");
}
