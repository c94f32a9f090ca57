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

/// One operation per scope, with a body it would accept in shape.
fn one_operation_per_scope() -> Vec<(&'static str, reqwest::Method, String, Option<serde_json::Value>)> {
    use reqwest::Method;
    let someone = uuid::Uuid::now_v7();
    vec![
        ("clients:read", Method::GET, "/v1/clients".to_owned(), None),
        ("clients:write", Method::POST, "/v1/clients".to_owned(), Some(serde_json::json!({"display_name": "T."}))),
        ("assessments:read", Method::GET, "/v1/assessments".to_owned(), None),
        ("assessments:write", Method::POST, "/v1/assessments".to_owned(), Some(serde_json::json!({}))),
        ("homework:read", Method::GET, "/v1/homework".to_owned(), None),
        ("homework:write", Method::POST, "/v1/homework".to_owned(), Some(serde_json::json!({}))),
        ("progress:read", Method::GET, format!("/v1/clients/{someone}/progress"), None),
        ("admin", Method::GET, "/v1/api-clients".to_owned(), None),
    ]
}

#[tokio::test]
async fn every_scope_refuses_every_token_attack() {
    let app = spawn_with_external(ExternalAlgorithm::EdDsa, "ed25519_public.pem").await;
    let now = chrono::Utc::now().timestamp();
    let public = std::fs::read(fixture("ed25519_public.pem")).unwrap();
    let private = std::fs::read(fixture("ed25519_private.pem")).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    for (scope, method, path, body) in one_operation_per_scope() {
        let ours = Claims { scope: scope.to_owned(), ..claims(&app) };
        let theirs = Claims { scope: scope.to_owned(), ..external_claims(&app) };
        let unsigned = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ours).unwrap());
        let attacks: Vec<(&str, Option<String>)> = vec![
            ("no token", None),
            ("malformed", Some("eyJhbGciOi.not-a-token".to_owned())),
            ("alg none", Some(format!("{header}.{unsigned}."))),
            ("HS256 with the external public key", Some(sign_hs256(&theirs, &public))),
            (
                "wrong issuer",
                Some(sign_hs256(&Claims { iss: "elsewhere".into(), ..ours.clone() }, JWT_SECRET.as_bytes())),
            ),
            (
                "wrong audience",
                Some(sign_hs256(&Claims { aud: "other-api".into(), ..ours.clone() }, JWT_SECRET.as_bytes())),
            ),
            (
                "expired",
                Some(sign_hs256(
                    &Claims { exp: now - 120, nbf: now - 600, iat: now - 600, ..ours.clone() },
                    JWT_SECRET.as_bytes(),
                )),
            ),
            (
                "not yet valid",
                Some(sign_hs256(&Claims { nbf: now + 600, exp: now + 900, ..ours.clone() }, JWT_SECRET.as_bytes())),
            ),
        ];
        let send = |token: Option<String>| {
            let mut request = app.http.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send()
        };
        for (attack, token) in attacks {
            let response = send(token).await.unwrap();
            assert_eq!(response.status(), 401, "{scope} {method} {path}: {attack}");
            assert_problem(response, 401, "invalid_token").await;
        }
        // A token without the scope is forbidden, with the scope named.
        let other_scope = if scope == "clients:read" { "progress:read" } else { "clients:read" };
        let narrow = sign_hs256(&Claims { scope: other_scope.to_owned(), ..ours.clone() }, JWT_SECRET.as_bytes());
        let response = send(Some(narrow)).await.unwrap();
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert_eq!(challenge, format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""));
        assert_problem(response, 403, "insufficient_scope").await;
        // And the genuine tokens, ours and the external issuer's, get past authentication.
        let external =
            encode(&Header::new(Algorithm::EdDSA), &theirs, &EncodingKey::from_ed_pem(&private).unwrap()).unwrap();
        for genuine in [sign_hs256(&ours, JWT_SECRET.as_bytes()), external] {
            let status = send(Some(genuine)).await.unwrap().status().as_u16();
            assert!(![401, 403].contains(&status) && status < 500, "{scope}: a genuine token got {status}");
        }
    }
}

#[tokio::test]
async fn a_revoked_client_gets_no_fresh_token_and_no_client_gets_a_scope_it_was_never_granted() {
    let app = TestApp::spawn().await;
    let admin = app.token_a().await;
    let created: serde_json::Value = app
        .post_json("/v1/api-clients", &admin, &serde_json::json!({"name": "portal", "scopes": ["homework:write"]}))
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) =
        (created["id"].as_str().unwrap().to_owned(), created["client_secret"].as_str().unwrap().to_owned());
    let ask = |scope: &'static str| {
        app.http
            .post(app.url("/v1/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
    };
    // Never granted: refused at the token endpoint in OAuth's own format.
    let refused = ask("admin").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap()["error"], "invalid_scope");
    assert_eq!(ask("homework:write").await.unwrap().status(), 200);
    let revoked = app.http.delete(app.url(&format!("/v1/api-clients/{id}"))).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    let after = ask("homework:write").await.unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(after.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
}
