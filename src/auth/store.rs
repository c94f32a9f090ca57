//! Queries behind token issuance and checking.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::api_clients;
use crate::practices::PracticeId;

/// What the token endpoint needs of an API client. Looked up by id alone: the
/// caller's practice is what the client proves.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_clients)]
pub struct ClientCredentials {
    pub id: Uuid,
    pub practice_id: Uuid,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn find_credentials(conn: &mut AsyncPgConnection, client_id: Uuid) -> QueryResult<Option<ClientCredentials>> {
    api_clients::table.find(client_id).select(ClientCredentials::as_select()).first(conn).await.optional()
}

pub async fn client_is_active(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<bool> {
    let found: Option<Uuid> = api_clients::table
        .filter(api_clients::practice_id.eq(practice.0))
        .filter(api_clients::id.eq(client_id))
        .filter(api_clients::revoked_at.is_null())
        .select(api_clients::id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Replaces a client's secret hash, if it is still `old` (another instance
/// may have replaced it first, or the secret been rotated meanwhile).
pub async fn replace_secret_hash(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    old: &str,
    new: &str,
) -> QueryResult<usize> {
    diesel::update(api_clients::table.find(client_id).filter(api_clients::secret_hash.eq(old)))
        .set(api_clients::secret_hash.eq(new))
        .execute(conn)
        .await
}
