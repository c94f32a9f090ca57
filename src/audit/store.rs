//! The trail's queries, practice first.
//!
//! Writing an entry takes no lock: it is inserted with the request and
//! queued for sealing ([`append`]). The sealer ([`seal`], a job on one
//! instance at a time, and the verifier before it walks) links the queued
//! entries into the practice's chain in order under the chain head's lock.
//! What a link hashes is defined by one SQL function (`audit_content`, in
//! the migrations), which the verifier's `audit_link` calls; the sealer
//! prints the same bytes from the entry's columns ([`super::content`], held
//! to the function by a test) and folds the hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bytea, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::note::Entry;
use crate::db::schema::{audit_chain, audit_events, audit_unsealed_batches, relationship_members};
use crate::events::Outbox;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

diesel::define_sql_function! {
    /// Writes a batch of one practice's entries and queues them for sealing
    /// (the migration's `audit_append`): one prepared call, both or neither.
    #[allow(clippy::too_many_arguments)]
    fn audit_append(
        practice: SqlUuid,
        ids: Array<SqlUuid>,
        occurred_at: Array<Timestamptz>,
        api_client: Array<Text>,
        actor: Array<Nullable<Text>>,
        action: Array<Text>,
        operation: Array<Text>,
        resource_type: Array<Text>,
        resource_id: Array<Nullable<SqlUuid>>,
        client_id: Array<Nullable<SqlUuid>>,
        outcome: Array<Int4>,
        request_id: Array<Nullable<Text>>,
        source: Array<Nullable<Text>>,
        query: Array<Nullable<Jsonb>>,
        result_count: Array<Nullable<Int4>>
    ) -> Int4;
}

/// Appends `entries` (all of `practice`) to the trail, queued for sealing.
pub async fn append(conn: &AsyncPgConnection, practice: PracticeId, entries: &[&Entry]) -> QueryResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let written: i32 = diesel::select(audit_append(
        practice.0,
        entries.iter().map(|e| e.id).collect::<Vec<_>>(),
        entries.iter().map(|e| e.occurred_at).collect::<Vec<_>>(),
        entries.iter().map(|e| e.api_client.clone()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.actor.clone()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.operation).collect::<Vec<_>>(),
        entries.iter().map(|e| e.resource_type).collect::<Vec<_>>(),
        entries.iter().map(|e| e.resource_id).collect::<Vec<_>>(),
        entries.iter().map(|e| e.client_id).collect::<Vec<_>>(),
        entries.iter().map(|e| i32::from(e.outcome)).collect::<Vec<_>>(),
        entries.iter().map(|e| e.request_id.clone()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.source.clone()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.query.clone()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.result_count).collect::<Vec<_>>(),
    ))
    .get_result(&mut { conn })
    .await?;
    debug_assert_eq!(usize::try_from(written).ok(), Some(entries.len()));
    Ok(())
}

diesel::define_sql_function! {
    /// Writes a write's one entry, queued for sealing, and the events the
    /// write publishes (the migration's `audit_record`); answers how many
    /// events.
    #[allow(clippy::too_many_arguments)]
    fn audit_record(
        practice: SqlUuid,
        id: SqlUuid,
        occurred_at: Timestamptz,
        api_client: Text,
        actor: Nullable<Text>,
        action: Text,
        operation: Text,
        resource_type: Text,
        resource_id: Nullable<SqlUuid>,
        client_id: Nullable<SqlUuid>,
        outcome: Int4,
        request_id: Nullable<Text>,
        source: Nullable<Text>,
        query: Nullable<Jsonb>,
        result_count: Nullable<Int4>,
        event_ids: Array<SqlUuid>,
        event_types: Array<Text>,
        event_data: Array<Jsonb>
    ) -> Int4;
}

/// Records a write's `entry` with the events it publishes, in one statement
/// (the write's transaction is the caller's).
pub async fn record(conn: &mut AsyncPgConnection, entry: &Entry, events: &Outbox) -> QueryResult<()> {
    let written: i32 = diesel::select(audit_record(
        entry.practice_id.0,
        entry.id,
        entry.occurred_at,
        &entry.api_client,
        entry.actor.as_deref(),
        entry.action.as_str(),
        entry.operation,
        entry.resource_type,
        entry.resource_id,
        entry.client_id,
        i32::from(entry.outcome),
        entry.request_id.as_deref(),
        entry.source.as_deref(),
        entry.query.as_ref(),
        entry.result_count,
        &events.ids,
        &events.types,
        &events.data,
    ))
    .get_result(conn)
    .await?;
    debug_assert_eq!(usize::try_from(written).ok(), Some(events.ids.len()));
    Ok(())
}

/// The hash a chain starts from.
const GENESIS: [u8; 32] = [0; 32];

/// Queued batches one sealing round takes at most (the rest wait a round);
/// a batch is one group commit's entries of a practice.
const SEAL_BATCHES: i64 = 200;

#[derive(QueryableByName)]
struct Head {
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
    #[diesel(sql_type = Bytea)]
    last_hash: Vec<u8>,
}

#[derive(QueryableByName)]
struct Batch {
    #[diesel(sql_type = SqlUuid)]
    batch_id: Uuid,
    #[diesel(sql_type = Array<SqlUuid>)]
    entry_ids: Vec<Uuid>,
}

/// A queued entry with the columns its link hashes.
#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    api_client: String,
    #[diesel(sql_type = Nullable<Text>)]
    actor: Option<String>,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    operation: String,
    #[diesel(sql_type = Text)]
    resource_type: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    resource_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    client_id: Option<Uuid>,
    #[diesel(sql_type = Int4)]
    outcome: i32,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    source: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    query_text: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    result_count: Option<i32>,
}

impl Pending {
    /// The bytes its link hashes as link `seq`: what the migration's
    /// `audit_content`, which the verifier's `audit_link` hashes, returns.
    fn content(&self, practice: PracticeId, seq: i64) -> Vec<u8> {
        super::content::content(&super::content::Columns {
            seq,
            practice_id: practice.0,
            id: self.id,
            occurred_at_micros: self.occurred_at.timestamp_micros(),
            api_client: &self.api_client,
            actor: self.actor.as_deref(),
            action: &self.action,
            operation: &self.operation,
            resource_type: &self.resource_type,
            resource_id: self.resource_id,
            client_id: self.client_id,
            outcome: self.outcome,
            request_id: self.request_id.as_deref(),
            source: self.source.as_deref(),
            query_text: self.query_text.as_deref(),
            result_count: self.result_count,
        })
    }
}

/// A round's entries in chain order, with the columns their links hash (the
/// `query` as jsonb prints it), each looked up by its primary key. The plan
/// must not depend on the practice's statistics: a practice whose trail
/// grows faster than they are refreshed looks small to the planner, which
/// then scanned all of its entries, once a round, to pick out the queued
/// ones (a second a round at a million entries, while the queue grew). A
/// lookup per queued id (its `LIMIT 1` keeps the planner from folding it
/// into a join) leaves it no such choice.
const PENDING: &str = "\
SELECT e.id, e.occurred_at, e.api_client, e.actor, e.action, e.operation, e.resource_type, e.resource_id,
       e.client_id, e.outcome, e.request_id, e.source, e.query::text AS query_text, e.result_count
  FROM unnest($2::uuid[]) AS queued(id)
 CROSS JOIN LATERAL (SELECT * FROM audit_events a WHERE a.practice_id = $1 AND a.id = queued.id LIMIT 1) e
 ORDER BY e.occurred_at, e.id";

/// Plans the sealer's statements without the practice's statistics, for the
/// same reason (the release of a round's batches otherwise scanned all the
/// practice's queued batches, 200,000 under load, for the 200 it deletes).
const GENERIC_PLANS: &str = generic_plans_unless_citus!(true);

/// The chain's new links, the queue's release and the head's move, in one
/// statement.
const LINK: &str = "\
WITH linked AS (
    INSERT INTO audit_chain (practice_id, seq, entry_id, hash)
    SELECT $1, l.seq, l.entry_id, l.hash FROM unnest($2::bigint[], $3::uuid[], $4::bytea[]) AS l(seq, entry_id, hash)
), released AS (
    DELETE FROM audit_unsealed_batches WHERE practice_id = $1 AND batch_id = ANY ($5)
)
UPDATE audit_chain_heads SET last_seq = $6, last_hash = $7 WHERE practice_id = $1";

/// The hash of the link after `previous` for an entry whose serialised
/// content is `content`: what the migration's `audit_link` computes.
fn link_hash(previous: &[u8], content: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(content);
    hasher.finalize().to_vec()
}

/// Seals the practice's queued entries whose batches' ids are after `from`
/// (all of them from [`Uuid::nil`]), round by round; returns how many. Run
/// it in a transaction: the chain head is locked until it ends,
/// so two sealers of one practice take turns.
pub async fn seal(conn: &mut AsyncPgConnection, practice: PracticeId, from: Uuid) -> QueryResult<u64> {
    diesel::sql_query(GENERIC_PLANS).execute(conn).await?;
    diesel::sql_query(
        "INSERT INTO audit_chain_heads (practice_id, last_seq, last_hash) VALUES ($1, 0, $2) \
         ON CONFLICT (practice_id) DO NOTHING",
    )
    .bind::<SqlUuid, _>(practice.0)
    .bind::<Bytea, _>(GENESIS.as_slice())
    .execute(conn)
    .await?;
    let head: Head =
        diesel::sql_query("SELECT last_seq, last_hash FROM audit_chain_heads WHERE practice_id = $1 FOR UPDATE")
            .bind::<SqlUuid, _>(practice.0)
            .get_result(conn)
            .await?;
    let (mut seq, mut hash) = (head.last_seq, head.last_hash);
    let mut sealed = 0;
    // Each round starts after the last batch it took. The batches a round
    // released are deleted only by this transaction, so they stay in the
    // index until it ends, and a scan from the start would walk all of them
    // again every round. A batch that commits behind the cursor is sealed
    // by the next tick that starts before it (a full one, at the latest).
    let mut after = from;
    loop {
        let round: Vec<Batch> = diesel::sql_query(
            "SELECT batch_id, entry_ids FROM audit_unsealed_batches WHERE practice_id = $1 AND batch_id > $2 \
             ORDER BY batch_id LIMIT $3",
        )
        .bind::<SqlUuid, _>(practice.0)
        .bind::<SqlUuid, _>(after)
        .bind::<BigInt, _>(SEAL_BATCHES)
        .load::<Batch>(conn)
        .await?;
        let Some(last) = round.last() else { return Ok(sealed) };
        after = last.batch_id;
        let queued: Vec<Uuid> = round.iter().flat_map(|b| b.entry_ids.iter().copied()).collect();
        let batches: Vec<Uuid> = round.into_iter().map(|b| b.batch_id).collect();
        let pending: Vec<Pending> = diesel::sql_query(PENDING)
            .bind::<SqlUuid, _>(practice.0)
            .bind::<Array<SqlUuid>, _>(&queued)
            .load(conn)
            .await?;
        if pending.len() != queued.len() {
            // Entries cannot be deleted (a trigger refuses it) and are queued
            // in the statement that writes them, so this is a change made
            // behind the service's back. The links go on from what is there,
            // as they always have; the operator hears of it here.
            tracing::warn!(practice_id = %practice.0, missing = queued.len() - pending.len(), "queued audit entries are missing");
        }
        let mut seqs = Vec::with_capacity(pending.len());
        let mut ids = Vec::with_capacity(pending.len());
        let mut hashes = Vec::with_capacity(pending.len());
        for entry in pending {
            seq += 1;
            hash = link_hash(&hash, &entry.content(practice, seq));
            seqs.push(seq);
            ids.push(entry.id);
            hashes.push(hash.clone());
        }
        sealed += ids.len() as u64;
        diesel::sql_query(LINK)
            .bind::<SqlUuid, _>(practice.0)
            .bind::<Array<BigInt>, _>(&seqs)
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<Array<Bytea>, _>(&hashes)
            .bind::<Array<SqlUuid>, _>(&batches)
            .bind::<BigInt, _>(seq)
            .bind::<Bytea, _>(&hash)
            .execute(conn)
            .await?;
        // A short round means the queue is drained: end the tick (and its
        // transaction, which holds the chain head) rather than chase the
        // batches that keep arriving under load.
        if batches.len() < SEAL_BATCHES as usize {
            return Ok(sealed);
        }
    }
}

/// The practices with entries waiting to be sealed (the sealing job's list;
/// it reads across practices, as background work may), found by walking
/// the queue's key from one practice to the next. The queue is small but
/// churns: under load its heap holds a minute of deleted batches between
/// vacuums, and the `SELECT DISTINCT` this replaces read all of them every
/// second (25-250 ms a tick at 20,000 reads a second). An index probe per
/// practice skips them, on a single database and on Citus alike.
pub async fn practices_with_unsealed(conn: &mut AsyncPgConnection) -> QueryResult<Vec<PracticeId>> {
    let mut found = Vec::new();
    let mut after = Uuid::nil();
    loop {
        let next: Option<Uuid> = audit_unsealed_batches::table
            .filter(audit_unsealed_batches::practice_id.gt(after))
            .select(audit_unsealed_batches::practice_id)
            .order(audit_unsealed_batches::practice_id)
            .first(conn)
            .await
            .optional()?;
        let Some(practice) = next else { return Ok(found) };
        found.push(PracticeId(practice));
        after = practice;
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct EntryFields {
    pub id: Uuid,
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
}

/// An entry with its link, once sealed.
#[derive(Debug, Clone, Queryable)]
pub struct EntryRow {
    pub fields: EntryFields,
    pub seq: Option<i64>,
    pub hash: Option<Vec<u8>>,
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

/// A page of the practice's entries, newest first (ids are time-ordered);
/// the cursor is the last id seen.
pub async fn list(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    filter: &Filter,
    page: PageRequest,
) -> QueryResult<Vec<EntryRow>> {
    let mut query =
        audit_events::table
            .left_join(audit_chain::table.on(
                audit_chain::practice_id.eq(audit_events::practice_id).and(audit_chain::entry_id.eq(audit_events::id)),
            ))
            .filter(audit_events::practice_id.eq(practice.0))
            .select((EntryFields::as_select(), audit_chain::seq.nullable(), audit_chain::hash.nullable()))
            .order(audit_events::id.desc())
            .limit(page.fetch_limit())
            .into_boxed();
    if let Some(before) = page.after {
        query = query.filter(audit_events::id.lt(before));
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

/// A page of the practice's entries for a bulk export, oldest id first.
pub async fn export_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    since: Option<DateTime<Utc>>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<EntryRow>> {
    let mut query =
        audit_events::table
            .left_join(audit_chain::table.on(
                audit_chain::practice_id.eq(audit_events::practice_id).and(audit_chain::entry_id.eq(audit_events::id)),
            ))
            .filter(audit_events::practice_id.eq(practice.0))
            .select((EntryFields::as_select(), audit_chain::seq.nullable(), audit_chain::hash.nullable()))
            .order(audit_events::id.asc())
            .limit(limit)
            .into_boxed();
    if let Some(after) = after {
        query = query.filter(audit_events::id.gt(after));
    }
    if let Some(since) = since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    query.load(conn).await
}

/// Every entry about one client (and its relationships, through the
/// membership), oldest first, streamed: the database orders them and this
/// side holds one at a time (a client's record).
pub async fn about_client_stream<'c>(
    conn: &'c mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<futures_util::stream::BoxStream<'c, QueryResult<EntryRow>>> {
    let memberships = relationship_members::table
        .filter(relationship_members::practice_id.eq(practice.0))
        .filter(relationship_members::client_id.eq(client_id))
        .select(relationship_members::relationship_id.nullable());
    let query =
        audit_events::table
            .left_join(audit_chain::table.on(
                audit_chain::practice_id.eq(audit_events::practice_id).and(audit_chain::entry_id.eq(audit_events::id)),
            ))
            .filter(audit_events::practice_id.eq(practice.0))
            .filter(
                audit_events::client_id.eq(client_id).or(audit_events::resource_type
                    .eq("relationship")
                    .and(audit_events::resource_id.eq_any(memberships))),
            )
            .select((EntryFields::as_select(), audit_chain::seq.nullable(), audit_chain::hash.nullable()))
            .order(audit_events::id.asc());
    use futures_util::StreamExt;
    Ok(query.load_stream::<EntryRow>(conn).await?.boxed())
}

pub async fn find(conn: &AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<Option<EntryRow>> {
    audit_events::table
        .left_join(
            audit_chain::table.on(audit_chain::practice_id
                .eq(audit_events::practice_id)
                .and(audit_chain::entry_id.eq(audit_events::id))),
        )
        .filter(audit_events::practice_id.eq(practice.0))
        .filter(audit_events::id.eq(id))
        .select((EntryFields::as_select(), audit_chain::seq.nullable(), audit_chain::hash.nullable()))
        .first(&mut { conn })
        .await
        .optional()
}

/// The walk of a practice's chain.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Verification {
    /// Links checked.
    #[diesel(sql_type = BigInt)]
    pub checked: i64,
    /// The first broken link, and why.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub broken_seq: Option<i64>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub broken_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub broken_reason: Option<String>,
    /// Entries in the trail that are neither linked nor queued: slipped in
    /// behind the service's back.
    #[diesel(sql_type = BigInt)]
    pub outside_chain: i64,
}

/// Walks the practice's chain from its start (or the last retention purge's
/// anchor) to the head, recomputing every link from its entry: an edited
/// entry no longer hashes to its link, a removed one leaves its link without
/// an entry, a removed link leaves a gap, and links cut from the end leave
/// the head pointing past the last one.
const VERIFY: &str = "\
WITH anchor AS (
    SELECT coalesce((SELECT purged_through_seq FROM audit_purges WHERE practice_id = $1
                      ORDER BY purged_through_seq DESC LIMIT 1), 0) AS seq,
           coalesce((SELECT anchor_hash FROM audit_purges WHERE practice_id = $1
                      ORDER BY purged_through_seq DESC LIMIT 1), $2) AS hash
),
walked AS (
    SELECT c.seq, c.entry_id, c.hash, e.id AS present,
           coalesce(lag(c.seq) OVER w, (SELECT seq FROM anchor)) AS previous_seq,
           audit_link(coalesce(lag(c.hash) OVER w, (SELECT hash FROM anchor)), c.seq, e.practice_id, e.id,
                      e.occurred_at, e.api_client, e.actor, e.action, e.operation, e.resource_type, e.resource_id,
                      e.client_id, e.outcome, e.request_id, e.source, e.query, e.result_count) AS expected
      FROM audit_chain c
      LEFT JOIN audit_events e ON e.practice_id = c.practice_id AND e.id = c.entry_id
     WHERE c.practice_id = $1
    WINDOW w AS (ORDER BY c.seq)
),
first_broken AS (
    SELECT seq, entry_id,
           CASE WHEN seq <> previous_seq + 1 THEN 'links before this one are missing'
                WHEN present IS NULL THEN 'this entry was removed'
                ELSE 'this entry, or the one before it, was changed' END AS reason
      FROM walked
     WHERE seq <> previous_seq + 1 OR present IS NULL OR hash <> expected
     ORDER BY seq LIMIT 1
),
last AS (
    SELECT seq, hash FROM audit_chain WHERE practice_id = $1 ORDER BY seq DESC LIMIT 1
),
cut AS (
    SELECT h.last_seq AS seq FROM audit_chain_heads h
     WHERE h.practice_id = $1
       AND (h.last_seq <> coalesce((SELECT seq FROM last), (SELECT seq FROM anchor))
            OR h.last_hash <> coalesce((SELECT hash FROM last), (SELECT hash FROM anchor)))
)
SELECT (SELECT count(*) FROM walked) AS checked,
       coalesce((SELECT seq FROM first_broken), (SELECT seq FROM cut)) AS broken_seq,
       (SELECT entry_id FROM first_broken) AS broken_id,
       coalesce((SELECT reason FROM first_broken),
                (SELECT 'links after the last one were removed' FROM cut)) AS broken_reason,
       (SELECT count(*) FROM audit_events e
         WHERE e.practice_id = $1
           AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.practice_id = $1 AND c.entry_id = e.id)
           AND NOT EXISTS (SELECT 1 FROM audit_unsealed_batches u WHERE u.practice_id = $1 AND e.id = ANY (u.entry_ids)))
           AS outside_chain";

pub async fn verify(conn: &mut AsyncPgConnection, practice: PracticeId) -> QueryResult<Verification> {
    diesel::sql_query(VERIFY).bind::<SqlUuid, _>(practice.0).bind::<Bytea, _>(GENESIS.as_slice()).get_result(conn).await
}
