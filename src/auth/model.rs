//! Token endpoint wire types (RFC 6749 sections 4.4 and 5).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The one grant this service offers.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GrantType {
    ClientCredentials,
}

/// The form body of `POST /v1/oauth/token` (`application/x-www-form-urlencoded`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`. (Read as optional so that its absence
    /// answers OAuth's own `invalid_request`.)
    #[schema(value_type = GrantType, required = true)]
    pub grant_type: Option<String>,
    /// Space-separated scopes to narrow the token to; all granted scopes when absent.
    #[schema(example = "clients:read clients:write")]
    pub scope: Option<String>,
    /// The API client's id, when not sent by HTTP Basic authentication.
    pub client_id: Option<String>,
    /// The API client's secret, when not sent by HTTP Basic authentication.
    pub client_secret: Option<String>,
    /// The integrator's own id of the clinician the integration acts for;
    /// recorded with every write made with the token.
    #[schema(example = "clinician-4711")]
    pub actor: Option<String>,
}

/// A granted access token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
    "token_type": "Bearer",
    "expires_in": 600,
    "scope": "clients:read clients:write"
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The scopes the token carries, space-separated.
    pub scope: String,
}

/// An OAuth error (RFC 6749 section 5.2). The token endpoint answers in this
/// format, which OAuth client libraries expect, rather than problem+json.
#[derive(Debug, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[error("{error}: {error_description}")]
#[schema(example = json!({"error": "invalid_client", "error_description": "unknown client or wrong secret"}))]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, or `slow_down` (429: too many
    /// failed requests; wait `Retry-After` seconds).
    pub error: String,
    pub error_description: String,
    /// Whether the client authenticated with HTTP Basic (then a 401 carries a
    /// `WWW-Authenticate: Basic` challenge).
    #[serde(skip)]
    pub basic_auth: bool,
    /// Seconds to wait, for a 429.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &str, description: impl Into<String>) -> Self {
        Self { error: error.to_owned(), error_description: description.into(), basic_auth: false, retry_after: None }
    }

    /// Too many failed token requests from this address or for this client.
    pub fn slow_down(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new("slow_down", "too many failed token requests; retry after the time given in Retry-After")
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.error.as_str() {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "slow_down" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status_code() == StatusCode::UNAUTHORIZED && self.basic_auth {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"attune\""));
        }
        response.json(self)
    }
}
