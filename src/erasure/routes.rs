//! `/v1/clients/{id}/erasure` (request, read, cancel an erasure),
//! `/v1/retention-policy` and `/v1/retention/preview`. Scope `admin` throughout.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use super::model::{
    Erasure, ErasureState, NewErasure, RetentionCandidate, RetentionPolicy, RetentionPolicyUpdate, RetentionPreview,
    RetentionPreviewQuery,
};
use super::policy::{self, DEFAULT_GRACE_DAYS, Refusal};
use super::store::{self, ErasureRow, PolicyChange, PolicyRow, Schedule};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::Admin;
use crate::clients::model::ClientStatus;
use crate::events::{EventData, EventType, Outbox};
use crate::http::etag::{Precondition, etag};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::state::AppState;

const CLIENT: &str = "client";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(request_client_erasure)
        .service(get_client_erasure)
        .service(cancel_client_erasure)
        .service(get_retention_policy)
        .service(set_retention_policy)
        .service(preview_retention);
}

/// The erasure request as the API shows it; 404 when none was ever made.
fn erasure_of(row: &ErasureRow, now: DateTime<Utc>) -> Result<Erasure, ApiError> {
    let missing = || ApiError::internal(anyhow::anyhow!("an erasure request lacks a column the schema requires"));
    let state = row.state().ok_or(ApiError::NotFound("erasure request for a client"))?;
    Ok(Erasure {
        client_id: row.id,
        state,
        waiting_on: policy::waiting_on(&row.facts(), now),
        reason: row.erasure_reason.clone().ok_or_else(missing)?,
        requested_at: row.erasure_requested_at.ok_or_else(missing)?,
        requested_by: row.erasure_requested_by.clone().ok_or_else(missing)?,
        requested_by_actor: row.erasure_requested_by_actor.clone(),
        scheduled_for: row.erasure_scheduled_for.ok_or_else(missing)?,
        cancelled_at: row.erasure_cancelled_at,
        completed_at: row.erased_at,
        legal_hold: row.legal_hold,
    })
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Completed => erasure_completed(),
        Refusal::LegalHold => ApiError::Conflict {
            code: "legal_hold",
            detail: "the client is on legal hold: an admin lifts it (PATCH the client with \"legal_hold\": false) \
                     before an erasure can be requested"
                .to_owned(),
        },
        Refusal::AlreadyScheduled(at) => ApiError::Conflict {
            code: "erasure_scheduled",
            detail: format!(
                "an erasure of this client is already scheduled for {}; cancel it (DELETE) to request another",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        },
    }
}

fn erasure_completed() -> ApiError {
    ApiError::Conflict { code: "erasure_completed", detail: "the client's record has already been erased".to_owned() }
}

/// Subjects and actors come from tokens (an external issuer's may be long):
/// the record keeps the first 255 characters.
fn bounded(text: &str) -> String {
    text.chars().take(255).collect()
}

/// Request erasure of a client's record.
///
/// Schedules the erasure of everything the service holds about the client
/// (assessments and answers, scores, drafts, homework with its logs and
/// reflections, links, relationship memberships, stored answers echoing the
/// client, event payloads) for `grace_period_days` from now (0 to 30,
/// default 7), and answers 202 with the request's state; `Location` names
/// it. Until it runs, `DELETE` cancels it. A job that runs at least once a
/// minute executes it when due, in one transaction: the client becomes a
/// tombstone (no name, no external id) whose routes answer 410, the audit
/// trail keeps its entries (ids only) and records the erasure, and a
/// `client.erased` event follows.
///
/// 409 with `legal_hold` while the client is on legal hold,
/// `erasure_scheduled` while another erasure is scheduled (naming when),
/// `erasure_completed` once erased. An archived client can be erased.
/// Send an `Idempotency-Key` so a retry replays the first answer.
#[utoipa::path(
    operation_id = "request_client_erasure",
    tag = "erasure",
    params(("id" = Uuid, Path, description = "The client's id"), IdempotencyKeyHeader),
    request_body = NewErasure,
    responses(
        (status = 202, description = "Scheduled; `Location` names the erasure request", body = Erasure,
            headers(("Location" = String, description = "The erasure request's URL"),
                    ("ETag" = String, description = "The client's version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/clients/{id}/erasure")]
pub async fn request_client_erasure(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewErasure>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let client_id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let row = store::lock_erasure(conn, practice, client_id).await?.ok_or(ApiError::NotFound(CLIENT))?;
            policy::may_request(&row.facts()).map_err(refused)?;
            let now = Utc::now();
            let requested_by = bounded(&principal.subject);
            let actor = principal.actor.as_deref().map(bounded);
            let request = Schedule {
                reason: &input.reason,
                requested_by: &requested_by,
                requested_by_actor: actor.as_deref(),
                requested_at: now,
                scheduled_for: policy::scheduled_for(now, input.grace_days()),
            };
            let row = store::schedule(conn, practice, client_id, &request).await?;
            // The client's representation now shows `erasure_scheduled_for`.
            let events = Outbox::with(practice, EventType::ClientUpdated, &EventData::client(client_id, &row.status))?;
            audit::record_with(conn, &entry, StatusCode::ACCEPTED, events).await?;
            let erasure = erasure_of(&row, now)?;
            Ok(WriteOutcome {
                status: 202,
                body: serde_json::to_value(&erasure).map_err(ApiError::internal)?,
                location: Some(format!("/v1/clients/{client_id}/erasure")),
                etag: Some(etag(row.version).to_string()),
                sensitive: false,
                content_location: None,
            })
        })
    })
    .await
}

/// Read a client's erasure request.
///
/// The latest request and where it stands: `scheduled` (with what it is
/// `waiting_on`: the grace period, a legal hold, or the job's next run),
/// `cancelled`, or `completed` (this stays readable after the erasure,
/// when the client's other routes answer 410). 404 when no erasure was
/// ever requested. The `ETag` is the client's version, for `If-Match` on
/// `DELETE`.
#[utoipa::path(
    operation_id = "get_client_erasure",
    tag = "erasure",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The erasure request", body = Erasure,
            headers(("ETag" = String, description = "The client's version, for If-Match"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/clients/{id}/erasure")]
pub async fn get_client_erasure(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let row = store::find_erasure(&mut conn, auth.practice_id, *id).await?.ok_or(ApiError::NotFound(CLIENT))?;
    let erasure = erasure_of(&row, Utc::now())?;
    Ok(HttpResponse::Ok().insert_header(header::ETag(etag(row.version))).json(erasure))
}

/// Cancel a client's erasure.
///
/// Cancels a scheduled erasure that has not run yet: during its grace
/// period, or later while a legal hold or the job's next run keeps it
/// waiting. Cancelling a cancelled one is harmless (204); once the erasure
/// has run, 409 `erasure_completed`. `If-Match` is honoured when sent (the
/// `ETag` of `GET`), so you cancel the request you read. An erasure the
/// retention policy scheduled, once cancelled, is not scheduled again until
/// the client is next discharged or archived.
#[utoipa::path(
    operation_id = "cancel_client_erasure",
    tag = "erasure",
    params(("id" = Uuid, Path, description = "The client's id"), IfMatchHeader),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[delete("/clients/{id}/erasure")]
pub async fn cancel_client_erasure(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    precondition: Precondition,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let client_id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let row = store::lock_erasure(conn, practice, client_id).await?.ok_or(ApiError::NotFound(CLIENT))?;
            let state = row.state().ok_or(ApiError::NotFound("erasure request for a client"))?;
            if !precondition.allows(row.version) {
                return Err(ApiError::PreconditionFailed);
            }
            match state {
                ErasureState::Completed => Err(erasure_completed()),
                ErasureState::Cancelled => Ok(()),
                ErasureState::Scheduled => {
                    let row = store::cancel(conn, practice, client_id).await?;
                    let data = EventData::client(client_id, &row.status);
                    let events = Outbox::with(practice, EventType::ClientUpdated, &data)?;
                    audit::record_with(conn, &entry, StatusCode::NO_CONTENT, events).await?;
                    Ok(())
                }
            }
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn policy_of(row: Option<&PolicyRow>) -> RetentionPolicy {
    RetentionPolicy {
        erase_after_days: row.and_then(|r| r.erase_after_days),
        grace_period_days: DEFAULT_GRACE_DAYS,
        updated_at: row.filter(|r| r.version > 0).map(|r| r.updated_at),
    }
}

fn policy_response(row: Option<&PolicyRow>) -> HttpResponse {
    let version = row.map_or(0, |r| r.version);
    HttpResponse::Ok().insert_header(header::ETag(etag(version))).json(policy_of(row))
}

/// Read the retention policy.
///
/// Off (`erase_after_days: null`) until an admin sets it. The `ETag` is for
/// `If-Match` on `PUT` (`"v0"` before the policy was ever set).
#[utoipa::path(
    operation_id = "get_retention_policy",
    tag = "erasure",
    responses(
        (status = 200, description = "The practice's retention policy", body = RetentionPolicy,
            headers(("ETag" = String, description = "The policy's version, for If-Match"))),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/retention-policy")]
pub async fn get_retention_policy(auth: Auth<Admin>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let row = store::find_policy(&mut conn, auth.practice_id).await?;
    Ok(policy_response(row.as_ref()))
}

/// Set the retention policy.
///
/// Retention periods come from law (often years after the last visit), so
/// they are the practice's to set: with `erase_after_days` (365 to 36500),
/// the erasure job schedules, on each run, the erasure of every client
/// discharged or archived more than that many days ago (counted from the
/// earlier of the two) who is not on legal hold and has no erasure
/// scheduled, with the usual grace period of 7 days, during which it can be
/// cancelled or the client put on hold; one that falls due for a client
/// back in care (neither discharged nor archived any more) is cancelled,
/// not run. `null` turns the policy off (the default); erasures it already
/// scheduled stay scheduled. See
/// `GET /v1/retention/preview` for whom a period would reach.
#[utoipa::path(
    operation_id = "set_retention_policy",
    tag = "erasure",
    params(IfMatchHeader),
    request_body = RetentionPolicyUpdate,
    responses(
        (status = 200, description = "The policy now in force", body = RetentionPolicy,
            headers(("ETag" = String, description = "The policy's new version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[put("/retention-policy")]
pub async fn set_retention_policy(
    auth: Auth<Admin>,
    precondition: Precondition,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<RetentionPolicyUpdate>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let row = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let practice = principal.practice_id;
            match store::put_policy(conn, practice, input.erase_after_days, &precondition).await? {
                PolicyChange::Stale => Err(ApiError::PreconditionFailed),
                PolicyChange::Done(row) => {
                    entry.resource(practice.0);
                    audit::record(conn, &entry, StatusCode::OK).await?;
                    Ok(row)
                }
            }
        })
    })
    .await?;
    Ok(policy_response(Some(&row)))
}

/// Preview the retention policy.
///
/// The clients the next run of the retention policy would schedule for
/// erasure, without scheduling anything: discharged or archived more than
/// `erase_after_days` days ago (the stored policy's, or the one given here
/// to try a period before setting it), not on legal hold, with no erasure
/// scheduled and none cancelled since. Oldest client first, a page at a
/// time. With the policy off and no period given, the list is empty.
#[utoipa::path(
    operation_id = "preview_retention",
    tag = "erasure",
    params(RetentionPreviewQuery),
    responses(
        (status = 200, description = "Whom the next run would schedule for erasure", body = RetentionPreview),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/retention/preview")]
pub async fn preview_retention(
    auth: Auth<Admin>,
    ValidQuery(query): ValidQuery<RetentionPreviewQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<RetentionPreview>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let days = match query.erase_after_days {
        Some(days) => Some(days),
        None => store::find_policy(&mut conn, auth.practice_id).await?.and_then(|p| p.erase_after_days),
    };
    let Some(days) = days else {
        return Ok(web::Json(RetentionPreview { erase_after_days: None, data: Vec::new(), next_cursor: None }));
    };
    let cutoff = policy::retention_cutoff(Utc::now(), days);
    let rows = store::retention_preview(&mut conn, auth.practice_id, cutoff, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    let data = rows
        .into_iter()
        .map(|row| {
            let (since, basis) = row
                .basis()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a retention candidate without a basis")))?;
            let status = ClientStatus::from_db(&row.status)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown client status in the database")))?;
            Ok(RetentionCandidate {
                client_id: row.id,
                status,
                archived_at: row.archived_at,
                basis,
                since,
                eligible_since: policy::retention_ends(since, days),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(web::Json(RetentionPreview { erase_after_days: Some(days), data, next_cursor }))
}
