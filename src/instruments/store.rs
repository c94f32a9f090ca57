//! Instrument queries. A practice sees the built-in instruments and its own.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::definition::InstrumentDefinition;
use crate::db::schema::instruments;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = instruments)]
pub struct InstrumentRow {
    pub id: Uuid,
    pub practice_id: Option<Uuid>,
    pub key: String,
    pub version: i32,
    pub title: String,
    pub definition: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn find_instrument(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<InstrumentRow>> {
    instruments::table
        .filter(instruments::id.eq(id))
        .filter(instruments::practice_id.is_null().or(instruments::practice_id.eq(practice.0)))
        .select(InstrumentRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

pub async fn list_instruments(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    key: Option<&str>,
    page: PageRequest,
) -> QueryResult<Vec<InstrumentRow>> {
    let mut query = instruments::table
        .filter(instruments::practice_id.is_null().or(instruments::practice_id.eq(practice.0)))
        .select(InstrumentRow::as_select())
        .order(instruments::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(instruments::id.gt(after));
    }
    if let Some(key) = key {
        query = query.filter(instruments::key.eq(key.to_owned()));
    }
    query.load(conn).await
}

pub enum Registration {
    Registered(InstrumentRow),
    /// The key belongs to a built-in instrument.
    KeyReserved,
}

/// Registers the next version of a practice's instrument. Call inside a
/// transaction: a per-key advisory lock orders concurrent registrations.
pub async fn register_instrument(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    definition: &InstrumentDefinition,
) -> QueryResult<Registration> {
    let builtin: i64 = instruments::table
        .filter(instruments::practice_id.is_null())
        .filter(instruments::key.eq(&definition.key))
        .count()
        .get_result(conn)
        .await?;
    if builtin > 0 {
        return Ok(Registration::KeyReserved);
    }
    crate::db::advisory_xact_lock(conn, &format!("instrument:{practice}:{}", definition.key)).await?;
    let latest: Option<i32> = instruments::table
        .filter(instruments::practice_id.eq(practice.0))
        .filter(instruments::key.eq(&definition.key))
        .select(diesel::dsl::max(instruments::version))
        .first(conn)
        .await?;
    let row = insert(conn, Some(practice.0), definition, latest.unwrap_or(0) + 1).await?;
    Ok(Registration::Registered(row))
}

async fn insert(
    conn: &mut AsyncPgConnection,
    practice_id: Option<Uuid>,
    definition: &InstrumentDefinition,
    version: i32,
) -> QueryResult<InstrumentRow> {
    let json = crate::db::to_jsonb(definition)?;
    diesel::insert_into(instruments::table)
        .values((
            instruments::id.eq(Uuid::now_v7()),
            instruments::practice_id.eq(practice_id),
            instruments::key.eq(&definition.key),
            instruments::version.eq(version),
            instruments::title.eq(&definition.title),
            instruments::definition.eq(json),
        ))
        .returning(InstrumentRow::as_returning())
        .get_result(conn)
        .await
}

/// Makes a built-in definition current: inserts it as the next version when
/// it differs from the latest stored one. Safe on many instances at once.
pub async fn ensure_builtin(conn: &mut AsyncPgConnection, definition: &InstrumentDefinition) -> QueryResult<()> {
    let latest: Option<(i32, serde_json::Value)> = instruments::table
        .filter(instruments::practice_id.is_null())
        .filter(instruments::key.eq(&definition.key))
        .order(instruments::version.desc())
        .select((instruments::version, instruments::definition))
        .first(conn)
        .await
        .optional()?;
    let next = match latest {
        Some((version, stored)) => {
            let unchanged = serde_json::from_value::<InstrumentDefinition>(stored).is_ok_and(|s| &s == definition);
            if unchanged {
                return Ok(());
            }
            version + 1
        }
        None => 1,
    };
    // Another instance may have loaded the same version first.
    crate::db::unless_already_inserted(insert(conn, None, definition, next).await)
}
