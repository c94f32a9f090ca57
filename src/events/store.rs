//! The outbox table and the feed's reads. Every function takes the practice
//! first; appends run inside the caller's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{Event, EventData, EventType};
use crate::db::schema::events;
use crate::http::ApiError;
use crate::practices::PracticeId;

/// Days an event stays in the feed: the 30 promised, and a margin.
pub const RETENTION_DAYS: i64 = 35;

/// Writes one event in the caller's transaction, numbered next in the
/// practice's sequence. One statement: the counter's row lock, held until the
/// transaction ends, orders the practice's writers, so numbers follow commit
/// order and a rollback takes its number back with it. Call it last in the
/// transaction, so that the lock is held only for the commit.
pub async fn append(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    event_type: EventType,
    data: &EventData,
) -> QueryResult<()> {
    insert(conn, practice, event_type, data, None).await
}

/// `append` for an event a periodic check raises once: `dedupe_key` names
/// what it is about, and a second event with the same key is refused.
pub async fn append_once(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    event_type: EventType,
    data: &EventData,
    dedupe_key: &str,
) -> QueryResult<()> {
    insert(conn, practice, event_type, data, Some(dedupe_key)).await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    event_type: EventType,
    data: &EventData,
    dedupe_key: Option<&str>,
) -> QueryResult<()> {
    let data = crate::db::to_jsonb(data)?;
    diesel::sql_query(
        "WITH next AS ( \
             INSERT INTO event_sequences (practice_id, last_sequence) VALUES ($1, 1) \
             ON CONFLICT (practice_id) DO UPDATE SET last_sequence = event_sequences.last_sequence + 1 \
             RETURNING last_sequence) \
         INSERT INTO events (practice_id, sequence, id, type, data, dedupe_key) \
         SELECT $1, last_sequence, $2, $3, $4, $5 FROM next",
    )
    .bind::<SqlUuid, _>(practice.0)
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(event_type.as_str())
    .bind::<Jsonb, _>(data)
    .bind::<Nullable<Text>, _>(dedupe_key)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
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
