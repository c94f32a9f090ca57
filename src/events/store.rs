//! The outbox table and the feed's reads. Every function takes the practice
//! first; appends run inside the caller's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Outbox;
use super::model::{Event, EventData, EventType};
use crate::db::schema::events;
use crate::http::ApiError;
use crate::practices::PracticeId;

/// Days an event stays in the feed: the 30 promised, and a margin.
pub const RETENTION_DAYS: i64 = 35;

/// Writes `outbox`'s events on their own, in the caller's transaction: for
/// a change that records no audit entry to carry them
/// ([`crate::audit::record_with`]).
pub async fn write(conn: &mut AsyncPgConnection, outbox: &Outbox) -> QueryResult<()> {
    if outbox.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = (outbox.ids.iter().zip(&outbox.types).zip(&outbox.data))
        .map(|((id, event_type), data)| {
            (
                events::practice_id.eq(outbox.practice().0),
                events::id.eq(*id),
                events::event_type.eq(*event_type),
                events::data.eq(data),
            )
        })
        .collect();
    diesel::insert_into(events::table).values(rows).execute(conn).await?;
    Ok(())
}

/// Writes an event a periodic check raises once, in the caller's
/// transaction: `dedupe_key` names what it is about, and a second event
/// with the same key is refused.
pub async fn append_once(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    event_type: EventType,
    data: &EventData,
    dedupe_key: &str,
) -> QueryResult<()> {
    let data = crate::db::to_jsonb(data)?;
    diesel::insert_into(events::table)
        .values((
            events::practice_id.eq(practice.0),
            events::id.eq(Uuid::now_v7()),
            events::event_type.eq(event_type.as_str()),
            events::data.eq(data),
            events::dedupe_key.eq(dedupe_key),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

diesel::define_sql_function! {
    /// Numbers up to `limit` of the practice's committed, unnumbered events
    /// (the migration's `events_sequence`); answers how many.
    fn events_sequence(practice: SqlUuid, limit: Int4) -> Int4;
}

/// Events one numbering statement takes at most.
const SEQUENCE_BATCH: i32 = 5000;

/// Numbers the practice's committed events that have no number yet, in the
/// order they were written, after its last number: what a reader of the
/// feed (or the dispatcher) does first, so that it sees every event written
/// until now. Each statement holds the practice's counter only while it runs.
pub async fn sequence(conn: &AsyncPgConnection, practice: PracticeId) -> QueryResult<u64> {
    let mut numbered = 0;
    loop {
        let round: i32 = diesel::select(events_sequence(practice.0, SEQUENCE_BATCH)).get_result(&mut { conn }).await?;
        numbered += u64::try_from(round).unwrap_or(0);
        if round < SEQUENCE_BATCH {
            return Ok(numbered);
        }
    }
}

/// [`sequence`] for every practice with unnumbered events (the dispatcher,
/// before it fans out: background work, across practices).
pub async fn sequence_all(conn: &mut AsyncPgConnection) -> QueryResult<u64> {
    // Which practices have some: a look-up across practices, in a
    // transaction that says so (see db::across_practices); each practice is
    // then numbered on its own shard.
    let practices: Vec<Uuid> = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            crate::db::across_practices(conn).await?;
            events::table.filter(events::sequence.is_null()).select(events::practice_id).distinct().load(conn).await
        })
        .await?;
    let mut numbered = 0;
    for practice in practices {
        numbered += sequence(conn, PracticeId(practice)).await?;
    }
    Ok(numbered)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    #[diesel(select_expression = events::sequence.assume_not_null())]
    pub sequence: i64,
    pub id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl TryFrom<EventRow> for Event {
    type Error = ApiError;

    fn try_from(row: EventRow) -> Result<Self, ApiError> {
        let event_type = EventType::parse(&row.event_type)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown event type in the database")))?;
        let data: EventData = serde_json::from_value(row.data).map_err(ApiError::internal)?;
        Ok(Event { id: row.id, event_type, sequence: row.sequence, occurred_at: row.occurred_at, data })
    }
}

/// Up to `limit` events after `after`, oldest first, of the given types
/// (all when `types` is empty).
pub async fn list(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    after: i64,
    types: &[&str],
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::practice_id.eq(practice.0))
        .filter(events::sequence.gt(after))
        .select(EventRow::as_select())
        .order(events::sequence.asc())
        .limit(limit)
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    query.load(conn).await
}

/// Deletes events older than the retention period (every practice: a
/// background purge, not a request).
pub async fn purge_older_than(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(events::table.filter(events::occurred_at.lt(cutoff))).execute(conn).await
}
