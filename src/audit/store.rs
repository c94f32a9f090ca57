//! The trail's queries, practice first. Entries are appended to the
//! practice's hash chain by one statement (`APPEND`), which holds the chain
//! head's row lock until its transaction ends; the verifier recomputes the
//! chain with the same SQL function (`audit_link`, in the migration), so the
//! hash is defined in one place.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::note::Entry;
use crate::db::schema::{audit_events, relationship_members};
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

/// Appends a batch of one practice's entries, numbered on from the chain's
/// head, each hash linking the one before. The head's row lock orders
/// appenders; a practice without a head row appends nothing (the caller
/// makes the row and tries again).
const APPEND: &str = "\
WITH RECURSIVE
head AS (
    SELECT last_seq, last_hash FROM audit_chain_heads WHERE practice_id = $1 FOR UPDATE
),
batch AS (
    SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::uuid[], $10::uuid[], $11::int4[], $12::text[], $13::text[], $14::jsonb[], $15::int4[])
        WITH ORDINALITY AS b(id, occurred_at, api_client, actor, action, operation, resource_type, resource_id,
                             client_id, outcome, request_id, source, query, result_count, n)
),
chain AS (
    SELECT 0::bigint AS n, last_seq AS seq, last_hash AS hash FROM head
    UNION ALL
    SELECT b.n, c.seq + 1,
           audit_link(c.hash, $1, c.seq + 1, b.id, b.occurred_at, b.api_client, b.actor, b.action, b.operation,
                      b.resource_type, b.resource_id, b.client_id, b.outcome, b.request_id, b.source, b.query,
                      b.result_count)
      FROM chain c JOIN batch b ON b.n = c.n + 1
),
inserted AS (
    INSERT INTO audit_events (practice_id, seq, id, occurred_at, api_client, actor, action, operation, resource_type,
                              resource_id, client_id, outcome, request_id, source, query, result_count, hash)
    SELECT $1, c.seq, b.id, b.occurred_at, b.api_client, b.actor, b.action, b.operation, b.resource_type,
           b.resource_id, b.client_id, b.outcome, b.request_id, b.source, b.query, b.result_count, c.hash
      FROM batch b JOIN chain c ON c.n = b.n
    RETURNING seq, hash
),
moved AS (
    UPDATE audit_chain_heads
       SET (last_seq, last_hash) = (SELECT seq, hash FROM inserted ORDER BY seq DESC LIMIT 1)
     WHERE practice_id = $1 AND EXISTS (SELECT 1 FROM inserted)
    RETURNING 1
)
SELECT count(*) AS appended FROM inserted";

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

#[derive(QueryableByName)]
struct Appended {
    #[diesel(sql_type = BigInt)]
    appended: i64,
}

/// Appends `entries` (all of `practice`) to the practice's chain, in order.
/// Run it last in a write's transaction (the head stays locked until the
/// transaction ends) or on its own.
pub async fn append(conn: &AsyncPgConnection, practice: PracticeId, entries: &[&Entry]) -> QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let appended = append_once(conn, practice, entries).await?;
    if appended == entries.len() {
        return Ok(());
    }
    // A practice made before the trail had heads, or by hand: give it one.
    diesel::sql_query(
        "INSERT INTO audit_chain_heads (practice_id, last_seq, last_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (practice_id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(practice.0)
    .bind::<Bytea, _>(GENESIS.as_slice())
    .execute(&mut { conn })
    .await?;
    match append_once(conn, practice, entries).await? {
        n if n == entries.len() => Ok(()),
        _ => Err(diesel::result::Error::QueryBuilderError("the audit chain's head is missing".into())),
    }
}

async fn append_once(conn: &AsyncPgConnection, practice: PracticeId, entries: &[&Entry]) -> QueryResult<usize> {
    let row: Appended = diesel::sql_query(APPEND)
        .bind::<SqlUuid, _>(practice.0)
        .bind::<Array<SqlUuid>, _>(entries.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(entries.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(entries.iter().map(|e| e.api_client.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(entries.iter().map(|e| e.actor.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(entries.iter().map(|e| e.operation).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(entries.iter().map(|e| e.resource_type).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(entries.iter().map(|e| e.resource_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<SqlUuid>>, _>(entries.iter().map(|e| e.client_id).collect::<Vec<_>>())
        .bind::<Array<Int4>, _>(entries.iter().map(|e| i32::from(e.outcome)).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(entries.iter().map(|e| e.request_id.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(entries.iter().map(|e| e.source.as_deref()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Jsonb>>, _>(entries.iter().map(|e| e.query.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Int4>>, _>(entries.iter().map(|e| e.result_count).collect::<Vec<_>>())
        .get_result(&mut { conn })
        .await?;
    Ok(usize::try_from(row.appended).unwrap_or(0))
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct EntryRow {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub api_client: String,
    pub actor: Option<String>,
    pub action: String,
    pub operation: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub outcome: i32,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub query: Option<serde_json::Value>,
    pub result_count: Option<i32>,
    pub hash: Vec<u8>,
}

/// What a listing of the trail may be narrowed by.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub client_id: Option<Uuid>,
    pub actor: Option<String>,
    pub api_client_id: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    /// `Some(true)`: 2xx and 3xx answers only; `Some(false)`: the rest.
    pub succeeded: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the practice's entries, newest first; the cursor is the last
/// entry's number.
pub async fn list(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    filter: &Filter,
    before_seq: Option<i64>,
    page: PageRequest,
) -> QueryResult<Vec<EntryRow>> {
    let mut query = audit_events::table
        .filter(audit_events::practice_id.eq(practice.0))
        .select(EntryRow::as_select())
        .order(audit_events::seq.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = before_seq {
        query = query.filter(audit_events::seq.lt(before));
    }
    if let Some(client_id) = filter.client_id {
        // A relationship's entries name the relationship, not each partner:
        // they belong to the client through the membership.
        let memberships = relationship_members::table
            .filter(relationship_members::practice_id.eq(practice.0))
            .filter(relationship_members::client_id.eq(client_id))
            .select(relationship_members::relationship_id.nullable());
        query = query.filter(
            audit_events::client_id
                .eq(client_id)
                .or(audit_events::resource_type.eq("relationship").and(audit_events::resource_id.eq_any(memberships))),
        );
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_events::actor.eq(actor.clone()));
    }
    if let Some(api_client) = &filter.api_client_id {
        query = query.filter(audit_events::api_client.eq(api_client.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(resource_type) = &filter.resource_type {
        query = query.filter(audit_events::resource_type.eq(resource_type.clone()));
    }
    match filter.succeeded {
        Some(true) => query = query.filter(audit_events::outcome.lt(400)),
        Some(false) => query = query.filter(audit_events::outcome.ge(400)),
        None => {}
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    query.load(&mut { conn }).await
}

pub async fn find(conn: &AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<EntryRow>> {
    audit_events::table
        .filter(audit_events::practice_id.eq(practice.0))
        .filter(audit_events::id.eq(id))
        .select(EntryRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

/// Every entry about one client, oldest first (for the client's record).
pub async fn about_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<EntryRow>> {
    audit_events::table
        .filter(audit_events::practice_id.eq(practice.0))
        .filter(audit_events::client_id.eq(client_id))
        .order(audit_events::seq.asc())
        .select(EntryRow::as_select())
        .load(conn)
        .await
}

/// The walk of a practice's chain.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Verification {
    /// Entries whose links were checked.
    #[diesel(sql_type = BigInt)]
    pub checked: i64,
    /// The first entry whose link is broken, and why.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub broken_seq: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub broken_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub broken_reason: Option<String>,
}

/// Walks the practice's chain from its start (or the last retention purge's
/// anchor) to the head, recomputing every link: an edited entry no longer
/// hashes to what it says, a removed one leaves a gap, and entries cut from
/// the end leave the head pointing past the last one.
const VERIFY: &str = "\
WITH anchor AS (
    SELECT coalesce((SELECT purged_through_seq FROM audit_purges WHERE practice_id = $1
                      ORDER BY purged_through_seq DESC LIMIT 1), 0) AS seq,
           coalesce((SELECT anchor_hash FROM audit_purges WHERE practice_id = $1
                      ORDER BY purged_through_seq DESC LIMIT 1), $2) AS hash
),
walked AS (
    SELECT e.seq, e.id, e.hash,
           coalesce(lag(e.seq) OVER w, (SELECT seq FROM anchor)) AS previous_seq,
           audit_link(coalesce(lag(e.hash) OVER w, (SELECT hash FROM anchor)), e.practice_id, e.seq, e.id,
                      e.occurred_at, e.api_client, e.actor, e.action, e.operation, e.resource_type, e.resource_id,
                      e.client_id, e.outcome, e.request_id, e.source, e.query, e.result_count) AS expected
      FROM audit_events e
     WHERE e.practice_id = $1
    WINDOW w AS (ORDER BY e.seq)
),
first_broken AS (
    SELECT seq, id,
           CASE WHEN seq <> previous_seq + 1 THEN 'entries before this one are missing'
                ELSE 'this entry, or the one before it, was changed' END AS reason
      FROM walked
     WHERE seq <> previous_seq + 1 OR hash <> expected
     ORDER BY seq LIMIT 1
),
last AS (
    SELECT seq, hash FROM audit_events WHERE practice_id = $1 ORDER BY seq DESC LIMIT 1
),
cut AS (
    SELECT h.last_seq AS seq FROM audit_chain_heads h
     WHERE h.practice_id = $1
       AND (h.last_seq <> coalesce((SELECT seq FROM last), (SELECT seq FROM anchor))
            OR h.last_hash <> coalesce((SELECT hash FROM last), (SELECT hash FROM anchor)))
)
SELECT (SELECT count(*) FROM walked) AS checked,
       coalesce((SELECT seq FROM first_broken), (SELECT seq FROM cut)) AS broken_seq,
       (SELECT id FROM first_broken) AS broken_id,
       coalesce((SELECT reason FROM first_broken),
                (SELECT 'entries after the last one were removed' FROM cut)) AS broken_reason";

pub async fn verify(conn: &AsyncPgConnection, practice: PracticeId) -> QueryResult<Verification> {
    diesel::sql_query(VERIFY)
        .bind::<SqlUuid, _>(practice.0)
        .bind::<Bytea, _>(GENESIS.as_slice())
        .get_result(&mut { conn })
        .await
}
