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
    match store::find_client(conn, practice, id).await? {
        None => Err(ApiError::validation("client_id", "no client with this id in your practice")),
        Some(client) if client.archived_at.is_some() => {
            Err(ApiError::validation("client_id", "the client is archived"))
        }
        Some(_) => Ok(()),
    }
}
