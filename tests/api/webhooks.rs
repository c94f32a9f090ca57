//! Webhooks: endpoints, signed delivery with retries, rotation, redelivery,
//! the address rule, and delivery shared by two instances. A receiver runs
//! in the test; the Standard Webhooks reference library checks signatures
//! in `scripts/check-webhooks`, and here the signature is recomputed from the
//! specification.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, assert_problem};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on loopback that answers with scripted statuses
/// (200 once the script is spent), optionally slowly.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct Script {
    statuses: Arc<Mutex<VecDeque<u16>>>,
    delay: Duration,
    body: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, script: web::Data<Script>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = String::from_utf8_lossy(&body).into_owned();
    script.received.lock().unwrap().push(Received { headers, body, at: Instant::now() });
    if !script.delay.is_zero() {
        tokio::time::sleep(script.delay).await;
    }
    let status = script.statuses.lock().unwrap().pop_front().unwrap_or(200);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(script.body.clone())
}

impl Receiver {
    async fn start(statuses: &[u16]) -> Receiver {
        Self::start_with(statuses, Duration::ZERO, "ok").await
    }

    async fn start_with(statuses: &[u16], delay: Duration, body: &str) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Script {
            statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
            delay,
            body: body.to_owned(),
            received: received.clone(),
        };
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(script.clone())).default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Receiver { url: format!("http://127.0.0.1:{port}/hooks"), received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests have arrived (or fails after 30 s).
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(Instant::now() < deadline, "only {} of {count} deliveries arrived", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A service that may call loopback receivers and looks for work often,
/// with the retry schedule's unit shrunk to 10 ms.
async fn spawn() -> TestApp {
    TestApp::spawn_with(fast_delivery).await
}

fn fast_delivery(settings: &mut attune::config::ServeArgs) {
    settings.webhooks.webhook_allow_loopback = true;
    settings.webhooks.webhook_poll_ms = 20;
    settings.webhooks.webhook_retry_unit_ms = 10;
}

async fn register(app: &TestApp, token: &str, url: &str, types: &[&str]) -> Value {
    let response = app.post_json("/v1/webhook-endpoints", token, &json!({"url": url, "event_types": types})).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Checks `webhook-signature` as the specification says: some `v1,`
/// signature must be the HMAC-SHA256 of `id.timestamp.body` under the key.
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let content =
        format!("{}.{}.{}", received.header("webhook-id"), received.header("webhook-timestamp"), received.body);
    mac.update(content.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    received.header("webhook-signature").split(' ').any(|signature| signature == expected)
}

async fn feed(app: &TestApp, token: &str) -> Vec<Value> {
    let page: Value = app.get("/v1/events?limit=200", token).await.json().await.unwrap();
    page["data"].as_array().unwrap().clone()
}

async fn endpoint(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/v1/webhook-endpoints/{id}"), token).await.json().await.unwrap()
}

/// The endpoint's delivery log, once the dispatcher has written down every
/// attempt it made (the receiver sees a request before its answer is
/// recorded: a delivery holds its lease until then).
async fn attempts(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let in_flight = format!(
        "SELECT count(*) AS count FROM webhook_deliveries WHERE endpoint_id = '{id}' \
         AND state = 'pending' AND leased_until IS NOT NULL"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: Value = app.get(&format!("/v1/webhook-endpoints/{id}/deliveries"), token).await.json().await.unwrap();
        let log = page["data"].as_array().unwrap().clone();
        if (!log.is_empty() && app.count(&in_flight).await == 0) || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_endpoint_hears_its_event_types_signed_with_the_secret_shown_once() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[]).await;
    let before = app.create_client(&token, json!({"display_name": "Before"})).await;
    let created = register(&app, &token, &receiver.url, &["client.created"]).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && STANDARD.decode(&secret[6..]).unwrap().len() == 32);
    let id = created["id"].as_str().unwrap().to_owned();

    let shown = app.get(&format!("/v1/webhook-endpoints/{id}"), &token).await;
    assert!(shown.headers().get("etag").is_some());
    let shown: Value = shown.json().await.unwrap();
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");
    let listed: Value = app.get("/v1/webhook-endpoints", &token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret[6..]));
    let key = hex::encode(STANDARD.decode(&secret[6..]).unwrap());
    let clear =
        format!("SELECT count(*) FROM webhook_endpoints WHERE position(decode('{key}', 'hex') IN secret_sealed) > 0");
    assert_eq!(app.count(&clear).await, 0, "the secret is stored sealed");
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 1);

    let client = app.create_client(&token, json!({"display_name": "Robin Q."})).await;
    let client_id = client["id"].as_str().unwrap();
    let patched = app
        .http
        .patch(app.url(&format!("/v1/clients/{client_id}")))
        .bearer_auth(&token)
        .json(&json!({"status": "discharged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let got = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 1, "only client.created is wanted, and only after registration");
    let delivery = &got[0];
    assert!(signed_by(delivery, &secret), "signature: {delivery:?}");
    assert_eq!(delivery.header("content-type"), "application/json");
    let timestamp: i64 = delivery.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    let body = delivery.json();
    assert_eq!(body["type"], "client.created");
    assert_eq!(body["data"]["client_id"], client_id);
    assert!(!delivery.body.contains("Robin"), "payloads are thin: {}", delivery.body);
    let event = feed(&app, &token).await.into_iter().find(|e| e["data"]["client_id"] == client_id).unwrap();
    assert_eq!(delivery.header("webhook-id"), event["id"].as_str().unwrap());
    assert_eq!(body["id"], event["id"]);
    assert_eq!(body["sequence"], event["sequence"]);
    assert_ne!(before["id"], client["id"]);

    let log = attempts(&app, &token, &id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["delivery_state"], "succeeded");
    assert_eq!(log[0]["response"], "ok");
    assert_eq!(log[0]["webhook_id"], event["id"]);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_under_one_webhook_id() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[500, 500, 200]).await;
    let created = register(&app, &token, &receiver.url, &["client.created"]).await;
    let id = created["id"].as_str().unwrap();
    app.create_client(&token, json!({"display_name": "Retry"})).await;
    let got = receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "a 2xx ends the delivery");
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same webhook-id");
    // With a 10 ms unit the waits are 5 and 300 units, stretched by at most a fifth.
    let first_wait = got[1].at - got[0].at;
    let second_wait = got[2].at - got[1].at;
    assert!(first_wait >= Duration::from_millis(50), "{first_wait:?}");
    assert!(second_wait >= Duration::from_millis(3000), "{second_wait:?}");
    assert!(second_wait > first_wait * 10);

    let log = attempts(&app, &token, id).await;
    let numbers: Vec<i64> = log.iter().map(|a| a["attempt"].as_i64().unwrap()).collect();
    assert_eq!(numbers, vec![3, 2, 1], "newest first");
    let statuses: Vec<i64> = log.iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 500, 500]);
    assert_eq!(log[1]["error"], "the receiver answered 500 Internal Server Error");
    assert!(log.iter().all(|a| a["delivery_state"] == "succeeded"));
    assert!(endpoint(&app, &token, id).await["failing_since"].is_null(), "a success clears failing_since");
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_names_the_event_until_it_is_enabled_again() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[410]).await;
    let created = register(&app, &token, &receiver.url, &["client.created"]).await;
    let id = created["id"].as_str().unwrap();
    app.create_client(&token, json!({"display_name": "Gone"})).await;
    let first = receiver.wait_for(1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let shown = endpoint(&app, &token, id).await;
        if shown["enabled"] == false || Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shown["enabled"], false, "{shown}");
    assert_eq!(shown["disabled_reason"], "gone");
    assert_eq!(shown["disabled_by_event_id"], first[0].header("webhook-id"));
    assert_eq!(attempts(&app, &token, id).await[0]["delivery_state"], "failed");

    app.create_client(&token, json!({"display_name": "Unheard"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "a disabled endpoint hears nothing");

    let enabled = app
        .http
        .patch(app.url(&format!("/v1/webhook-endpoints/{id}")))
        .bearer_auth(&token)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"enabled": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["disabled_reason"].is_null() && enabled["disabled_by_event_id"].is_null());
    let heard = app.create_client(&token, json!({"display_name": "Heard"})).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["client_id"], heard["id"], "delivery resumes with the next event");
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_and_answers_are_cut_short_in_the_log() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start_with(&[], Duration::ZERO, &"x".repeat(5000)).await;
    let created = register(&app, &token, &receiver.url, &["client.created"]).await;
    let id = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();
    let rotated = app.post_json(&format!("/v1/webhook-endpoints/{id}/rotate-secret"), &token, &json!({})).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    let until = chrono::DateTime::parse_from_rfc3339(rotated["previous_secret_expires_at"].as_str().unwrap()).unwrap();
    let hours = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes of overlap");

    app.create_client(&token, json!({"display_name": "Rotated"})).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert!(signed_by(&got[0], &new) && signed_by(&got[0], &old));
    assert!(!signed_by(&got[0], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    let log = attempts(&app, &token, id).await;
    assert_eq!(log[0]["response"].as_str().unwrap().len(), 512, "the receiver's answer is kept short");
}

#[tokio::test]
async fn redelivery_and_the_test_event_reach_the_receiver() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[]).await;
    let created = register(&app, &token, &receiver.url, &["client.created"]).await;
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    app.create_client(&token, json!({"display_name": "One"})).await;
    app.create_client(&token, json!({"display_name": "Two"})).await;
    let first = receiver.wait_for(2).await;

    let path = format!("/v1/webhook-endpoints/{id}/redeliver");
    let event_id = first[0].header("webhook-id").to_owned();
    let again = app.post_json(&path, &token, &json!({"event_id": event_id})).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.json::<Value>().await.unwrap()["queued"], 1);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].header("webhook-id"), event_id, "a redelivery keeps the event's id");
    assert_eq!(got[2].body, first[0].body);

    let since = app.post_json(&path, &token, &json!({"since": since})).await;
    assert_eq!(since.json::<Value>().await.unwrap()["queued"], 2);
    receiver.wait_for(5).await;

    let both = app.post_json(&path, &token, &json!({"event_id": event_id, "since": "2026-01-01T00:00:00Z"})).await;
    assert_problem(both, 422, "validation_failed").await;
    let unknown = app.post_json(&path, &token, &json!({"event_id": uuid::Uuid::now_v7()})).await;
    assert_problem(unknown, 404, "not_found").await;

    let tested = app.post_json(&format!("/v1/webhook-endpoints/{id}/test"), &token, &json!({})).await;
    assert_eq!(tested.status(), 200);
    let tested: Value = tested.json().await.unwrap();
    assert_eq!(tested["delivered"], true);
    assert_eq!(tested["status_code"], 200);
    let got = receiver.wait_for(6).await;
    let test = got.iter().find(|r| r.json()["type"] == "webhook.test").unwrap();
    assert!(signed_by(test, secret));
    assert_eq!(test.header("webhook-id"), tested["webhook_id"].as_str().unwrap());
    assert_eq!(attempts(&app, &token, id).await[0]["event_type"], "webhook.test");
}

#[tokio::test]
async fn urls_at_internal_addresses_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for url in [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "http://93.184.215.14/hooks",
        "not a url",
    ] {
        let response = app
            .post_json("/v1/webhook-endpoints", &token, &json!({"url": url, "event_types": ["client.created"]}))
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints").await, 0);
    let empty = app
        .post_json("/v1/webhook-endpoints", &token, &json!({"url": "https://93.184.215.14/", "event_types": []}))
        .await;
    let problem = assert_problem(empty, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "event_types");
    let unknown = app
        .post_json(
            "/v1/webhook-endpoints",
            &token,
            &json!({"url": "https://93.184.215.14/", "event_types": ["client.deleted"]}),
        )
        .await;
    assert_eq!(unknown.status(), 422);
}

#[tokio::test]
async fn endpoints_need_the_admin_scope_and_a_configured_key() {
    let app = TestApp::spawn_with(|settings| settings.webhooks.webhook_key = None).await;
    let token = app.token_a().await;
    let body = json!({"url": "https://93.184.215.14/", "event_types": ["client.created"]});
    let response = app.post_json("/v1/webhook-endpoints", &token, &body).await;
    assert_problem(response, 503, "webhooks_not_configured").await;
    let narrow = app.token_for(&app.practice_a, Some("clients:write")).await;
    let response = app.post_json("/v1/webhook-endpoints", &narrow, &body).await;
    assert_problem(response, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn two_instances_deliver_every_event_exactly_once() {
    let app = spawn().await;
    let _second = app.another_instance(fast_delivery).await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[]).await;
    register(&app, &token, &receiver.url, &["client.created"]).await;
    let writes = (0..40).map(|n| app.create_client(&token, json!({"display_name": format!("C{n}")})));
    futures_util::future::join_all(writes).await;
    receiver.wait_for(40).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.received();
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(got.len(), 40, "duplicates: {}", got.len() - ids.len());
    assert_eq!(ids.len(), 40);
    let attempts = app.count("SELECT count(*) FROM webhook_attempts").await;
    assert_eq!(attempts, 40, "one attempt per delivery");
}

#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another_endpoint() {
    let app = spawn().await;
    let token = app.token_a().await;
    let slow = Receiver::start_with(&[], Duration::from_secs(3), "slow").await;
    let fast = Receiver::start(&[]).await;
    register(&app, &token, &slow.url, &["client.created"]).await;
    register(&app, &token, &fast.url, &["client.created"]).await;
    for n in 0..12 {
        app.create_client(&token, json!({"display_name": format!("C{n}")})).await;
    }
    fast.wait_for(12).await;
    // The slow one holds at most its share (4 at a time), so the fast one
    // finished while the slow one was still at its first few.
    assert!(slow.received().len() <= 8, "slow receiver got {}", slow.received().len());
}

#[tokio::test]
async fn endpoints_of_another_practice_are_invisible() {
    let app = TestApp::spawn_with(fast_delivery).await;
    let (token_a, token_b) = (app.token_a().await, app.token_b().await);
    let receiver = Receiver::start(&[]).await;
    let created = register(&app, &token_a, &receiver.url, &["client.created"]).await;
    let listed: Value = app.get("/v1/webhook-endpoints", &token_b).await.json().await.unwrap();
    assert_eq!(listed["data"], json!([]));
    // Practice B's events never reach practice A's endpoint.
    app.create_client(&token_b, json!({"display_name": "B's"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
    let id = created["id"].as_str().unwrap();
    let deleted =
        app.http.delete(app.url(&format!("/v1/webhook-endpoints/{id}"))).bearer_auth(&token_b).send().await.unwrap();
    assert_problem(deleted, 404, "not_found").await;
    let deleted =
        app.http.delete(app.url(&format!("/v1/webhook-endpoints/{id}"))).bearer_auth(&token_a).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn deliveries_past_retention_are_purged_with_their_attempts() {
    let app = spawn().await;
    let token = app.token_a().await;
    let receiver = Receiver::start(&[]).await;
    register(&app, &token, &receiver.url, &["client.created"]).await;
    app.create_client(&token, json!({"display_name": "Old"})).await;
    app.create_client(&token, json!({"display_name": "Recent"})).await;
    receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "UPDATE webhook_deliveries SET created_at = now() - interval '40 days' \
         WHERE id = (SELECT id FROM webhook_deliveries ORDER BY id LIMIT 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let cutoff = chrono::Utc::now() - chrono::Duration::days(35);
    let purged = attune::webhooks::store::purge_created_before(&mut conn, cutoff).await.unwrap();
    assert_eq!(purged, 1);
    assert_eq!(app.count("SELECT count(*) FROM webhook_deliveries").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM webhook_attempts").await, 1, "attempts go with their delivery");
}
