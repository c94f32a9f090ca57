//! RFC 9457 problem details: the one error type every handler returns.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::request_id;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"field": "display_name", "message": "must be 1 to 200 characters"}))]
pub struct FieldError {
    /// The field's path in the request: a body member (`display_name`,
    /// `answers[3].value`), a query parameter or a path segment.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An error answer (RFC 9457, `application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:attune:problem:validation_failed",
    "title": "The request body is not valid",
    "status": 422,
    "detail": "1 field is not valid",
    "code": "validation_failed",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "errors": [{"field": "display_name", "message": "must be 1 to 200 characters"}]
}))]
pub struct ProblemDetails {
    /// A URI naming the problem type: `urn:attune:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable, machine-readable reason; switch on this, not on `title`.
    pub code: String,
    /// The request's `X-Request-Id`, for support and log correlation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The fields at fault, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Every failure a request can meet, each mapping to one status and code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("missing scope {0}")]
    InsufficientScope(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    /// The resource existed and was removed for good (an erased client).
    #[error("gone: {code}")]
    Gone { code: &'static str, detail: String },
    #[error("stale If-Match")]
    PreconditionFailed,
    #[error("bad request: {code}")]
    BadRequest { code: &'static str, detail: String, errors: Vec<FieldError> },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("idempotency key reused with another request")]
    IdempotencyMismatch,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("rate limited")]
    TooManyRequests(crate::rate_limits::RateLimitStatus),
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A feature the operator has not configured (a 503 that retrying will not cure).
    #[error("not configured: {code}")]
    NotConfigured { code: &'static str, detail: &'static str },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn bad_request(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadRequest { code, detail: message.clone(), errors: vec![FieldError::new(field, message)] }
    }

    /// A 400 for input the database refused, where no field can be named.
    fn unplaced(code: &'static str, detail: &str) -> Self {
        Self::BadRequest { code, detail: detail.to_owned(), errors: Vec::new() }
    }

    /// Text holding U+0000, which PostgreSQL text and jsonb cannot store.
    pub fn nul_character() -> Self {
        Self::unplaced(
            "invalid_characters",
            "a text value holds a NUL character (U+0000), which the service cannot store",
        )
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// The stable code and the title shown with it.
    fn code_and_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::InvalidToken(_) => ("invalid_token", "The access token is missing or not valid"),
            Self::InsufficientScope(_) => ("insufficient_scope", "The access token lacks a required scope"),
            Self::NotFound(_) => ("not_found", "The resource does not exist"),
            Self::NoRoute => ("no_route", "No such endpoint"),
            Self::MethodNotAllowed { .. } => ("method_not_allowed", "The endpoint does not accept this method"),
            Self::Conflict { code, .. } => (code, "The request conflicts with the resource's state"),
            Self::Gone { code, .. } => (code, "The resource no longer exists"),
            Self::PreconditionFailed => ("precondition_failed", "The resource has changed since it was read"),
            Self::BadRequest { code, .. } => (code, "The request is malformed"),
            Self::Validation(_) => ("validation_failed", "The request body is not valid"),
            Self::IdempotencyMismatch => {
                ("idempotency_key_reused", "The Idempotency-Key was used with another request")
            }
            Self::PayloadTooLarge { .. } => ("payload_too_large", "The request body is too large"),
            Self::UnsupportedMediaType { .. } => {
                ("unsupported_media_type", "The request body has the wrong media type")
            }
            Self::RequestTimeout => ("request_timeout", "The request did not arrive in time"),
            Self::TooManyRequests(_) => ("rate_limited", "Too many requests"),
            Self::Unavailable(_) => ("service_unavailable", "The service cannot reach its database"),
            Self::NotConfigured { code, .. } => (code, "This service is not configured for the request"),
            Self::Internal(_) => ("internal_error", "Something went wrong on our side"),
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::InvalidToken(why) => Some((*why).to_owned()),
            Self::InsufficientScope(scope) => Some(format!("this operation needs the scope `{scope}`")),
            Self::NotFound(what) => Some(format!("no {what} with this id in your practice")),
            Self::NoRoute => Some("see /openapi.json for the endpoints".to_owned()),
            Self::MethodNotAllowed { allow } => Some(format!("allowed: {}", allow.join(", "))),
            Self::Conflict { detail, .. } | Self::Gone { detail, .. } | Self::BadRequest { detail, .. } => {
                Some(detail.clone())
            }
            Self::PreconditionFailed => Some("fetch the resource again and retry with its current ETag".to_owned()),
            Self::Validation(errors) => Some(match errors.len() {
                1 => "1 field is not valid".to_owned(),
                n => format!("{n} fields are not valid"),
            }),
            Self::IdempotencyMismatch => {
                Some("an Idempotency-Key names one request: use a new key for a new request".to_owned())
            }
            Self::PayloadTooLarge { limit } => Some(format!("the limit is {limit} bytes")),
            Self::UnsupportedMediaType { expected } => Some(format!("send `Content-Type: {expected}`")),
            Self::RequestTimeout => Some("send the whole body promptly".to_owned()),
            Self::TooManyRequests(status) => Some(format!(
                "this practice may make {} requests a minute; retry in {} s",
                status.quota, status.reset_seconds
            )),
            Self::Unavailable(_) => Some("retry shortly".to_owned()),
            Self::NotConfigured { detail, .. } => Some((*detail).to_owned()),
            Self::Internal(_) => None,
        }
    }

    pub fn problem(&self) -> ProblemDetails {
        let (code, title) = self.code_and_title();
        let errors = match self {
            Self::Validation(errors) | Self::BadRequest { errors, .. } => errors
                .iter()
                .map(|e| FieldError { field: without_nul(&e.field), message: without_nul(&e.message) })
                .collect(),
            _ => Vec::new(),
        };
        ProblemDetails {
            problem_type: format!("urn:attune:problem:{code}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: self.detail().map(|d| without_nul(&d)),
            code: code.to_owned(),
            request_id: request_id::current(),
            errors,
        }
    }
}

/// An error may quote what the caller sent (an unknown member's name); a
/// NUL in it is shown as U+FFFD, so no answer carries the character the
/// service refuses everywhere else (and PostgreSQL text cannot hold).
pub fn without_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Gone { .. } => StatusCode::GONE,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::NotConfigured { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The cause chain goes to the log, never to the caller.
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            Self::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::InvalidToken(why) => {
                let value = format!("Bearer error=\"invalid_token\", error_description=\"{why}\"");
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
            Self::InsufficientScope(scope) => {
                let value = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            Self::TooManyRequests(status) => {
                response.insert_header((header::RETRY_AFTER, status.reset_seconds.to_string()));
                response.insert_header(("RateLimit-Policy", status.policy_header()));
                response.insert_header(("RateLimit", status.limit_header()));
            }
            Self::RequestTimeout => {
                response.insert_header((header::CONNECTION, "close"));
            }
            _ => {}
        }
        response.json(problem)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => Self::Internal(anyhow::anyhow!("unexpected empty result")),
            // diesel-async reports a lost socket (no SQLSTATE) as UnableToSendCommand.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => {
                Self::Unavailable(err.into())
            }
            // A server shutting down or starting up answers with an admin SQLSTATE.
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info) if is_connection_failure(info.message()) => {
                Self::Unavailable(err.into())
            }
            // A date or number the types accept but PostgreSQL cannot store
            // (year -200000, say): the caller's input, not our failure.
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info) if is_out_of_range(info.message()) => {
                Self::unplaced(
                    "value_out_of_range",
                    "a date, time or number is outside the range the service can store",
                )
            }
            // JSON and URLs can carry U+0000; PostgreSQL text and jsonb cannot.
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info) if is_nul_character(info.message()) => {
                Self::nul_character()
            }
            other => Self::Internal(other.into()),
        }
    }
}

fn is_nul_character(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    (message.contains("invalid byte sequence") && message.contains("0x00"))
        || message.contains("unsupported unicode escape sequence")
}

fn is_out_of_range(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["date out of range", "timestamp out of range", "field value out of range", "integer out of range"]
        .iter()
        .any(|needle| message.contains(needle))
}

fn is_connection_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["terminating connection", "shutting down", "starting up", "in recovery mode"]
        .iter()
        .any(|needle| message.contains(needle))
}

impl From<deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>> for ApiError {
    fn from(err: deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>) -> Self {
        Self::Unavailable(anyhow::anyhow!("connection pool: {err}"))
    }
}
