//! `/v1/clients`: create, list, fetch, change and archive clients.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use uuid::Uuid;

use super::model::{Client, ClientList, ClientPatch, ListClientsQuery, NewClient};
use super::store::{self, Change, ClientFilter};
use crate::audit;
use crate::auth::scopes::{ClientsRead, ClientsWrite};
use crate::auth::{Auth, Principal, Scope};
use crate::db::worker::WorkerConnection;
use crate::events::{EventData, EventType, Outbox};
use crate::http::etag::{Precondition, etag};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::state::AppState;

const RESOURCE: &str = "client";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_client).service(list_clients).service(get_client).service(update_client).service(archive_client);
}

fn external_id_conflict(err: diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::Conflict {
            code: "external_id_taken",
            detail: "another client of your practice has this external_id".to_owned(),
        },
        other => other.into(),
    }
}

fn with_etag(row: store::ClientRow) -> Result<HttpResponse, ApiError> {
    let tag = etag(row.version);
    Ok(HttpResponse::Ok().insert_header(header::ETag(tag)).json(Client::try_from(row)?))
}

fn change_into_result(change: Change) -> Result<store::ClientRow, ApiError> {
    match change {
        Change::Done(row) | Change::AlreadyDone(row) => Ok(row),
        Change::NotFound => Err(ApiError::NotFound(RESOURCE)),
        Change::Stale => Err(ApiError::PreconditionFailed),
        Change::Archived => Err(ApiError::Conflict {
            code: "client_archived",
            detail: "an archived client cannot be changed".to_owned(),
        }),
        Change::Erased(erased_at) => Err(super::erased(erased_at)),
    }
}

/// What a patch needs: `admin` for the legal hold, `clients:write` for the
/// rest (and for an empty patch, which changes only the version).
fn require_scopes_for(principal: &Principal, patch: &ClientPatch) -> Result<(), ApiError> {
    if patch.changes_the_record() || patch.legal_hold.is_none() {
        principal.require(Scope::ClientsWrite)?;
    }
    if patch.legal_hold.is_some() {
        principal.require(Scope::Admin)?;
    }
    Ok(())
}

/// Create a client.
///
/// Registers a person the practice treats. `external_id` is your own id for
/// them (unique among the practice's live clients; a duplicate answers 409).
/// Send an `Idempotency-Key` so a retry after a timeout creates nothing twice.
#[utoipa::path(
    operation_id = "create_client",
    tag = "clients",
    params(IdempotencyKeyHeader),
    request_body = NewClient,
    responses(
        (status = 201, description = "Created; `Location` names the new client", body = Client,
            headers(("Location" = String, description = "The new client's URL"), ("ETag" = String, description = "The client's version"))),
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
#[post("/clients")]
pub async fn create_client(
    auth: Auth<ClientsWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewClient>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let row = store::insert_client(conn, practice, &input).await.map_err(external_id_conflict)?;
            let data = EventData::client(row.id, &row.status);
            let events = Outbox::with(practice, EventType::ClientCreated, &data)?;
            entry.resource(row.id);
            entry.concerns(row.id);
            audit::record_with(conn, &entry, StatusCode::CREATED, events).await?;
            let tag = etag(row.version).to_string();
            let client = Client::try_from(row)?;
            WriteOutcome::created(&client, format!("/v1/clients/{}", client.id), Some(tag))
        })
    })
    .await
}

/// List clients.
///
/// Oldest first, a page at a time: pass `next_cursor` back as `cursor` until
/// it is `null`. Archived clients are left out unless `include_archived=true`;
/// erased clients always are (their `client.erased` event tells of them).
#[utoipa::path(
    operation_id = "list_clients",
    tag = "clients",
    params(ListClientsQuery),
    responses(
        (status = 200, description = "A page of clients", body = ClientList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:read"]), ("bearer" = []))
)]
#[get("/clients")]
pub async fn list_clients(
    auth: Auth<ClientsRead>,
    ValidQuery(query): ValidQuery<ListClientsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ClientList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let filter = ClientFilter {
        status: query.status,
        external_id: query.external_id,
        updated_since: query.updated_since,
        include_archived: query.include_archived.unwrap_or(false),
    };
    let mut conn = state.pool.get().await?;
    let rows = store::list_clients(&mut conn, auth.practice_id, &filter, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    let data = rows.into_iter().map(Client::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(ClientList { data, next_cursor }))
}

/// Fetch a client.
///
/// Answers with an `ETag`; send it back as `If-Match` when you change the
/// client. Another practice's client answers 404; an erased client 410.
#[utoipa::path(
    operation_id = "get_client",
    tag = "clients",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = Client,
            headers(("ETag" = String, description = "The client's version, for If-Match"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = responses::Gone),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:read"]), ("bearer" = []))
)]
#[get("/clients/{id}")]
pub async fn get_client(
    auth: Auth<ClientsRead>,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_client(conn, auth.practice_id, *id).await).await?;
    with_etag(super::found(row)?)
}

/// Change a client.
///
/// A JSON merge patch: members you leave out keep their value;
/// `"external_id": null` clears it. Send the `ETag` you read as `If-Match`;
/// if the client changed since, the answer is 412 and nothing changes.
///
/// `legal_hold` places or lifts a legal hold and needs the scope `admin`
/// (a token without it that sends `legal_hold` answers 403); the other
/// members need `clients:write`. While held, an erasure request answers 409
/// and a scheduled erasure waits. An archived client takes a legal hold but
/// no other change (409); an erased client answers 410.
#[utoipa::path(
    operation_id = "update_client",
    tag = "clients",
    params(
        ("id" = Uuid, Path, description = "The client's id"),
        IfMatchHeader,
    ),
    request_body(content = ClientPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed client", body = Client,
            headers(("ETag" = String, description = "The client's new version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 410, response = responses::Gone),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:write"]), ("oauth2" = ["admin"]), ("bearer" = []))
)]
#[patch("/clients/{id}")]
pub async fn update_client(
    principal: Principal,
    entry: audit::Note,
    id: web::Path<Uuid>,
    precondition: Precondition,
    state: web::Data<AppState>,
    ValidJson(patch): ValidJson<ClientPatch>,
) -> Result<HttpResponse, ApiError> {
    require_scopes_for(&principal, &patch)?;
    let id = id.into_inner();
    let row = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let change = store::update_client(conn, principal.practice_id, id, &patch, &precondition)
                .await
                .map_err(external_id_conflict)?;
            let row = change_into_result(change)?;
            if let Some(hold) = patch.legal_hold {
                // Who placed or lifted a hold is a compliance question: say so in the entry.
                entry.detail("legal_hold", serde_json::Value::Bool(hold));
            }
            let data = EventData::client(id, &row.status);
            let events = Outbox::with(principal.practice_id, EventType::ClientUpdated, &data)?;
            audit::record_with(conn, &entry, StatusCode::OK, events).await?;
            Ok(row)
        })
    })
    .await?;
    with_etag(row)
}

/// Archive a client.
///
/// The client and its history stay readable by id, leave lists (unless
/// `include_archived=true`) and free their `external_id`. Archiving twice is
/// harmless. `If-Match` is honoured when sent. An erased client answers 410.
#[utoipa::path(
    operation_id = "archive_client",
    tag = "clients",
    params(
        ("id" = Uuid, Path, description = "The client's id"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Archived"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = responses::Gone),
        (status = 412, response = responses::PreconditionFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:write"]), ("bearer" = []))
)]
#[delete("/clients/{id}")]
pub async fn archive_client(
    auth: Auth<ClientsWrite>,
    id: web::Path<Uuid>,
    precondition: Precondition,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let change = store::archive_client(conn, principal.practice_id, id, &precondition).await?;
            let first_time = matches!(change, Change::Done(_));
            let row = change_into_result(change)?;
            let mut events = Outbox::new(principal.practice_id);
            if first_time {
                events.push(EventType::ClientArchived, &EventData::client(id, &row.status))?;
            }
            audit::record_with(conn, &entry, StatusCode::NO_CONTENT, events).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
