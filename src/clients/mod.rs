pub mod fhir;
pub mod model;
pub mod routes;
pub mod store;

use chrono::{DateTime, SecondsFormat, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::http::ApiError;
use crate::practices::PracticeId;

/// Checks that a request body's `client_id` names a live client of the
/// practice: 422 naming the field otherwise (the same answer for another
/// practice's client as for none).
pub async fn require_live_client(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> Result<(), ApiError> {
    require_live_client_at(conn, practice, id, "client_id").await
}

/// `require_live_client` for a client id found at `field` of the body.
///
/// An erased client is refused like an archived one (422 naming the field,
/// not 410): the request is about a new record, and the body names a client
/// that can take none. The row stays share-locked until the caller's
/// transaction ends, so no record slips in beside a running erasure (see
/// [`store::find_client_for_new_record`]).
pub async fn require_live_client_at(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    field: &str,
) -> Result<(), ApiError> {
    match store::find_client_for_new_record(conn, practice, id).await? {
        None => Err(ApiError::validation(field, "no client with this id in your practice")),
        Some(client) if client.erased_at.is_some() => Err(ApiError::validation(field, "the client was erased")),
        Some(client) if client.archived_at.is_some() => Err(ApiError::validation(field, "the client is archived")),
        Some(_) => Ok(()),
    }
}

/// What every route of an erased client answers: 410 Gone.
pub fn erased(erased_at: DateTime<Utc>) -> ApiError {
    ApiError::Gone {
        code: "client_erased",
        detail: format!(
            "the client's record was erased on {}; GET /v1/clients/{{id}}/erasure tells why",
            erased_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    }
}

/// The client's row, or the answer for a missing (404) or erased (410) one.
pub fn found(row: Option<store::ClientRow>) -> Result<store::ClientRow, ApiError> {
    let row = row.ok_or(ApiError::NotFound("client"))?;
    match row.erased_at {
        Some(erased_at) => Err(erased(erased_at)),
        None => Ok(row),
    }
}
