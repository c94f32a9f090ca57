//! `/v1/client-links`: issue a link for a client, list, fetch and revoke.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{Duration, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::coverage;
use super::model::{
    ClientLink, ClientLinkList, DEFAULT_LIFETIME_HOURS, IssuedClientLink, LinkSubmission, ListClientLinksQuery,
    NewClientLink, SubmissionKind,
};
use super::store::{self, LinkRow, NewLink, SubmissionRow};
use super::token;
use crate::audit;
use crate::auth::Principal;
use crate::auth::scopes::Scope;
use crate::clients;
use crate::http::etag::{Precondition, etag};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::i18n::Language;
use crate::practices::PracticeId;
use crate::state::AppState;

const RESOURCE: &str = "client link";
/// Managing links needs the write scope of at least one thing a link covers.
const MANAGING: [Scope; 2] = [Scope::AssessmentsWrite, Scope::HomeworkWrite];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_client_link).service(list_client_links).service(get_client_link).service(revoke_client_link);
}

fn submission(row: SubmissionRow) -> LinkSubmission {
    let kind = if row.resource_type == "assessment" { SubmissionKind::Assessment } else { SubmissionKind::HomeworkLog };
    LinkSubmission { kind, resource_id: row.resource_id, item_id: row.item_id, submitted_at: row.submitted_at }
}

fn client_link(row: LinkRow, submissions: Vec<LinkSubmission>) -> ClientLink {
    ClientLink {
        id: row.id,
        client_id: row.client_id,
        state: coverage::state(row.revoked_at, row.finished_at, row.expires_at, Utc::now()),
        language: row.language.as_deref().and_then(Language::parse),
        all_open_assessments: row.all_open_assessments,
        assessment_ids: row.assessment_ids,
        all_active_homework: row.all_active_homework,
        homework_ids: row.homework_ids,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        finished_at: row.finished_at,
        first_opened_at: row.first_opened_at,
        // A submission records its own time rather than touching the link
        // row (a write less in each submission's transaction).
        last_used_at: row.last_used_at.max(submissions.last().map(|s| s.submitted_at)),
        submissions,
    }
}

/// Links with what was submitted through each.
async fn with_submissions(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    rows: Vec<LinkRow>,
) -> Result<Vec<ClientLink>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut by_link: HashMap<Uuid, Vec<LinkSubmission>> = HashMap::new();
    for row in store::submissions(conn, practice, &ids).await? {
        by_link.entry(row.link_id).or_default().push(submission(row));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let own = by_link.remove(&row.id).unwrap_or_default();
            client_link(row, own)
        })
        .collect())
}

/// Checks the shape rules that relate fields of a new link.
fn check_coverage(input: &NewClientLink) -> Result<(), ApiError> {
    if input.all_open_assessments && input.assessment_ids.is_some() {
        return Err(ApiError::validation("all_open_assessments", "cannot be combined with assessment_ids"));
    }
    if input.all_active_homework && input.homework_ids.is_some() {
        return Err(ApiError::validation("all_active_homework", "cannot be combined with homework_ids"));
    }
    let lists = [("assessment_ids", &input.assessment_ids), ("homework_ids", &input.homework_ids)];
    for (field, ids) in lists {
        let ids = ids.as_deref().unwrap_or_default();
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(ApiError::validation(format!("{field}[{i}]"), "names an item a second time"));
            }
        }
    }
    let covers_assessments = input.all_open_assessments || input.assessment_ids.is_some();
    let covers_homework = input.all_active_homework || input.homework_ids.is_some();
    if !covers_assessments && !covers_homework {
        return Err(ApiError::validation("all_open_assessments", "the link must cover assessments or homework"));
    }
    Ok(())
}

/// Issue a link.
///
/// A link for one client to open on any device: a page listing what to do,
/// then one form per assessment and per homework assignment. Covering
/// assessments needs `assessments:write`; covering homework needs
/// `homework:write`. Listed ids must be the client's open assessments and
/// active assignments. The answer holds the link's `url` this once (send it
/// through your own email or SMS); a replay with the same `Idempotency-Key`
/// answers 409 rather than show it again.
#[utoipa::path(
    operation_id = "create_client_link",
    tag = "client_links",
    params(IdempotencyKeyHeader),
    request_body = NewClientLink,
    responses(
        (status = 201, description = "Issued; `url` is shown this once", body = IssuedClientLink,
            headers(("Location" = String, description = "The link's URL in this API"), ("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[post("/client-links")]
pub async fn create_client_link(
    principal: Principal,
    entry: audit::Note,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewClientLink>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&MANAGING)?;
    check_coverage(&input)?;
    if input.all_open_assessments || input.assessment_ids.is_some() {
        principal.require(Scope::AssessmentsWrite)?;
    }
    if input.all_active_homework || input.homework_ids.is_some() {
        principal.require(Scope::HomeworkWrite)?;
    }
    let practice = principal.practice_id;
    let public_url = state.settings.public_url.clone();
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            clients::require_live_client_at(conn, practice, input.client_id, "client_id").await?;
            let assessment_ids = input.assessment_ids.unwrap_or_default();
            let homework_ids = input.homework_ids.unwrap_or_default();
            let open = store::open_assessments(conn, practice, input.client_id).await?;
            if let Some(i) = assessment_ids.iter().position(|id| !open.contains(id)) {
                return Err(ApiError::validation(
                    format!("assessment_ids[{i}]"),
                    "is not an open assessment of this client",
                ));
            }
            let active = store::active_homework(conn, practice, input.client_id).await?;
            if let Some(i) = homework_ids.iter().position(|id| !active.contains(id)) {
                return Err(ApiError::validation(
                    format!("homework_ids[{i}]"),
                    "is not an active assignment of this client",
                ));
            }
            let id = Uuid::now_v7();
            let (token, digest) = token::issue(practice.0, id).map_err(ApiError::internal)?;
            let hours = input.expires_in_hours.unwrap_or(DEFAULT_LIFETIME_HOURS);
            let new = NewLink {
                id,
                client_id: input.client_id,
                token_digest: &digest,
                all_open_assessments: input.all_open_assessments,
                assessment_ids: &assessment_ids,
                all_active_homework: input.all_active_homework,
                homework_ids: &homework_ids,
                language: input.language.map(Language::as_str),
                created_by: &principal.subject,
                expires_at: Utc::now() + Duration::hours(hours),
            };
            let row = store::insert_link(conn, practice, new).await?;
            entry.resource(id);
            entry.concerns(input.client_id);
            audit::record(conn, &entry, StatusCode::CREATED).await?;
            let tag = etag(row.version).to_string();
            let issued =
                IssuedClientLink { link: client_link(row, Vec::new()), url: format!("{public_url}/l/{token}") };
            let mut outcome = WriteOutcome::created(&issued, format!("/v1/client-links/{id}"), Some(tag))?;
            outcome.sensitive = true;
            Ok(outcome)
        })
    })
    .await
}

/// List a client's links.
///
/// Oldest first, a page at a time, each with its state and what was
/// submitted through it. Never their URLs.
#[utoipa::path(
    operation_id = "list_client_links",
    tag = "client_links",
    params(ListClientLinksQuery),
    responses(
        (status = 200, description = "A page of links", body = ClientLinkList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[get("/client-links")]
pub async fn list_client_links(
    principal: Principal,
    entry: audit::Note,
    ValidQuery(query): ValidQuery<ListClientLinksQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ClientLinkList>, ApiError> {
    principal.require_any(&MANAGING)?;
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_links(&mut conn, principal.practice_id, query.client_id, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    entry.found(rows.len());
    let data = with_submissions(&mut conn, principal.practice_id, rows).await?;
    Ok(web::Json(ClientLinkList { data, next_cursor }))
}

/// Fetch a link.
///
/// Its state (`active`, `expired`, `revoked`, `finished`), when it was first
/// opened and last used, and what was submitted through it. Another
/// practice's link answers 404.
#[utoipa::path(
    operation_id = "get_client_link",
    tag = "client_links",
    params(("id" = Uuid, Path, description = "The link's id")),
    responses(
        (status = 200, description = "The link", body = ClientLink,
            headers(("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[get("/client-links/{id}")]
pub async fn get_client_link(
    principal: Principal,
    entry: audit::Note,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&MANAGING)?;
    let practice = principal.practice_id;
    let mut conn = state.pool.get().await?;
    let row = store::find_link(&conn, practice, *id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    entry.concerns(row.client_id);
    let tag = etag(row.version);
    let mut links = with_submissions(&mut conn, practice, vec![row]).await?;
    let link = links.pop().ok_or_else(|| ApiError::internal(anyhow::anyhow!("a fetched link vanished")))?;
    Ok(HttpResponse::Ok().insert_header(actix_web::http::header::ETag(tag)).json(link))
}

/// Revoke a link.
///
/// The link stops working at once, on every instance; what was submitted
/// through it stays. Revoking twice is harmless. With `If-Match`, only the
/// version you read is revoked (412 otherwise).
#[utoipa::path(
    operation_id = "revoke_client_link",
    tag = "client_links",
    params(("id" = Uuid, Path, description = "The link's id"), IfMatchHeader),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 412, response = responses::PreconditionFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[delete("/client-links/{id}")]
pub async fn revoke_client_link(
    principal: Principal,
    entry: audit::Note,
    precondition: Precondition,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    principal.require_any(&MANAGING)?;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let practice = principal.practice_id;
            let row = store::lock_link(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
            if !precondition.allows(row.version) {
                return Err(ApiError::PreconditionFailed);
            }
            if row.revoked_at.is_none() {
                store::revoke_link(conn, practice, id).await?;
            }
            entry.concerns(row.client_id);
            audit::record(conn, &entry, StatusCode::NO_CONTENT).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
