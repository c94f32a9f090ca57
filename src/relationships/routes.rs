//! `/v1/relationships`: link clients, list, fetch, unlink, and the profile.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::Utc;
use uuid::Uuid;

use super::model::{
    ListRelationshipsQuery, MemberLean, MemberProfile, NewRelationship, Pattern, Relationship, RelationshipList,
    RelationshipProfile,
};
use super::patterns::{self, MemberLabels};
use super::store::{self, RelationshipRow};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::{ClientsRead, ClientsWrite, ProgressRead};
use crate::clients;
use crate::events::{EventData, EventType, Outbox};
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::instruments::scoring::ScoreResult;
use crate::progress;
use crate::recommendations;
use crate::state::AppState;

const RESOURCE: &str = "relationship";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_relationship)
        .service(list_relationships)
        .service(get_relationship)
        .service(delete_relationship)
        .service(get_relationship_profile);
}

fn relationship(row: RelationshipRow, client_ids: Vec<Uuid>) -> Relationship {
    Relationship { id: row.id, kind: row.kind, client_ids, created_at: row.created_at }
}

/// Link clients.
///
/// Links two to ten distinct live clients of your practice, e.g. the two
/// partners of a `couple`. Send an `Idempotency-Key` so a retry after a
/// timeout links nothing twice.
#[utoipa::path(
    operation_id = "create_relationship",
    tag = "relationships",
    params(IdempotencyKeyHeader),
    request_body = NewRelationship,
    responses(
        (status = 201, description = "Created; `Location` names the new relationship", body = Relationship,
            headers(("Location" = String, description = "The new relationship's URL"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:write"]), ("bearer" = []))
)]
#[post("/relationships")]
pub async fn create_relationship(
    auth: Auth<ClientsWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewRelationship>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    for (i, id) in input.client_ids.iter().enumerate() {
        if input.client_ids[..i].contains(id) {
            return Err(ApiError::validation(format!("client_ids[{i}]"), "names a client a second time"));
        }
    }
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            for (i, id) in input.client_ids.iter().enumerate() {
                clients::require_live_client_at(conn, practice, *id, &format!("client_ids[{i}]")).await?;
            }
            let row = store::insert_relationship(conn, practice, &input.kind, &input.client_ids).await?;
            let mut client_ids = input.client_ids;
            client_ids.sort_unstable();
            let data = EventData {
                relationship_id: Some(row.id),
                client_ids: Some(client_ids.clone()),
                ..EventData::default()
            };
            let events = Outbox::with(practice, EventType::RelationshipCreated, &data)?;
            // One entry names the relationship; the audit filter for a
            // client finds it through the membership (see audit::store).
            entry.resource(row.id);
            audit::record_with(conn, &entry, StatusCode::CREATED, events).await?;
            let created = relationship(row, client_ids);
            WriteOutcome::created(&created, format!("/v1/relationships/{}", created.id), None)
        })
    })
    .await
}

/// List relationships.
///
/// Oldest first, a page at a time; `client_id` keeps those the client is a
/// member of.
#[utoipa::path(
    operation_id = "list_relationships",
    tag = "relationships",
    params(ListRelationshipsQuery),
    responses(
        (status = 200, description = "A page of relationships", body = RelationshipList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:read"]), ("bearer" = []))
)]
#[get("/relationships")]
pub async fn list_relationships(
    auth: Auth<ClientsRead>,
    ValidQuery(query): ValidQuery<ListRelationshipsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<RelationshipList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_relationships(&mut conn, auth.practice_id, query.client_id, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut members = store::members(&mut conn, auth.practice_id, &ids).await?;
    let data = rows
        .into_iter()
        .map(|row| {
            let client_ids = members.remove(&row.id).unwrap_or_default();
            relationship(row, client_ids)
        })
        .collect();
    Ok(web::Json(RelationshipList { data, next_cursor }))
}

async fn find(
    conn: &mut diesel_async::AsyncPgConnection,
    practice: crate::practices::PracticeId,
    id: Uuid,
) -> Result<Relationship, ApiError> {
    let row = store::find_relationship(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    let client_ids = store::members(conn, practice, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(relationship(row, client_ids))
}

/// Fetch a relationship.
///
/// Its kind and member client ids. Another practice's relationship answers 404.
#[utoipa::path(
    operation_id = "get_relationship",
    tag = "relationships",
    params(("id" = Uuid, Path, description = "The relationship's id")),
    responses(
        (status = 200, description = "The relationship", body = Relationship),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:read"]), ("bearer" = []))
)]
#[get("/relationships/{id}")]
pub async fn get_relationship(
    auth: Auth<ClientsRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<Relationship>, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(web::Json(find(&mut conn, auth.practice_id, id.into_inner()).await?))
}

/// Unlink clients.
///
/// Deletes the relationship; the clients and their records stay.
#[utoipa::path(
    operation_id = "delete_relationship",
    tag = "relationships",
    params(("id" = Uuid, Path, description = "The relationship's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:write"]), ("bearer" = []))
)]
#[delete("/relationships/{id}")]
pub async fn delete_relationship(
    auth: Auth<ClientsWrite>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !store::delete_relationship(conn, principal.practice_id, id).await? {
                return Err(ApiError::NotFound(RESOURCE));
            }
            audit::record(conn, &entry, StatusCode::NO_CONTENT).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The members' profile side by side.
///
/// Each member's latest completed result per instrument (scores, label and
/// the explanation behind it) and homework adherence to date, and the
/// patterns the leans form between members: `pursue_withdraw` (one leans
/// anxious or dependent, the other avoidant or independent; the pursuer is
/// named first), `both_leaning_independent`, `both_leaning_dependent`.
#[utoipa::path(
    operation_id = "get_relationship_profile",
    tag = "relationships",
    params(("id" = Uuid, Path, description = "The relationship's id")),
    responses(
        (status = 200, description = "The profile", body = RelationshipProfile),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["progress:read"]), ("bearer" = []))
)]
#[get("/relationships/{id}/profile")]
pub async fn get_relationship_profile(
    auth: Auth<ProgressRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<RelationshipProfile>, ApiError> {
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    let found = find(&mut conn, practice, id.into_inner()).await?;
    let now = Utc::now();
    let mut members = Vec::with_capacity(found.client_ids.len());
    for client_id in &found.client_ids {
        let client = clients::store::find_client(&conn, practice, *client_id)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a relationship member is missing")))?;
        let mut leans = Vec::new();
        for latest in recommendations::store::latest_results(&mut conn, practice, *client_id).await? {
            let result: ScoreResult = serde_json::from_value(latest.result).map_err(ApiError::internal)?;
            let (label, explanation) = result.classification.map(|c| (c.label, c.explanation)).unzip();
            leans.push(MemberLean {
                instrument_key: latest.instrument_key,
                assessment_id: latest.assessment_id,
                completed_at: latest.completed_at,
                label,
                explanation,
                scores: result.subscales,
            });
        }
        let adherence = progress::overall_adherence(&conn, practice, *client_id, now).await?;
        members.push(MemberProfile { client_id: *client_id, display_name: client.display_name, leans, adherence });
    }
    let labels: Vec<MemberLabels<'_>> = members
        .iter()
        .map(|m| MemberLabels {
            client_id: m.client_id,
            labels: m.leans.iter().filter_map(|lean| lean.label.as_deref()).collect(),
        })
        .collect();
    let patterns = patterns::find(&labels)
        .into_iter()
        .map(|p| Pattern { kind: p.kind, client_ids: p.client_ids.to_vec(), explanation: p.explanation })
        .collect();
    Ok(web::Json(RelationshipProfile { relationship_id: found.id, kind: found.kind, members, patterns }))
}
