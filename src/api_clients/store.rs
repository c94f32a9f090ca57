//! API client queries, practice first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Scope;
use crate::db::schema::api_clients;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_clients)]
pub struct ApiClientRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_api_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    name: &str,
    scopes: &[Scope],
    secret_hash: &str,
) -> QueryResult<ApiClientRow> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    diesel::insert_into(api_clients::table)
        .values((
            api_clients::id.eq(Uuid::now_v7()),
            api_clients::practice_id.eq(practice.0),
            api_clients::name.eq(name),
            api_clients::secret_hash.eq(secret_hash),
            api_clients::scopes.eq(scopes),
        ))
        .returning(ApiClientRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn list_api_clients(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    page: PageRequest,
) -> QueryResult<Vec<ApiClientRow>> {
    let mut query = api_clients::table
        .filter(api_clients::practice_id.eq(practice.0))
        .select(ApiClientRow::as_select())
        .order(api_clients::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(api_clients::id.gt(after));
    }
    query.load(conn).await
}

/// Replaces the secret of a live client; `None` when there is no such client.
pub async fn rotate_secret(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    secret_hash: &str,
) -> QueryResult<Option<ApiClientRow>> {
    diesel::update(api_clients::table)
        .filter(api_clients::practice_id.eq(practice.0))
        .filter(api_clients::id.eq(id))
        .filter(api_clients::revoked_at.is_null())
        .set((api_clients::secret_hash.eq(secret_hash), api_clients::secret_rotated_at.eq(diesel::dsl::now)))
        .returning(ApiClientRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Revokes a client (idempotently); `false` when there is no such client.
pub async fn revoke(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<bool> {
    let found: Option<Uuid> = api_clients::table
        .filter(api_clients::practice_id.eq(practice.0))
        .filter(api_clients::id.eq(id))
        .select(api_clients::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if found.is_none() {
        return Ok(false);
    }
    diesel::update(api_clients::table)
        .filter(api_clients::practice_id.eq(practice.0))
        .filter(api_clients::id.eq(id))
        .filter(api_clients::revoked_at.is_null())
        .set(api_clients::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(true)
}
