//! `/v1/webhook-endpoints`: practice admins register receivers of events,
//! read how deliveries went, and send events again.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use reqwest::Url;
use uuid::Uuid;

use super::model::{
    DeliveryAttempt, DeliveryAttemptList, DeliveryState, DisabledReason, NewWebhookEndpoint, PageQuery, Redelivery,
    RedeliveryQueued, TestDelivery, WebhookEndpoint, WebhookEndpointList, WebhookEndpointPatch,
    WebhookEndpointWithSecret,
};
use super::sender::{self, Message};
use super::signing::SigningSecret;
use super::store::{self, EndpointChange, EndpointRow, NewEndpoint, TestMessage};
use super::{ROTATION_OVERLAP, TEST_EVENT_TYPE, Webhooks};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::Admin;
use crate::db::worker::WorkerConnection;
use crate::events::model::EventType;
use crate::http::etag::{Precondition, etag};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, FieldError, responses};
use crate::state::AppState;

const RESOURCE: &str = "webhook endpoint";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_webhook_endpoints)
        .service(create_webhook_endpoint)
        .service(get_webhook_endpoint)
        .service(update_webhook_endpoint)
        .service(delete_webhook_endpoint)
        .service(rotate_webhook_secret)
        .service(test_webhook_endpoint)
        .service(list_webhook_deliveries)
        .service(redeliver_webhook_events);
}

/// The webhook machinery, or a 503 saying what the operator must set.
fn configured(state: &AppState) -> Result<&Arc<Webhooks>, ApiError> {
    state.webhooks.as_ref().ok_or(ApiError::NotConfigured {
        code: "webhooks_not_configured",
        detail: "the operator has not set ATTUNE_WEBHOOK_KEY, which keeps signing secrets encrypted",
    })
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = ApiError;

    fn try_from(row: EndpointRow) -> Result<Self, ApiError> {
        let corrupt = |what: &str| ApiError::internal(anyhow::anyhow!("unknown {what} in the database"));
        let event_types = row
            .event_types
            .iter()
            .map(|name| EventType::parse(name).ok_or_else(|| corrupt("event type")))
            .collect::<Result<_, _>>()?;
        let disabled_reason = match row.disabled_reason.as_deref() {
            None => None,
            Some("gone") => Some(DisabledReason::Gone),
            Some("failing") => Some(DisabledReason::Failing),
            Some(_) => return Err(corrupt("disabled reason")),
        };
        let rotating = row.previous_secret_expires_at.filter(|until| *until > chrono::Utc::now());
        Ok(WebhookEndpoint {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types,
            enabled: row.enabled,
            disabled_reason,
            disabled_at: row.disabled_at,
            disabled_by_event_id: row.disabled_by_event_id,
            failing_since: row.failing_since,
            previous_secret_expires_at: rotating,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn with_etag(row: EndpointRow) -> Result<HttpResponse, ApiError> {
    let tag = etag(row.version);
    Ok(HttpResponse::Ok().insert_header(header::ETag(tag)).json(WebhookEndpoint::try_from(row)?))
}

/// Checks a receiver URL as a delivery would: its form, then every address
/// its host resolves to now.
async fn checked_url(webhooks: &Webhooks, url: &str) -> Result<(), ApiError> {
    let refuse = |message: String| ApiError::Validation(vec![FieldError::new("url", message)]);
    let parsed = Url::parse(url).map_err(|_| refuse("must be an absolute https URL".to_owned()))?;
    sender::check_host(webhooks.sender.policy(), &parsed).await.map_err(|refusal| refuse(refusal.to_string()))
}

/// Distinct type names, in the order given.
fn type_names(types: &[EventType]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::with_capacity(types.len());
    for name in types.iter().map(|t| t.as_str()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Register a webhook endpoint.
///
/// Events of the chosen types that happen from now on are delivered to
/// `url`, signed by the Standard Webhooks scheme. The answer holds the
/// signing `secret`, shown this once. The URL must be https and must not
/// point at a loopback, private, link-local or other internal address (its
/// host is resolved now and again at each delivery).
#[utoipa::path(
    operation_id = "create_webhook_endpoint",
    tag = "webhooks",
    params(IdempotencyKeyHeader),
    request_body = NewWebhookEndpoint,
    responses(
        (status = 201, description = "Registered, with the secret shown once", body = WebhookEndpointWithSecret,
            headers(
                ("Location" = String, description = "The endpoint's URL"),
                ("ETag" = String, description = "The endpoint's version, for If-Match"),
            )),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let webhooks = configured(&state)?.clone();
    checked_url(&webhooks, &input.url).await?;
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    let id = Uuid::now_v7();
    let secret = SigningSecret::generate();
    let sealed = webhooks.key.seal(id, &secret).map_err(ApiError::internal)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let new = NewEndpoint {
                id,
                url: &input.url,
                description: &input.description,
                event_types: type_names(&input.event_types),
                enabled: input.enabled,
                secret_sealed: sealed,
            };
            let row = store::insert_endpoint(conn, practice, new).await?;
            entry.resource(id);
            audit::record(conn, &entry, StatusCode::CREATED).await?;
            let tag = etag(row.version).to_string();
            let body = WebhookEndpointWithSecret { endpoint: row.try_into()?, secret: secret.reveal() };
            let mut outcome = WriteOutcome::created(body, format!("/v1/webhook-endpoints/{id}"), Some(tag))?;
            outcome.sensitive = true;
            Ok(outcome)
        })
    })
    .await
}

/// List webhook endpoints.
///
/// The practice's endpoints, oldest first. Secrets are never listed.
#[utoipa::path(
    operation_id = "list_webhook_endpoints",
    tag = "webhooks",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = WebhookEndpointList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    auth: Auth<Admin>,
    ValidQuery(query): ValidQuery<PageQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookEndpointList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_endpoints(&mut conn, auth.practice_id, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    let data = rows.into_iter().map(WebhookEndpoint::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(WebhookEndpointList { data, next_cursor }))
}

/// Get a webhook endpoint.
///
/// Shows whether it is enabled and, when the service disabled it, why and
/// which event's delivery did. Answers with an `ETag` for `If-Match`.
#[utoipa::path(
    operation_id = "get_webhook_endpoint",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint,
            headers(("ETag" = String, description = "The endpoint's version, for If-Match"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get_webhook_endpoint(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_endpoint(conn, auth.practice_id, *id).await).await?;
    with_etag(row.ok_or(ApiError::NotFound(RESOURCE))?)
}

/// Change a webhook endpoint.
///
/// A JSON merge patch of `url`, `event_types`, `description` and `enabled`.
/// Setting `enabled` back to `true` after the service disabled the endpoint
/// clears why it did; delivery resumes with the next event (send what
/// happened in between with `redeliver`). Send the `ETag` as `If-Match`.
#[utoipa::path(
    operation_id = "update_webhook_endpoint",
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        IfMatchHeader,
    ),
    request_body(content = WebhookEndpointPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed endpoint", body = WebhookEndpoint,
            headers(("ETag" = String, description = "The endpoint's new version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[patch("/webhook-endpoints/{id}")]
pub async fn update_webhook_endpoint(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    precondition: Precondition,
    state: web::Data<AppState>,
    ValidJson(patch): ValidJson<WebhookEndpointPatch>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    if let Some(url) = &patch.url {
        checked_url(configured(&state)?, url).await?;
    }
    let principal = auth.principal;
    let id = id.into_inner();
    let row = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let types = patch.event_types.as_deref().map(type_names);
            let change = store::update_endpoint(conn, principal.practice_id, id, &patch, types, &precondition).await?;
            let row = match change {
                EndpointChange::Done(row) => *row,
                EndpointChange::NotFound => return Err(ApiError::NotFound(RESOURCE)),
                EndpointChange::Stale => return Err(ApiError::PreconditionFailed),
            };
            audit::record(conn, &entry, StatusCode::OK).await?;
            Ok(row)
        })
    })
    .await?;
    with_etag(row)
}

/// Delete a webhook endpoint.
///
/// Stops delivery at once and forgets the endpoint's deliveries.
#[utoipa::path(
    operation_id = "delete_webhook_endpoint",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_webhook_endpoint(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !store::delete_endpoint(conn, principal.practice_id, id).await? {
                return Err(ApiError::NotFound(RESOURCE));
            }
            audit::record(conn, &entry, StatusCode::NO_CONTENT).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate an endpoint's signing secret.
///
/// Issues a new secret (shown this once). For the next 24 hours every
/// delivery carries two signatures, by the new secret and the old, so the
/// receiver can switch over whenever it likes within that day.
#[utoipa::path(
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "The new secret, shown once", body = WebhookEndpointWithSecret),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let webhooks = configured(&state)?.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &())?;
    let secret = SigningSecret::generate();
    let sealed = webhooks.key.seal(id, &secret).map_err(ApiError::internal)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let until = chrono::Utc::now() + ROTATION_OVERLAP;
            let row =
                store::rotate_secret(conn, practice, id, sealed, until).await?.ok_or(ApiError::NotFound(RESOURCE))?;
            audit::record(conn, &entry, StatusCode::OK).await?;
            let body = WebhookEndpointWithSecret { endpoint: row.try_into()?, secret: secret.reveal() };
            let mut outcome = WriteOutcome::ok(body)?;
            outcome.sensitive = true;
            Ok(outcome)
        })
    })
    .await
}

/// Send a test event.
///
/// Sends one `webhook.test` event to the endpoint now, signed like every
/// delivery, and answers how the receiver responded. It is tried once and
/// shows in the endpoint's deliveries; it is not part of the event feed.
#[utoipa::path(
    operation_id = "test_webhook_endpoint",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "What the receiver answered", body = TestDelivery),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/webhook-endpoints/{id}/test")]
pub async fn test_webhook_endpoint(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<TestDelivery>, ApiError> {
    let webhooks = configured(&state)?.clone();
    let practice = auth.practice_id;
    let id = id.into_inner();
    let row = {
        let conn = state.pool.get().await?;
        store::find_endpoint(&conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?
    };
    let secrets = webhooks
        .key
        .signing_secrets(id, &row.secret_sealed, row.previous_secret_sealed.as_deref(), row.previous_secret_expires_at)
        .map_err(ApiError::internal)?;
    let secrets: Vec<&SigningSecret> = secrets.iter().collect();
    let webhook_id = Uuid::now_v7();
    let body = serde_json::json!({
        "id": webhook_id,
        "type": TEST_EVENT_TYPE,
        "occurred_at": chrono::Utc::now(),
        "data": {"endpoint_id": id},
    })
    .to_string();
    let webhook_id_text = webhook_id.to_string();
    let message = Message { url: &row.url, webhook_id: &webhook_id_text, body: &body, secrets: &secrets };
    let attempt = webhooks.sender.send(&message, chrono::Utc::now().timestamp()).await;
    let delivery_id = Uuid::now_v7();
    let mut conn = state.pool.get().await?;
    let test = TestMessage { delivery_id, webhook_id, body: &body };
    store::record_test_delivery(&mut conn, practice, id, &test, &attempt).await?;
    Ok(web::Json(TestDelivery {
        delivery_id,
        webhook_id,
        delivered: attempt.succeeded(),
        status_code: attempt.status.map(i32::from),
        latency_ms: attempt.latency_ms(),
        error: attempt.error,
    }))
}

/// List delivery attempts.
///
/// Every attempt to the endpoint, newest first: when, the status the
/// receiver answered, how long it took, why it failed, the start of the
/// answer, and when the delivery is tried next.
#[utoipa::path(
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id"), PageQuery),
    responses(
        (status = 200, description = "A page of attempts", body = DeliveryAttemptList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    ValidQuery(query): ValidQuery<PageQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<DeliveryAttemptList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    if store::find_endpoint(&conn, auth.practice_id, id).await?.is_none() {
        return Err(ApiError::NotFound(RESOURCE));
    }
    let rows = store::list_attempts(&mut conn, auth.practice_id, id, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    let data = rows
        .into_iter()
        .map(|row| {
            let delivery_state = DeliveryState::from_db(&row.state)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown delivery state in the database")))?;
            Ok(DeliveryAttempt {
                id: row.id,
                delivery_id: row.delivery_id,
                webhook_id: row.webhook_id,
                event_type: row.event_type,
                attempt: row.attempt,
                attempted_at: row.attempted_at,
                status_code: row.status_code,
                latency_ms: row.latency_ms,
                error: row.error,
                response: row.response,
                delivery_state,
                next_attempt_at: row.next_attempt_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(DeliveryAttemptList { data, next_cursor }))
}

/// Send events again.
///
/// Queues one event (`event_id`, whatever its type) or every event of the
/// endpoint's types since a time (`since`) for delivery, with the event's id
/// as `webhook-id` as before, so a receiver that keeps the ids it has seen
/// stays idempotent. Give exactly one of the two. Events are kept 30 days.
#[utoipa::path(
    operation_id = "redeliver_webhook_events",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = Redelivery,
    responses(
        (status = 202, description = "Queued", body = RedeliveryQueued),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/webhook-endpoints/{id}/redeliver")]
pub async fn redeliver_webhook_events(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<Redelivery>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let exactly_one = "give exactly one of event_id and since";
    match (&input.event_id, &input.since) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::Validation(vec![FieldError::new("event_id", exactly_one)]));
        }
        _ => {}
    }
    let principal = auth.principal;
    let id = id.into_inner();
    let queued = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if store::find_endpoint(conn, principal.practice_id, id).await?.is_none() {
                return Err(ApiError::NotFound(RESOURCE));
            }
            let queued = store::queue_redelivery(conn, principal.practice_id, id, input.event_id, input.since).await?;
            if input.event_id.is_some() && queued == 0 {
                return Err(ApiError::NotFound("event"));
            }
            audit::record(conn, &entry, StatusCode::ACCEPTED).await?;
            Ok(queued)
        })
    })
    .await?;
    Ok(HttpResponse::Accepted().json(RedeliveryQueued { queued }))
}
