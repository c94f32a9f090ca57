//! `/v1/audit-events`: a practice reads its own trail, as JSON or as FHIR
//! `AuditEvent`s, and checks that nobody edited it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use uuid::Uuid;

use super::model::{AuditEvent, AuditEventList, BrokenLink, ChainVerification, ListAuditEventsQuery, OutcomeClass};
use super::{fhir, store};
use crate::auth::Auth;
use crate::auth::scopes::AuditRead;
use crate::db::worker::WorkerConnection;
use crate::fhir::{FHIR_JSON, FhirResource};
use crate::http::json::ValidQuery;
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::state::AppState;

const RESOURCE: &str = "audit event";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // `verify` before `{id}`, so the word is not read as an id.
    cfg.service(verify_audit_events).service(list_audit_events).service(get_audit_event);
}

/// Whether the caller asked for FHIR.
fn wants_fhir(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with(FHIR_JSON)))
}

/// Read the audit trail.
///
/// Every access to the practice's client data and every credential change,
/// newest first: who (`api_client_id`, and the clinician as `actor`), what
/// (`action`, `operation`, the resource and the client it concerns), when,
/// from where, and how it ended (`outcome`, the HTTP status). Refused
/// requests are here too, so probing shows. Searches record their filters
/// and how many they found, never what. With `Accept: application/fhir+json`
/// the page is a FHIR R4 `Bundle` (`searchset`) of `AuditEvent`s shaped after
/// IHE BALP. Reading the trail is itself recorded.
#[utoipa::path(
    operation_id = "list_audit_events",
    tag = "audit",
    params(ListAuditEventsQuery),
    responses(
        (status = 200, description = "A page of entries, newest first", content(
            (AuditEventList = "application/json"),
            (FhirResource = "application/fhir+json"),
        )),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["audit:read"]), ("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    auth: Auth<AuditRead>,
    req: HttpRequest,
    ValidQuery(query): ValidQuery<ListAuditEventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let practice = auth.practice_id;
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to < from
    {
        return Err(ApiError::bad_request("invalid_query", "to", "must not be before from"));
    }
    let filter = store::Filter {
        client_id: query.client_id,
        actor: query.actor.clone(),
        api_client_id: query.api_client_id.clone(),
        action: query.action.map(|action| action.as_str().to_owned()),
        resource_type: query.resource_type.clone(),
        succeeded: query.outcome.map(|outcome| outcome == OutcomeClass::Success),
        from: query.from,
        to: query.to,
    };
    // Long walks through a big trail stay off the worker's point-read connection.
    let conn = state.pool.get().await?;
    let rows = store::list(&conn, practice, &filter, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.fields.id);
    auth.audit.found(rows.len());
    let data: Vec<AuditEvent> = rows.into_iter().map(AuditEvent::try_from).collect::<Result<_, _>>()?;
    if wants_fhir(&req) {
        return Ok(crate::fhir::respond(fhir::bundle(&data)));
    }
    Ok(HttpResponse::Ok().json(AuditEventList { data, next_cursor }))
}

/// Read one audit entry.
///
/// As JSON, or with `Accept: application/fhir+json` as a FHIR R4 `AuditEvent`.
#[utoipa::path(
    operation_id = "get_audit_event",
    tag = "audit",
    params(("id" = Uuid, Path, description = "The entry's id")),
    responses(
        (status = 200, description = "The entry", content(
            (AuditEvent = "application/json"),
            (FhirResource = "application/fhir+json"),
        )),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["audit:read"]), ("bearer" = []))
)]
#[get("/audit-events/{id}")]
pub async fn get_audit_event(
    auth: Auth<AuditRead>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find(conn, auth.practice_id, *id).await).await?;
    let event = AuditEvent::try_from(row.ok_or(ApiError::NotFound(RESOURCE))?)?;
    if let Some(client) = event.client_id {
        auth.audit.concerns(client);
    }
    if wants_fhir(&req) {
        return Ok(crate::fhir::respond(fhir::audit_event(&event)));
    }
    Ok(HttpResponse::Ok().json(event))
}

/// Check the audit trail for tampering.
///
/// Links every entry written so far into the practice's hash chain, then
/// walks the chain from its start (or from where a retention purge cut it)
/// to its head, recomputing every entry's SHA-256 link. `ok: true` with the
/// number checked, or `ok: false` with the first entry whose link is
/// broken (changed or removed behind the service's back), and a count of
/// entries that are in no chain at all (slipped in). Entries are linked
/// within seconds of being written; the walk reads the whole trail, so run
/// it as an administrator's check, not on every request.
#[utoipa::path(
    operation_id = "verify_audit_events",
    tag = "audit",
    responses(
        (status = 200, description = "The walk's result", body = ChainVerification),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["audit:read"]), ("bearer" = []))
)]
#[get("/audit-events/verify")]
pub async fn verify_audit_events(
    auth: Auth<AuditRead>,
    state: web::Data<AppState>,
) -> Result<web::Json<ChainVerification>, ApiError> {
    let practice = auth.practice_id;
    let walk = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            // Everything written until now is linked first, so the walk
            // covers it.
            store::seal(conn, practice, uuid::Uuid::nil()).await?;
            Ok(store::verify(conn, practice).await?)
        })
    })
    .await?;
    let first_broken = walk.broken_seq.map(|sequence| BrokenLink {
        sequence,
        id: walk.broken_id,
        reason: walk.broken_reason.unwrap_or_default(),
    });
    let ok = first_broken.is_none() && walk.outside_chain == 0;
    Ok(web::Json(ChainVerification { ok, checked: walk.checked, outside_chain: walk.outside_chain, first_broken }))
}
