//! `X-Request-Id`: accepted from the caller or generated, echoed on every
//! answer, carried in every log line and in every problem+json body.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::rate_limits::RateLimitStatus;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, when called inside one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A caller's id is kept when it is short, printable ASCII (it ends up in logs
/// and headers); anything else is replaced.
fn accept_or_generate(req: &ServiceRequest) -> String {
    req.headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// Outermost middleware: scopes the request id, opens the request's span and
/// writes one access-log line (method, route template, status, latency; never
/// the raw path's query or any body).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = accept_or_generate(&req);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method());
    let started = Instant::now();
    let scoped_id = id.clone();
    let mut response = REQUEST_ID
        .scope(scoped_id, async move { next.call(req).await.map(|r| ensure_problem_body(r.map_into_boxed_body())) })
        .instrument(span.clone())
        .await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    // A practice under a request rate sees what is left of it (the Auth
    // extractor left the figures on the request).
    let rate_limit = response.request().extensions().get::<RateLimitStatus>().copied();
    if let Some(status) = rate_limit
        && let (Ok(policy), Ok(limit)) =
            (HeaderValue::from_str(&status.policy_header()), HeaderValue::from_str(&status.limit_header()))
    {
        response.headers_mut().insert(HeaderName::from_static("ratelimit-policy"), policy);
        response.headers_mut().insert(HeaderName::from_static("ratelimit"), limit);
    }
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    Ok(response)
}

/// Errors raised inside actix itself (a payload it could not read, say)
/// arrive as plain text; give them the problem+json shape every API error
/// has. The client pages' own HTML answers stay as they are.
fn ensure_problem_body(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let already_shaped = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json") || v.starts_with("text/html"));
    if already_shaped {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
    let problem = super::problem::ProblemDetails {
        problem_type: format!("urn:attune:problem:{code}"),
        title: reason.to_owned(),
        status: status.as_u16(),
        detail: None,
        code,
        request_id: current(),
        errors: Vec::new(),
    };
    let (req, res) = response.into_parts();
    let mut rebuilt = actix_web::HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != actix_web::http::header::CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            rebuilt.append_header((name.clone(), value.clone()));
        }
    }
    rebuilt.content_type(super::problem::PROBLEM_JSON);
    ServiceResponse::new(req, rebuilt.json(problem))
}
