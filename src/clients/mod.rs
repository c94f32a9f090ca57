pub mod fhir;
pub mod model;
pub mod routes;
pub mod store;

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
pub async fn require_live_client_at(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    field: &str,
) -> Result<(), ApiError> {
    match store::find_client(conn, practice, id).await? {
        None => Err(ApiError::validation(field, "no client with this id in your practice")),
        Some(client) if client.archived_at.is_some() => Err(ApiError::validation(field, "the client is archived")),
        Some(_) => Ok(()),
    }
}
