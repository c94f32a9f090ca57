//! `POST /v1/oauth/token`: the OAuth 2 client-credentials grant.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

use super::model::{OAuthError, TokenRequest, TokenResponse};
use super::scopes::Scope;
use super::secret::Verified;
use super::{secret, store};
use crate::http::body::Body;
use crate::rate_limits;
use crate::state::AppState;

const MAX_ACTOR_LEN: usize = 128;

/// Exchange API client credentials for an access token.
///
/// The OAuth 2 client-credentials grant (RFC 6749 section 4.4). Send a form
/// body with `grant_type=client_credentials`; authenticate with HTTP Basic
/// (`client_id:client_secret`) or the `client_id` and `client_secret` fields.
/// `scope` narrows the token to some of the client's scopes; `actor` names
/// the clinician the integration acts for, recorded with every write.
/// Errors use the OAuth format (`error`, `error_description`), not problem+json.
#[utoipa::path(
    operation_id = "create_token",
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A bearer token", body = TokenResponse),
        (status = 400, description = "Malformed request, unsupported grant type or scope not granted", body = OAuthError),
        (status = 401, description = "Unknown client, wrong secret or revoked client", body = OAuthError,
            example = json!({"error": "invalid_client", "error_description": "unknown client or wrong secret"})),
        (status = 429, description = "Too many failed token requests for this client or from this address: wait `Retry-After` seconds (the right secret is never refused)", body = OAuthError,
            headers(("Retry-After" = u64, description = "Seconds to wait")),
            example = json!({"error": "slow_down", "error_description": "too many failed token requests; retry after the time given in Retry-After"})),
        (status = 503, description = "The database is unreachable", body = OAuthError),
    ),
)]
#[post("/oauth/token")]
pub async fn create_token(
    req: HttpRequest,
    Body(body): Body,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::new("invalid_request", "send an application/x-www-form-urlencoded body"));
    }
    let form: TokenRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::new("invalid_request", "the form body is malformed"))?;
    let (client_id, client_secret, basic_auth) = client_authentication(&req, &form)?;
    let invalid_client =
        || OAuthError { basic_auth, ..OAuthError::new("invalid_client", "unknown client or wrong secret") };

    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return Err(OAuthError::new("unsupported_grant_type", "only client_credentials is supported")),
        None => return Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
    let actor = match form.actor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) if a.len() <= MAX_ACTOR_LEN && a.chars().all(|c| !c.is_control()) => Some(a.to_owned()),
        Some(_) => return Err(OAuthError::new("invalid_request", "actor must be at most 128 printable characters")),
    };
    if !state.tokens.can_issue() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "this deployment accepts tokens from its identity provider only",
        ));
    }

    let unavailable = |_| OAuthError::new("temporarily_unavailable", "the database is unreachable; retry shortly");
    let mut conn = state.pool.get().await.map_err(unavailable)?;
    let parsed_id = Uuid::parse_str(&client_id).ok();
    let credentials = match parsed_id {
        Some(id) => store::find_credentials(&mut conn, id).await.map_err(|err| {
            tracing::error!(error = %err, "looking up API client");
            OAuthError::new("temporarily_unavailable", "the database is unreachable; retry shortly")
        })?,
        None => None,
    };
    drop(conn);

    let verified = match &credentials {
        None => Verified::No,
        // An argon2 hash from an earlier version is slow: keep it off the async workers.
        Some(c) if secret::is_legacy(&c.secret_hash) => {
            let stored = c.secret_hash.clone();
            web::block(move || secret::verify(&client_secret, &stored))
                .await
                .map_err(|_| OAuthError::new("server_error", "secret verification failed"))?
        }
        Some(c) => secret::verify(&client_secret, &c.secret_hash),
    };
    // Only an existing client id gets a failure budget of its own: made-up
    // ids would otherwise grow the limiter's map without bound.
    let known_client = credentials.as_ref().map(|c| c.id);
    let credentials = match credentials {
        Some(c) if verified != Verified::No && c.revoked_at.is_none() => c,
        _ => {
            // Only failures count, and only after the secret was checked: the
            // right secret always works, so nobody can lock a practice out.
            let address = rate_limits::source_address(&req, state.settings.trusted_proxy_hops);
            return Err(match state.token_guard.record_failure(known_client, address) {
                Ok(()) => invalid_client(),
                Err(wait) => OAuthError::slow_down(rate_limits::wait_seconds(wait)),
            });
        }
    };
    if let Verified::YesRehash(digest) = verified {
        replace_legacy_hash(&state, credentials.id, &credentials.secret_hash, &digest).await;
    }

    let granted: Vec<Scope> = credentials.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
    let scopes = match form.scope.as_deref().map(str::trim) {
        None | Some("") => granted,
        Some(requested) => {
            let requested = Scope::parse_list(requested)
                .map_err(|name| OAuthError::new("invalid_scope", format!("unknown scope `{name}`")))?;
            if let Some(missing) = requested.iter().find(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("the client is not granted `{}`", missing.as_str()),
                ));
            }
            requested
        }
    };
    let lifetime = state.settings.token_lifetime_seconds;
    let access_token =
        state.tokens.issue(credentials.id, credentials.practice_id, &scopes, actor, lifetime).map_err(|err| {
            tracing::error!(error = %err, "signing a token");
            OAuthError::new("server_error", "the token could not be signed")
        })?;
    tracing::info!(client_id = %credentials.id, practice_id = %credentials.practice_id, "token issued");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: lifetime,
            scope: Scope::join(&scopes),
        }))
}

/// Stores the digest in place of an argon2 hash the secret just matched. A
/// failure only means the next token request checks argon2 once more.
async fn replace_legacy_hash(state: &AppState, client_id: Uuid, old: &str, digest: &str) {
    let replaced = match state.pool.get().await {
        Ok(mut conn) => {
            store::replace_secret_hash(&mut conn, client_id, old, digest).await.map_err(anyhow::Error::from)
        }
        Err(err) => Err(anyhow::anyhow!("connection pool: {err}")),
    };
    match replaced {
        Ok(_) => tracing::info!(client_id = %client_id, "secret hash upgraded from argon2id to SHA-256"),
        Err(err) => tracing::warn!(client_id = %client_id, error = %err, "upgrading a secret hash"),
    }
}

/// The client's id and secret, from HTTP Basic or the form (RFC 6749 2.3.1),
/// and whether Basic was used. Using both is an error.
fn client_authentication(req: &HttpRequest, form: &TokenRequest) -> Result<(String, String, bool), OAuthError> {
    let basic = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (kind, rest) = v.split_once(' ')?;
        kind.eq_ignore_ascii_case("basic").then(|| rest.trim().to_owned())
    });
    match (basic, &form.client_id, &form.client_secret) {
        (Some(encoded), None, None) => {
            let malformed =
                || OAuthError { basic_auth: true, ..OAuthError::new("invalid_client", "malformed Basic credentials") };
            let decoded = STANDARD.decode(encoded).map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
            // RFC 6749 2.3.1: both parts are form-urlencoded before encoding.
            let id = form_decode(id).ok_or_else(malformed)?;
            let secret = form_decode(secret).ok_or_else(malformed)?;
            Ok((id, secret, true))
        }
        (None, Some(id), Some(secret)) => Ok((id.clone(), secret.clone(), false)),
        (Some(_), _, _) => {
            Err(OAuthError::new("invalid_request", "authenticate with HTTP Basic or form fields, not both"))
        }
        (None, _, _) => Err(OAuthError::new("invalid_client", "client authentication is required")),
    }
}

fn form_decode(value: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={value}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}
