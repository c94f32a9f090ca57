//! `GET /v1/clients/{id}/progress` and its chart. Expected figures are worked
//! by hand from the catalog definitions and `instruments::custom_definition`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::assessments::instrument_id;
use crate::helpers::{TestApp, assert_problem};
use crate::instruments::custom_definition;

/// Items scored `min + max - answer` in the built-in forms (scale 1..7).
const REVERSED: [&str; 9] = ["ax3", "ax5", "av3", "av5", "oi4", "oi6", "od4", "od6", "mu5"];

/// Answers whose keyed values are exactly `keyed`, per item prefix.
pub fn keyed(groups: &[(&str, [i64; 6])]) -> Value {
    let answers: Vec<Value> = groups
        .iter()
        .flat_map(|(prefix, values)| {
            values.iter().enumerate().map(move |(i, v)| {
                let id = format!("{prefix}{}", i + 1);
                let value = if REVERSED.contains(&id.as_str()) { 8 - v } else { *v };
                json!({"item_id": id, "value": value})
            })
        })
        .collect();
    Value::Array(answers)
}

/// Attachment form answers with anxiety and avoidance means `ax` and `av`.
pub fn attachment(ax: i64, av: i64) -> Value {
    keyed(&[("ax", [ax; 6]), ("av", [av; 6])])
}

/// Balance inventory answers with the three subscale means.
pub fn balance(oi: i64, od: i64, mu: i64) -> Value {
    keyed(&[("oi", [oi; 6]), ("od", [od; 6]), ("mu", [mu; 6])])
}

/// Records a completed administration at `at`.
pub async fn complete(app: &TestApp, token: &str, client: &str, instrument: &str, answers: Value, at: DateTime<Utc>) {
    let body = json!({"client_id": client, "instrument_id": instrument, "answers": answers, "completed_at": at});
    let response = app.post_json("/v1/assessments", token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

pub fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - Duration::days(days)
}

fn close(actual: &Value, expected: f64) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!((actual - expected).abs() < 1e-6, "{actual} != {expected}");
}

struct Setup {
    app: TestApp,
    token: String,
    client: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await["id"].as_str().unwrap().to_owned();
    Setup { app, token, client }
}

async fn progress(s: &Setup, query: &str) -> Value {
    let response = s.app.get(&format!("/v1/clients/{}/progress{query}", s.client), &s.token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn series_baseline_latest_change_and_classification_over_time() {
    let s = setup().await;
    let form = instrument_id(&s.app, &s.token, "attachment_lean_short_form").await;
    for (days, ax) in [(56, 6), (28, 5), (1, 3)] {
        complete(&s.app, &s.token, &s.client, &form, attachment(ax, 2), days_ago(days)).await;
    }
    let body = progress(&s, "").await;
    assert_eq!(body["client_id"], s.client.as_str());
    let instrument = &body["instruments"][0];
    assert_eq!(instrument["instrument_key"], "attachment_lean_short_form");
    assert_eq!(instrument["administrations"], 3);
    let anxiety = &instrument["subscales"][0];
    assert_eq!(anxiety["key"], "anxiety");
    assert_eq!(anxiety["direction"], "lower_is_better");
    let series: Vec<(f64, &str)> = anxiety["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["score"].as_f64().unwrap(), p["band"].as_str().unwrap()))
        .collect();
    assert_eq!(series, vec![(6.0, "high"), (5.0, "high"), (3.0, "moderate")]);
    assert_eq!(anxiety["baseline"]["score"], 6.0);
    assert_eq!(anxiety["latest"]["score"], 3.0);
    assert_eq!(anxiety["change"], -3.0);
    // The built-in forms carry no norms: no RCI, and the reason why.
    let rc = &anxiety["reliable_change"];
    assert_eq!(rc["rci"], Value::Null);
    assert_eq!(rc["category"], Value::Null);
    assert_eq!(rc["reason"], "the subscale has no published norms and the practice has not opted in to local norms");
    assert_eq!(instrument["subscales"][1]["change"], 0.0);
    let labels: Vec<&str> =
        instrument["classifications"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels, vec!["anxious", "anxious", "secure"]);
    assert_eq!(body["flags"], json!([]));
}

#[tokio::test]
async fn period_and_instrument_filters() {
    let s = setup().await;
    let form = instrument_id(&s.app, &s.token, "attachment_lean_short_form").await;
    let inventory = instrument_id(&s.app, &s.token, "interdependence_balance").await;
    complete(&s.app, &s.token, &s.client, &form, attachment(6, 2), days_ago(40)).await;
    complete(&s.app, &s.token, &s.client, &form, attachment(5, 2), days_ago(20)).await;
    complete(&s.app, &s.token, &s.client, &inventory, balance(2, 5, 4), days_ago(20)).await;
    let from = days_ago(30).date_naive();
    let body = progress(&s, &format!("?from={from}&instrument=attachment_lean_short_form")).await;
    assert_eq!(body["from"], from.to_string());
    assert_eq!(body["instruments"].as_array().unwrap().len(), 1);
    let anxiety = &body["instruments"][0]["subscales"][0];
    assert_eq!(anxiety["series"].as_array().unwrap().len(), 1);
    assert_eq!(anxiety["reliable_change"]["reason"], "one administration in the period; change needs two");
    let to = days_ago(30).date_naive();
    let early = progress(&s, &format!("?to={to}")).await;
    assert_eq!(early["instruments"][0]["subscales"][0]["latest"]["score"], 6.0);
    let both = progress(&s, "").await;
    let keys: Vec<&str> =
        both["instruments"].as_array().unwrap().iter().map(|i| i["instrument_key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["attachment_lean_short_form", "interdependence_balance"]);
    assert_eq!(both["instruments"][1]["classifications"][0]["label"], "leans_dependent");

    let path = format!("/v1/clients/{}/progress?from=2026-05-02&to=2026-05-01", s.client);
    let body = assert_problem(s.app.get(&path, &s.token).await, 400, "invalid_query").await;
    assert_eq!(body["errors"][0]["field"], "to");
    let path = format!("/v1/clients/{}/progress?from=yesterday", s.client);
    assert_problem(s.app.get(&path, &s.token).await, 400, "invalid_query").await;
}

async fn custom_instrument(s: &Setup) -> String {
    let response = s.app.post_json("/v1/instruments", &s.token, &custom_definition("rel_check")).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// Closeness sums q1 and q2 (reverse-keyed on 0..4); conflict is q3.
pub fn closeness(q1: i64, q2_keyed: i64, q3: i64) -> Value {
    json!([{"item_id": "q1", "value": q1}, {"item_id": "q2", "value": 4 - q2_keyed}, {"item_id": "q3", "value": q3}])
}

#[tokio::test]
async fn published_norms_give_reliable_change_recovery_and_deterioration() {
    let s = setup().await;
    let instrument = custom_instrument(&s).await;
    // Closeness 2 -> 8 (higher is better). sd 1.8, r .85:
    // SE = 1.8 x sqrt(.15) = 0.697137, Sdiff = 1.8 x sqrt(.3) = 0.985901,
    // RCI = 6 / 0.985901 = 6.085806. Cut-off c = (1.5 x 6 + 1.2 x 3) / 2.7
    // = 4.666667, crossed from below: recovered.
    complete(&s.app, &s.token, &s.client, &instrument, closeness(1, 1, 3), days_ago(30)).await;
    complete(&s.app, &s.token, &s.client, &instrument, closeness(4, 4, 1), days_ago(2)).await;
    let body = progress(&s, "").await;
    let subscales = &body["instruments"][0]["subscales"];
    let rc = &subscales[0]["reliable_change"];
    assert_eq!(subscales[0]["change"], 6.0);
    close(&rc["standard_error"], 1.8 * 0.15_f64.sqrt());
    close(&rc["sdiff"], 1.8 * 0.3_f64.sqrt());
    close(&rc["rci"], 6.0 / (1.8 * 0.3_f64.sqrt()));
    close(&rc["minimal_reliable_change"], 1.96 * 1.8 * 0.3_f64.sqrt());
    assert_eq!(rc["category"], "recovered");
    assert_eq!(rc["cutoff"]["kind"], "c");
    close(&rc["cutoff"]["value"], 12.6 / 2.7);
    assert_eq!(
        rc["norms"],
        json!({"source": "published", "sd": 1.8, "reliability": 0.85, "reliability_kind": "test_retest",
               "n": null, "computed_at": null, "citation": "Manual, 2019"})
    );
    // Conflict has no norms: change only.
    assert_eq!(subscales[1]["change"], -2.0);
    assert_eq!(subscales[1]["reliable_change"]["rci"], Value::Null);

    // The other way round is a reliable deterioration, and flagged.
    let other = s.app.create_client(&s.token, json!({"display_name": "Q."})).await["id"].as_str().unwrap().to_owned();
    complete(&s.app, &s.token, &other, &instrument, closeness(4, 4, 1), days_ago(30)).await;
    complete(&s.app, &s.token, &other, &instrument, closeness(1, 1, 1), days_ago(2)).await;
    let body: Value = s.app.get(&format!("/v1/clients/{other}/progress"), &s.token).await.json().await.unwrap();
    assert_eq!(body["instruments"][0]["subscales"][0]["reliable_change"]["category"], "deteriorated");
    let flag = &body["flags"][0];
    assert_eq!(flag["kind"], "reliable_deterioration");
    assert_eq!((flag["instrument_key"].as_str(), flag["subscale"].as_str()), (Some("rel_check"), Some("closeness")));
    // A change of 1 (RCI 1.01) is not reliable.
    let third = s.app.create_client(&s.token, json!({"display_name": "R."})).await["id"].as_str().unwrap().to_owned();
    complete(&s.app, &s.token, &third, &instrument, closeness(2, 2, 1), days_ago(30)).await;
    complete(&s.app, &s.token, &third, &instrument, closeness(3, 2, 1), days_ago(2)).await;
    let body: Value = s.app.get(&format!("/v1/clients/{third}/progress"), &s.token).await.json().await.unwrap();
    assert_eq!(body["instruments"][0]["subscales"][0]["reliable_change"]["category"], "no_reliable_change");
}

async fn assign_homework(s: &Setup, exercise: &str, cadence: i64, starts_days_ago: i64) -> String {
    let page: Value = s.app.get(&format!("/v1/exercises?key={exercise}"), &s.token).await.json().await.unwrap();
    let body = json!({"client_id": s.client, "exercise_id": page["data"][0]["id"], "cadence_per_week": cadence,
                      "starts_on": days_ago(starts_days_ago).date_naive()});
    let response = s.app.post_json("/v1/homework", &s.token, &body).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn log(s: &Setup, homework: &str, at: DateTime<Utc>, done: bool) {
    let body = json!({"occurred_at": at, "done": done,
                      "fields": {"what_i_asked": "A lift", "discomfort_before": 6, "discomfort_after": 3, "let_them_do_it_their_way": true}});
    let response = s.app.post_json(&format!("/v1/homework/{homework}/logs"), &s.token, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn adherence_quiet_assignment_and_overdue_flags() {
    let s = setup().await;
    let homework = assign_homework(&s, "ask_for_small_help", 3, 21).await;
    log(&s, &homework, days_ago(19), true).await;
    log(&s, &homework, days_ago(18), true).await;
    log(&s, &homework, days_ago(17), false).await;
    let form = instrument_id(&s.app, &s.token, "attachment_lean_short_form").await;
    let due = days_ago(1).date_naive();
    let assigned = json!({"client_id": s.client, "instrument_id": form, "due_on": due});
    assert_eq!(s.app.post_json("/v1/assessments", &s.token, &assigned).await.status(), 201);

    let body = progress(&s, "").await;
    // 3 a week from midnight 21 days ago to `generated_at`, pro rata.
    let now: DateTime<Utc> = body["generated_at"].as_str().unwrap().parse().unwrap();
    let start = days_ago(21).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let expected = 3.0 * (now - start).num_milliseconds() as f64 / (7.0 * 86_400_000.0);
    let a = &body["adherence"]["assignments"][0];
    assert_eq!(a["exercise_key"], "ask_for_small_help");
    close(&a["overall"]["expected"], expected);
    assert_eq!(a["overall"]["logged"], 2, "a log marked not done is not a practice");
    close(&a["overall"]["rate"], 2.0 / expected);
    assert_eq!(a["weeks"].as_array().unwrap().len(), 12);
    let weekly_logged: u64 = a["weeks"].as_array().unwrap().iter().map(|w| w["logged"].as_u64().unwrap()).sum();
    assert_eq!(weekly_logged, 2);
    let weekly_expected: f64 = a["weeks"].as_array().unwrap().iter().map(|w| w["expected"].as_f64().unwrap()).sum();
    assert!((weekly_expected - expected).abs() < 1e-6, "weeks add up to the whole");
    close(&body["adherence"]["overall"]["expected"], expected);
    let kinds: Vec<&str> = body["flags"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["no_recent_homework_log", "assessment_overdue"]);
    assert_eq!(body["flags"][0]["homework_id"], homework.as_str());
    assert_eq!(body["flags"][0]["message"], "ask_for_small_help: no log for 17 days");

    // Pausing stops the expectation growing and the quiet flag.
    let patch = s
        .app
        .http
        .patch(s.app.url(&format!("/v1/homework/{homework}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "paused"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let paused = progress(&s, "").await;
    let paused_now: DateTime<Utc> = paused["generated_at"].as_str().unwrap().parse().unwrap();
    let expected_paused = paused["adherence"]["assignments"][0]["overall"]["expected"].as_f64().unwrap();
    let unpaused = 3.0 * (paused_now - start).num_milliseconds() as f64 / (7.0 * 86_400_000.0);
    assert!(expected_paused < unpaused, "paused time is not expected");
    let kinds: Vec<&str> = paused["flags"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["assessment_overdue"]);
}

#[tokio::test]
async fn chart_is_accessible_svg_with_bands_and_reliable_changes() {
    let s = setup().await;
    let instrument = custom_instrument(&s).await;
    complete(&s.app, &s.token, &s.client, &instrument, closeness(1, 1, 3), days_ago(60)).await;
    complete(&s.app, &s.token, &s.client, &instrument, closeness(2, 1, 3), days_ago(30)).await;
    complete(&s.app, &s.token, &s.client, &instrument, closeness(4, 4, 1), days_ago(2)).await;
    let path = format!("/v1/clients/{}/progress/chart.svg?instrument=rel_check&subscale=closeness", s.client);
    let response = s.app.get(&path, &s.token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg "));
    assert!(svg.contains(r#"role="img" aria-labelledby="chart-title chart-desc""#));
    assert!(svg.contains(r#"<title id="chart-title">Relationship check: Closeness over time</title>"#));
    assert!(svg.contains("3 administrations from"));
    assert!(svg.contains("Baseline 2.00, latest 8.00, change +6.00."));
    assert!(svg.contains("recovered"));
    // 2 -> 3 is RCI 1.01 (unmarked); 2 -> 8 is marked improved.
    assert!(svg.contains("Marked: 1 administrations reliably improved on baseline, 0 reliably deteriorated."));
    assert_eq!(svg.matches("reliably improved on baseline").count(), 2, "the legend names the marker too");
    assert!(svg.contains("\nlow\n</text>") && svg.contains("\nhigh\n</text>"), "bands are labelled");
    assert!(svg.contains("\nclinical cut-off\n</text>"), "the cut-off is drawn");
    assert!(svg.trim_end().ends_with("</svg>"));

    let missing = format!("/v1/clients/{}/progress/chart.svg?instrument=rel_check&subscale=nope", s.client);
    let body = assert_problem(s.app.get(&missing, &s.token).await, 400, "no_scores").await;
    assert_eq!(body["errors"][0]["field"], "subscale");
    let no_subscale = format!("/v1/clients/{}/progress/chart.svg?instrument=rel_check", s.client);
    assert_problem(s.app.get(&no_subscale, &s.token).await, 400, "invalid_query").await;
}

#[tokio::test]
async fn another_practice_and_narrow_tokens_cannot_read_progress() {
    let s = setup().await;
    let token_b = s.app.token_b().await;
    let path = format!("/v1/clients/{}/progress", s.client);
    assert_problem(s.app.get(&path, &token_b).await, 404, "not_found").await;
    let chart = format!("{path}/chart.svg?instrument=attachment_lean_short_form&subscale=anxiety");
    assert_problem(s.app.get(&chart, &token_b).await, 404, "not_found").await;
    let narrow = s.app.token_for(&s.app.practice_a, Some("clients:read")).await;
    assert_problem(s.app.get(&path, &narrow).await, 403, "insufficient_scope").await;
    let reader = s.app.token_for(&s.app.practice_a, Some("progress:read")).await;
    assert_eq!(s.app.get(&path, &reader).await.status(), 200);
}
