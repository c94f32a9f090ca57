//! Token checking: every malformed, misdirected or forged token is 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"`; a missing scope is 403.

use attune::auth::jwt::{ActorClaim, Claims};
use attune::config::ExternalAlgorithm;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

use crate::helpers::{
    AUDIENCE, EXTERNAL_AUDIENCE, EXTERNAL_ISSUER, ISSUER, JWT_SECRET, TestApp, assert_problem, fixture,
};

fn claims(app: &TestApp) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: ISSUER.to_owned(),
        sub: app.practice_a.client_id.to_string(),
        aud: AUDIENCE.to_owned(),
        exp: now + 300,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::now_v7().to_string(),
        practice_id: Some(app.practice_a.practice_id.to_string()),
        scope: "clients:read".to_owned(),
        act: None,
    }
}

fn sign_hs256(claims: &Claims, secret: &[u8]) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn assert_rejected(app: &TestApp, token: &str, why: &str) {
    let response = app.get("/v1/clients", token).await;
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(
        challenge.as_deref().is_some_and(|c| c.starts_with("Bearer error=\"invalid_token\"")),
        "{why}: challenge {challenge:?}"
    );
    let body = assert_problem(response, 401, "invalid_token").await;
    assert!(body["detail"].is_string(), "{why}");
}

#[tokio::test]
async fn a_well_formed_token_of_our_own_is_accepted() {
    let app = TestApp::spawn().await;
    let token = sign_hs256(&claims(&app), JWT_SECRET.as_bytes());
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
}

#[tokio::test]
async fn rejects_every_kind_of_bad_token() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();

    let missing = app.http.get(app.url("/v1/clients")).send().await.unwrap();
    assert_problem(missing, 401, "invalid_token").await;
    let basic = app.http.get(app.url("/v1/clients")).basic_auth("a", Some("b")).send().await.unwrap();
    assert_problem(basic, 401, "invalid_token").await;
    assert_rejected(&app, "not-a-jwt", "malformed").await;

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&app)).unwrap());
    assert_rejected(&app, &format!("{header}.{body}."), "alg none").await;

    let expired = Claims { exp: now - 120, nbf: now - 600, iat: now - 600, ..claims(&app) };
    assert_rejected(&app, &sign_hs256(&expired, JWT_SECRET.as_bytes()), "expired").await;
    let early = Claims { nbf: now + 600, exp: now + 900, ..claims(&app) };
    assert_rejected(&app, &sign_hs256(&early, JWT_SECRET.as_bytes()), "not yet valid").await;
    let foreign_issuer = Claims { iss: "someone-else".to_owned(), ..claims(&app) };
    assert_rejected(&app, &sign_hs256(&foreign_issuer, JWT_SECRET.as_bytes()), "wrong issuer").await;
    let foreign_audience = Claims { aud: "another-api".to_owned(), ..claims(&app) };
    assert_rejected(&app, &sign_hs256(&foreign_audience, JWT_SECRET.as_bytes()), "wrong audience").await;
    assert_rejected(&app, &sign_hs256(&claims(&app), b"another-secret-of-at-least-32-bytes!!"), "bad signature").await;
    let no_practice = Claims { practice_id: None, ..claims(&app) };
    assert_rejected(&app, &sign_hs256(&no_practice, JWT_SECRET.as_bytes()), "no practice").await;

    // A tampered payload under a valid signature.
    let good = sign_hs256(&claims(&app), JWT_SECRET.as_bytes());
    let parts: Vec<&str> = good.split('.').collect();
    let other = Claims { practice_id: Some(app.practice_b.practice_id.to_string()), ..claims(&app) };
    let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
    assert_rejected(&app, &format!("{}.{}.{}", parts[0], forged_body, parts[2]), "tampered").await;
}

#[tokio::test]
async fn a_missing_scope_is_forbidden() {
    let app = TestApp::spawn().await;
    let token = sign_hs256(&Claims { scope: "progress:read".to_owned(), ..claims(&app) }, JWT_SECRET.as_bytes());
    let response = app.get("/v1/clients", &token).await;
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer error=\"insufficient_scope\", scope=\"clients:read\""
    );
    assert_problem(response, 403, "insufficient_scope").await;
}

async fn spawn_with_external(algorithm: ExternalAlgorithm, key: &str) -> TestApp {
    let key = fixture(key);
    TestApp::spawn_with(|args| {
        args.external_jwt_public_key_file = Some(key);
        args.external_jwt_algorithm = Some(algorithm);
        args.external_jwt_issuer = Some(EXTERNAL_ISSUER.to_owned());
        args.external_jwt_audience = Some(EXTERNAL_AUDIENCE.to_owned());
    })
    .await
}

fn external_claims(app: &TestApp) -> Claims {
    Claims {
        iss: EXTERNAL_ISSUER.to_owned(),
        aud: EXTERNAL_AUDIENCE.to_owned(),
        sub: "idp-user-17".to_owned(),
        act: Some(ActorClaim { sub: "clinician-9".to_owned() }),
        ..claims(app)
    }
}

#[tokio::test]
async fn accepts_an_external_issuers_eddsa_token_and_refuses_algorithm_confusion() {
    let app = spawn_with_external(ExternalAlgorithm::EdDsa, "ed25519_public.pem").await;
    let private = std::fs::read(fixture("ed25519_private.pem")).unwrap();
    let token =
        encode(&Header::new(Algorithm::EdDSA), &external_claims(&app), &EncodingKey::from_ed_pem(&private).unwrap())
            .unwrap();
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);

    // HS256 "signed" with the public key: the classic confusion attack.
    let public = std::fs::read(fixture("ed25519_public.pem")).unwrap();
    assert_rejected(&app, &sign_hs256(&external_claims(&app), &public), "HS256 with the public key").await;
    // Our own secret cannot sign for the external issuer either.
    assert_rejected(&app, &sign_hs256(&external_claims(&app), JWT_SECRET.as_bytes()), "HS256 for external").await;
    // The external issuer's audience is its own.
    let wrong_aud = Claims { aud: AUDIENCE.to_owned(), ..external_claims(&app) };
    let token =
        encode(&Header::new(Algorithm::EdDSA), &wrong_aud, &EncodingKey::from_ed_pem(&private).unwrap()).unwrap();
    assert_rejected(&app, &token, "external wrong audience").await;
}

#[tokio::test]
async fn accepts_an_external_issuers_rs256_token() {
    let app = spawn_with_external(ExternalAlgorithm::Rs256, "rsa_public.pem").await;
    let private = std::fs::read(fixture("rsa_private.pem")).unwrap();
    let token =
        encode(&Header::new(Algorithm::RS256), &external_claims(&app), &EncodingKey::from_rsa_pem(&private).unwrap())
            .unwrap();
    assert_eq!(app.get("/v1/clients", &token).await.status(), 200);
    // RS256 key, token claiming PS256 or HS256: refused.
    let public = std::fs::read(fixture("rsa_public.pem")).unwrap();
    assert_rejected(&app, &sign_hs256(&external_claims(&app), &public), "HS256 with the RSA public key").await;
}
