//! Abuse resistance: failed-token limits that cannot lock a practice out,
//! secrets stored as digests (and argon2 ones upgraded on use), the optional
//! per-practice rate, and clients that send their requests too slowly.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, assert_problem, token_with};

#[tokio::test]
async fn guessing_a_secret_is_slowed_down_but_the_right_secret_still_works() {
    let app = TestApp::spawn_with(|s| s.limits.token_failure_burst = NonZeroU32::new(5).unwrap()).await;
    let client_id = app.practice_a.client_id.to_string();
    for attempt in 0..5 {
        let response = token_with(&app, &client_id, "atn_wrong").await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let limited = token_with(&app, &client_id, "atn_wrong").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.headers()["cache-control"], "no-store");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    assert!(body["error_description"].is_string());

    // The integration itself, with the right secret, is never refused.
    let ok = token_with(&app, &client_id, &app.practice_a.client_secret).await;
    assert_eq!(ok.status(), 200);
    // Another practice's integration on the same address is not refused either.
    let other = token_with(&app, &app.practice_b.client_id.to_string(), &app.practice_b.client_secret).await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn secrets_are_stored_as_digests_and_argon2_hashes_are_upgraded_on_use() {
    let app = TestApp::spawn().await;
    let id = app.practice_a.client_id;
    let stored = || async {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        attune::db::schema::api_clients::table
            .find(id)
            .select(attune::db::schema::api_clients::secret_hash)
            .first::<String>(&mut app.db().await)
            .await
            .unwrap()
    };
    let digest = stored().await;
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");

    // An earlier version stored argon2id; it must keep working.
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::encode_b64(&[3u8; 16]).unwrap();
    let legacy =
        argon2::Argon2::default().hash_password(app.practice_a.client_secret.as_bytes(), &salt).unwrap().to_string();
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query("UPDATE api_clients SET secret_hash = $1 WHERE id = $2")
            .bind::<diesel::sql_types::Text, _>(&legacy)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(&mut app.db().await)
            .await
            .unwrap();
    }
    assert!(stored().await.starts_with("$argon2id$"));

    let wrong = token_with(&app, &id.to_string(), "atn_wrong").await;
    assert_eq!(wrong.status(), 401);
    assert!(stored().await.starts_with("$argon2id$"), "a failed attempt changes nothing");
    let ok = token_with(&app, &id.to_string(), &app.practice_a.client_secret).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(stored().await, digest, "replaced by the digest of the same secret");
    assert_eq!(token_with(&app, &id.to_string(), &app.practice_a.client_secret).await.status(), 200);
}

#[tokio::test]
async fn a_practice_over_its_request_rate_gets_429_with_ratelimit_headers() {
    let app = TestApp::spawn_with(|s| s.limits.practice_rate_limit_per_minute = NonZeroU32::new(3)).await;
    let token = app.token_a().await;
    for remaining in [2, 1, 0] {
        let response = app.get("/v1/clients", &token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["ratelimit-policy"], "\"practice\";q=3;w=60");
        assert_eq!(response.headers()["ratelimit"], format!("\"practice\";r={remaining};t=0").as_str());
    }
    let refused = app.get("/v1/clients", &token).await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers()["ratelimit"], format!("\"practice\";r=0;t={retry_after}").as_str());
    assert_problem(refused, 429, "rate_limited").await;
    // Another practice has its own budget; probes have none.
    assert_eq!(app.get("/v1/clients", &app.token_b().await).await.status(), 200);
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(!health.headers().contains_key("ratelimit"));
}

/// Opens a connection that sends a request's headers one byte every `pace`.
async fn trickle_headers(address: &str, pace: Duration) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = b"GET /v1/clients HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(pace).await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    answer
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_others_are_served_meanwhile() {
    let app = TestApp::spawn_with(|s| {
        s.limits.client_request_timeout_ms = 1000;
        s.limits.client_body_timeout_ms = 1000;
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // 64 connections trickling their headers, a byte every 200 ms (the
    // request would take 18 s to arrive), on a service with one worker.
    let slow: Vec<_> =
        (0..64).map(|_| tokio::spawn(trickle_headers_owned(address.clone(), Duration::from_millis(200)))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile others are served.
    for _ in 0..20 {
        let response = app.http.get(app.url("/healthz")).timeout(Duration::from_secs(2)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let token = app.token_a().await;
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
    // Each slow connection was answered 408 and closed after the header timeout.
    for connection in slow {
        let answer = String::from_utf8_lossy(&connection.await.unwrap()).into_owned();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }

    // A body that stops arriving: 408 problem+json, whatever reads it (the
    // JSON extractor, the token endpoint's form, a client page's form).
    let json_head = format!(
        "POST /v1/clients HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"display_name\""
    );
    let form_head = "POST /v1/oauth/token HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ngrant_type="
        .to_owned();
    let page_head = format!(
        "POST /l/assessments/{} HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ncsrf=",
        uuid::Uuid::now_v7()
    );
    for head in [json_head, form_head, page_head] {
        let answer = stalled_body(&address, &head).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{head}: {answer}");
        assert!(answer.contains("request_timeout"), "{head}: {answer}");
    }
    assert_eq!(app.count("SELECT count(*) FROM clients").await, 0);
}

/// Sends `head` (a request whose body is cut short) and answers what comes back.
async fn stalled_body(address: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 2048];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await.unwrap().unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

async fn trickle_headers_owned(address: String, pace: Duration) -> Vec<u8> {
    trickle_headers(&address, pace).await
}
