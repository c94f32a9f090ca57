//! Client queries. Every function takes the practice first and filters by it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{ClientPatch, ClientStatus, NewClient};
use crate::db::schema::clients;
use crate::http::etag::Precondition;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub display_name: String,
    pub status: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub legal_hold: bool,
    pub discharged_at: Option<DateTime<Utc>>,
    pub erasure_state: Option<String>,
    pub erasure_scheduled_for: Option<DateTime<Utc>>,
    /// Set on a tombstone: the client's record was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

pub struct ClientFilter {
    pub status: Option<ClientStatus>,
    pub external_id: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub include_archived: bool,
}

pub async fn insert_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    new: &NewClient,
) -> QueryResult<ClientRow> {
    diesel::insert_into(clients::table)
        .values((
            clients::practice_id.eq(practice.0),
            clients::id.eq(Uuid::now_v7()),
            clients::external_id.eq(&new.external_id),
            clients::display_name.eq(&new.display_name),
            clients::status.eq(new.status.as_str()),
            clients::discharged_at.eq(discharged_now_if(new.status)),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_client(conn: &AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .select(ClientRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

pub async fn list_clients(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    filter: &ClientFilter,
    page: PageRequest,
) -> QueryResult<Vec<ClientRow>> {
    let mut query = clients::table
        .filter(clients::practice_id.eq(practice.0))
        .select(ClientRow::as_select())
        .order(clients::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(clients::id.gt(after));
    }
    if let Some(status) = filter.status {
        query = query.filter(clients::status.eq(status.as_str()));
    }
    if let Some(external_id) = &filter.external_id {
        query = query.filter(clients::external_id.eq(external_id.clone()));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(clients::updated_at.ge(since));
    }
    if !filter.include_archived {
        query = query.filter(clients::archived_at.is_null());
    }
    // Tombstones are never listed: an erased client is told by its
    // `client.erased` event and answers 410 by id.
    query = query.filter(clients::erased_at.is_null());
    query.load(conn).await
}

/// When a new client with `status` was discharged: now, if it is.
fn discharged_now_if(status: ClientStatus) -> diesel::expression::SqlLiteral<Nullable<Timestamptz>> {
    match status {
        ClientStatus::Discharged => diesel::dsl::sql("now()"),
        ClientStatus::Active => diesel::dsl::sql("NULL"),
    }
}

/// When a client with `status` was discharged: kept while it stays
/// discharged, now when it becomes so, none otherwise (what the retention
/// policy counts from). Worked out here from the locked row rather than as
/// `coalesce(discharged_at, now())`: Citus refuses a function that is not
/// immutable inside a `coalesce` of an update.
fn discharged_at_for(status: ClientStatus, was: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match status {
        ClientStatus::Discharged => was.or_else(|| Some(Utc::now())),
        ClientStatus::Active => None,
    }
}

/// The outcome of a conditional change.
pub enum Change {
    Done(ClientRow),
    /// Nothing to do: the change had already been made (archiving twice).
    AlreadyDone(ClientRow),
    NotFound,
    Stale,
    Archived,
    /// The client was erased; only its tombstone is left.
    Erased(DateTime<Utc>),
}

/// Applies a patch under the precondition. The row is locked first, so of
/// concurrent updates naming one version exactly one wins.
pub async fn update_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    patch: &ClientPatch,
    precondition: &Precondition,
) -> QueryResult<Change> {
    let Some(current) = lock_client(conn, practice, id).await? else {
        return Ok(Change::NotFound);
    };
    if let Some(erased_at) = current.erased_at {
        return Ok(Change::Erased(erased_at));
    }
    if !precondition.allows(current.version) {
        return Ok(Change::Stale);
    }
    // A legal hold is placed on archived clients too: they are the ones a
    // retention policy erases.
    if current.archived_at.is_some() && patch.changes_the_record() {
        return Ok(Change::Archived);
    }
    let status = match patch.status {
        Some(status) => status,
        None => ClientStatus::from_db(&current.status).unwrap_or_default(),
    };
    let external_id = match &patch.external_id {
        Some(value) => value.clone(),
        None => current.external_id,
    };
    let row = diesel::update(clients::table)
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .set((
            clients::external_id.eq(external_id),
            clients::display_name.eq(patch.display_name.as_ref().unwrap_or(&current.display_name)),
            clients::status.eq(status.as_str()),
            clients::discharged_at.eq(discharged_at_for(status, current.discharged_at)),
            clients::legal_hold.eq(patch.legal_hold.unwrap_or(current.legal_hold)),
            clients::version.eq(current.version + 1),
            clients::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Change::Done(row))
}

/// Archives a client; archiving an archived client changes nothing.
pub async fn archive_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    precondition: &Precondition,
) -> QueryResult<Change> {
    let Some(current) = lock_client(conn, practice, id).await? else {
        return Ok(Change::NotFound);
    };
    if let Some(erased_at) = current.erased_at {
        return Ok(Change::Erased(erased_at));
    }
    if !precondition.allows(current.version) {
        return Ok(Change::Stale);
    }
    if current.archived_at.is_some() {
        return Ok(Change::AlreadyDone(current));
    }
    let row = diesel::update(clients::table)
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .set((
            clients::archived_at.eq(diesel::dsl::now),
            clients::version.eq(current.version + 1),
            clients::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(Change::Done(row))
}

/// The client, share-locked until the transaction ends, for a write that
/// adds a record about it: an erasure (which takes the row for update)
/// either waits for that write to commit and then erases what it added, or
/// commits first, and the write then reads the tombstone and refuses.
pub async fn find_client_for_new_record(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .select(ClientRow::as_select())
        .for_key_share()
        .first(conn)
        .await
        .optional()
}

async fn lock_client(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .select(ClientRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}
