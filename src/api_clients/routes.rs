//! `/v1/api-clients`: practice admins manage their integrations' credentials.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use uuid::Uuid;

use super::model::{ApiClient, ApiClientCredentials, ApiClientList, ListApiClientsQuery, NewApiClient};
use super::store;
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::Admin;
use crate::auth::secret;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::state::AppState;

const RESOURCE: &str = "api_client";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_api_clients)
        .service(create_api_client)
        .service(rotate_api_client_secret)
        .service(revoke_api_client);
}

/// A new secret and the digest that is stored of it.
fn new_secret() -> (String, String) {
    let secret = secret::generate();
    let hash = secret::hash(&secret);
    (secret, hash)
}

/// List API clients.
///
/// The practice's integration credentials, revoked ones included, oldest
/// first. Secrets are never listed.
#[utoipa::path(
    operation_id = "list_api_clients",
    tag = "api_clients",
    params(ListApiClientsQuery),
    responses(
        (status = 200, description = "A page of API clients", body = ApiClientList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/api-clients")]
pub async fn list_api_clients(
    auth: Auth<Admin>,
    ValidQuery(query): ValidQuery<ListApiClientsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ApiClientList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_api_clients(&mut conn, auth.practice_id, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(web::Json(ApiClientList { data: rows.into_iter().map(ApiClient::from).collect(), next_cursor }))
}

/// Create an API client.
///
/// New credentials for an integration, with the scopes you choose. The
/// answer holds `client_secret`, shown this once; it is stored hashed.
#[utoipa::path(
    operation_id = "create_api_client",
    tag = "api_clients",
    params(IdempotencyKeyHeader),
    request_body = NewApiClient,
    responses(
        (status = 201, description = "Created, with the secret shown once", body = ApiClientCredentials,
            headers(("Location" = String, description = "The new API client's URL"))),
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
#[post("/api-clients")]
pub async fn create_api_client(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewApiClient>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    let (client_secret, hash) = new_secret();
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let row = store::insert_api_client(conn, practice, &input.name, &input.scopes, &hash).await?;
            entry.resource(row.id);
            audit::record(conn, &entry, StatusCode::CREATED).await?;
            let id = row.id;
            let body = ApiClientCredentials { client: row.into(), client_secret };
            let mut outcome = WriteOutcome::created(body, format!("/v1/api-clients/{id}"), None)?;
            outcome.sensitive = true;
            Ok(outcome)
        })
    })
    .await
}

/// Rotate an API client's secret.
///
/// Issues a new secret (shown this once); the old one stops working at once
/// for token requests. Tokens already issued run out at their expiry.
#[utoipa::path(
    operation_id = "rotate_api_client_secret",
    tag = "api_clients",
    params(
        ("id" = Uuid, Path, description = "The API client's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "The new secret, shown once", body = ApiClientCredentials),
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
#[post("/api-clients/{id}/rotate-secret")]
pub async fn rotate_api_client_secret(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &())?;
    let (client_secret, hash) = new_secret();
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let row = store::rotate_secret(conn, practice, id, &hash).await?.ok_or(ApiError::NotFound(RESOURCE))?;
            audit::record(conn, &entry, StatusCode::OK).await?;
            let mut outcome = WriteOutcome::ok(ApiClientCredentials { client: row.into(), client_secret })?;
            outcome.sensitive = true;
            Ok(outcome)
        })
    })
    .await
}

/// Revoke an API client.
///
/// The client gets no more tokens, and the tokens it holds stop working
/// within seconds on every instance of the service. Revoking twice is harmless.
/// A client cannot revoke itself (409): that would lock the integration out
/// mid-call; revoke it with another admin client.
#[utoipa::path(
    operation_id = "revoke_api_client",
    tag = "api_clients",
    params(("id" = Uuid, Path, description = "The API client's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[delete("/api-clients/{id}")]
pub async fn revoke_api_client(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    if principal.subject == id.to_string() {
        return Err(ApiError::Conflict {
            code: "cannot_revoke_self",
            detail: "an API client cannot revoke itself; revoke it with another admin client".to_owned(),
        });
    }
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !store::revoke(conn, principal.practice_id, id).await? {
                return Err(ApiError::NotFound(RESOURCE));
            }
            audit::record(conn, &entry, StatusCode::NO_CONTENT).await?;
            Ok(())
        })
    })
    .await?;
    state.revocations.forget(id);
    Ok(HttpResponse::NoContent().finish())
}
