//! Reusable OpenAPI error responses, referenced by every operation.
#![allow(dead_code)] // the types exist for their OpenAPI derive only

use utoipa::ToResponse;

use super::problem::ProblemDetails;

/// The request is malformed: broken JSON, a bad query parameter or path id.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:invalid_path_parameter", "title": "The request is malformed", "status": 400,
    "detail": "must be a UUID", "code": "invalid_path_parameter", "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "errors": [{"field": "id", "message": "must be a UUID"}]
}))]
pub struct BadRequest(ProblemDetails);

/// No token, or a token that is malformed, expired, not yet valid, for
/// another issuer or audience, or of a revoked client. Carries
/// `WWW-Authenticate: Bearer error="invalid_token"`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:invalid_token", "title": "The access token is missing or not valid", "status": 401,
    "detail": "the token has expired", "code": "invalid_token", "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct Unauthorized(ProblemDetails);

/// The token lacks the scope this operation needs.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:insufficient_scope", "title": "The access token lacks a required scope", "status": 403,
    "detail": "this operation needs the scope `clients:write`", "code": "insufficient_scope",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct Forbidden(ProblemDetails);

/// No such resource in the caller's practice (another practice's resources
/// answer the same way).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:not_found", "title": "The resource does not exist", "status": 404,
    "detail": "no client with this id in your practice", "code": "not_found",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct NotFound(ProblemDetails);

/// The request conflicts with the current state (a duplicate, or a change
/// to an archived resource).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:external_id_taken", "title": "The request conflicts with the resource's state",
    "status": 409, "detail": "another client of your practice has this external_id", "code": "external_id_taken",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct Conflict(ProblemDetails);

/// The resource existed but is gone for good: the client was erased. Its
/// id stays known (`GET /v1/clients/{id}/erasure` tells when and why), but
/// nothing of it can be read or changed again.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:client_erased", "title": "The resource no longer exists", "status": 410,
    "detail": "the client's record was erased on 2027-01-08T09:30:00Z", "code": "client_erased",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct Gone(ProblemDetails);

/// The `If-Match` tag is stale: the resource changed since it was read.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:precondition_failed", "title": "The resource has changed since it was read",
    "status": 412, "detail": "fetch the resource again and retry with its current ETag",
    "code": "precondition_failed", "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct PreconditionFailed(ProblemDetails);

/// The request body is larger than the configured limit.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:payload_too_large", "title": "The request body is too large", "status": 413,
    "detail": "the limit is 65536 bytes", "code": "payload_too_large",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct PayloadTooLarge(ProblemDetails);

/// The request body is not `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:unsupported_media_type", "title": "The request body has the wrong media type",
    "status": 415, "detail": "send `Content-Type: application/json`", "code": "unsupported_media_type",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct UnsupportedMediaType(ProblemDetails);

/// The body is well-formed JSON but a field is missing, of the wrong type or
/// breaks a rule; or an `Idempotency-Key` was reused with another body.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:validation_failed", "title": "The request body is not valid", "status": 422,
    "detail": "1 field is not valid", "code": "validation_failed",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "errors": [{"field": "display_name", "message": "must be 1 to 200 characters"}]
}))]
pub struct ValidationFailed(ProblemDetails);

/// The database is unreachable; retry after the `Retry-After` seconds.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:service_unavailable", "title": "The service cannot reach its database",
    "status": 503, "detail": "retry shortly", "code": "service_unavailable",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct Unavailable(ProblemDetails);

/// The practice's request rate is spent (only where the deployment sets one);
/// retry after `Retry-After` seconds. `RateLimit-Policy` and `RateLimit`
/// (IETF httpapi draft) give the quota and what is left, on every answer.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:rate_limited", "title": "Too many requests", "status": 429,
    "detail": "this practice may make 600 requests a minute; retry in 1 s", "code": "rate_limited",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct TooManyRequests(ProblemDetails);

/// The request's body did not arrive within the body timeout.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:request_timeout", "title": "The request did not arrive in time", "status": 408,
    "detail": "send the whole body promptly", "code": "request_timeout",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
pub struct RequestTimeout(ProblemDetails);
