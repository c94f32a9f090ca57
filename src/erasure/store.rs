//! Erasure, legal hold and retention queries. Request-side functions take
//! the practice first and filter by it; the job's two finders
//! ([`due_erasures`], [`retention_due`]) span practices and say so, and hand
//! each client back to the practice-scoped functions.
//!
//! [`erase_client`] is the one function that knows every table holding a
//! client's content.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{ErasureState, RetentionBasis};
use super::policy::ClientFacts;
use crate::db::schema::{
    assessment_drafts, assessment_scores, assessments, client_link_submissions, client_links, clients, homework,
    homework_logs, homework_pauses, relationship_members, retention_policies,
};
use crate::http::etag::Precondition;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

/// A client's row as erasure sees it: the hold, what retention counts from,
/// and the latest erasure request.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct ErasureRow {
    pub id: Uuid,
    pub version: i32,
    pub status: String,
    pub legal_hold: bool,
    pub discharged_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub erasure_state: Option<String>,
    pub erasure_reason: Option<String>,
    pub erasure_requested_at: Option<DateTime<Utc>>,
    pub erasure_requested_by: Option<String>,
    pub erasure_requested_by_actor: Option<String>,
    pub erasure_scheduled_for: Option<DateTime<Utc>>,
    pub erasure_cancelled_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
}

impl ErasureRow {
    pub fn state(&self) -> Option<ErasureState> {
        self.erasure_state.as_deref().and_then(ErasureState::from_db)
    }

    /// What the rules of `policy` need to know.
    pub fn facts(&self) -> ClientFacts {
        ClientFacts {
            legal_hold: self.legal_hold,
            discharged_at: self.discharged_at,
            archived_at: self.archived_at,
            state: self.state(),
            scheduled_for: self.erasure_scheduled_for,
            cancelled_at: self.erasure_cancelled_at,
        }
    }
}

pub async fn find_erasure(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Option<ErasureRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(client_id))
        .select(ErasureRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The client's row, locked until the transaction ends: every erasure
/// change, and the erasure itself, is decided under this lock.
pub async fn lock_erasure(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Option<ErasureRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(client_id))
        .select(ErasureRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// A new erasure request, decided by the caller under the row's lock.
pub struct Schedule<'a> {
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub requested_by_actor: Option<&'a str>,
    pub requested_at: DateTime<Utc>,
    pub scheduled_for: DateTime<Utc>,
}

/// Records a scheduled erasure on the client's row (replacing a cancelled
/// one). The client's version moves on: its representation now shows
/// `erasure_scheduled_for`.
pub async fn schedule(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    request: &Schedule<'_>,
) -> QueryResult<ErasureRow> {
    diesel::update(clients::table)
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(client_id))
        .set((
            clients::erasure_state.eq(ErasureState::Scheduled.as_str()),
            clients::erasure_reason.eq(request.reason),
            clients::erasure_requested_at.eq(request.requested_at),
            clients::erasure_requested_by.eq(request.requested_by),
            clients::erasure_requested_by_actor.eq(request.requested_by_actor),
            clients::erasure_scheduled_for.eq(request.scheduled_for),
            clients::erasure_cancelled_at.eq(None::<DateTime<Utc>>),
            clients::version.eq(clients::version + 1),
            clients::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ErasureRow::as_returning())
        .get_result(conn)
        .await
}

/// Cancels the scheduled erasure on the client's row.
pub async fn cancel(conn: &mut AsyncPgConnection, practice: PracticeId, client_id: Uuid) -> QueryResult<ErasureRow> {
    diesel::update(clients::table)
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(client_id))
        .set((
            clients::erasure_state.eq(ErasureState::Cancelled.as_str()),
            clients::erasure_cancelled_at.eq(diesel::dsl::now),
            clients::version.eq(clients::version + 1),
            clients::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ErasureRow::as_returning())
        .get_result(conn)
        .await
}

/// A client of some practice, as the job's finders hand it on.
#[derive(Debug, Clone, QueryableByName)]
pub struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    pub practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub client_id: Uuid,
    /// The retention period that made it eligible (retention only).
    #[diesel(sql_type = Nullable<Integer>)]
    pub erase_after_days: Option<i32>,
}

/// Every practice: up to `limit` scheduled erasures that are due and not
/// held, soonest first. Read without locks (Citus refuses a locking read
/// across shards): the job locks each client and checks it again before it
/// acts.
pub async fn due_erasures(conn: &mut AsyncPgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Candidate>> {
    diesel::sql_query(
        "SELECT practice_id, id AS client_id, NULL::integer AS erase_after_days FROM clients \
         WHERE erasure_state = 'scheduled' AND erasure_scheduled_for <= $1 AND NOT legal_hold \
         ORDER BY erasure_scheduled_for LIMIT $2",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// [`super::policy::retention_eligible`] in SQL, over `clients c`, with the
/// cutoff instant as `{cutoff}`: the preview and the job page and lock in
/// the database, and the job checks each row against the Rust rule again.
fn retention_eligible_sql(cutoff: &str) -> String {
    format!(
        "c.erased_at IS NULL AND NOT c.legal_hold \
         AND c.erasure_state IS DISTINCT FROM 'scheduled' \
         AND least(c.discharged_at, c.archived_at) < {cutoff} \
         AND (c.erasure_cancelled_at IS NULL OR c.erasure_cancelled_at < least(c.discharged_at, c.archived_at))"
    )
}

/// Every practice with a retention policy: up to `limit` clients it makes
/// eligible for erasure. Read without locks, as [`due_erasures`].
pub async fn retention_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Candidate>> {
    // Hours, not days: a day interval follows the session's time zone over DST.
    let eligible = retention_eligible_sql("$1 - make_interval(hours => 24 * p.erase_after_days)");
    diesel::sql_query(format!(
        "SELECT c.practice_id, c.id AS client_id, p.erase_after_days \
         FROM retention_policies p JOIN clients c ON c.practice_id = p.practice_id \
         WHERE p.erase_after_days IS NOT NULL AND {eligible} \
         ORDER BY c.practice_id, c.id LIMIT $2"
    ))
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// A client the retention policy would schedule for erasure.
#[derive(Debug, Clone, QueryableByName)]
pub struct PreviewRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub discharged_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub archived_at: Option<DateTime<Utc>>,
}

impl PreviewRow {
    /// What its period counts from (the earlier of discharge and archiving).
    pub fn basis(&self) -> Option<(DateTime<Utc>, RetentionBasis)> {
        let facts =
            ClientFacts { discharged_at: self.discharged_at, archived_at: self.archived_at, ..Default::default() };
        super::policy::retention_basis(&facts)
    }
}

/// A page of the practice's clients a retention period ending at `cutoff`
/// makes eligible, by id.
pub async fn retention_preview(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    cutoff: DateTime<Utc>,
    page: PageRequest,
) -> QueryResult<Vec<PreviewRow>> {
    let eligible = retention_eligible_sql("$2");
    diesel::sql_query(format!(
        "SELECT c.id, c.status, c.discharged_at, c.archived_at FROM clients c \
         WHERE c.practice_id = $1 AND ($3::uuid IS NULL OR c.id > $3) AND {eligible} \
         ORDER BY c.id LIMIT $4"
    ))
    .bind::<SqlUuid, _>(practice.0)
    .bind::<Timestamptz, _>(cutoff)
    .bind::<Nullable<SqlUuid>, _>(page.after)
    .bind::<BigInt, _>(page.fetch_limit())
    .load(conn)
    .await
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = retention_policies)]
pub struct PolicyRow {
    pub erase_after_days: Option<i32>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

pub async fn find_policy(conn: &mut AsyncPgConnection, practice: PracticeId) -> QueryResult<Option<PolicyRow>> {
    retention_policies::table
        .filter(retention_policies::practice_id.eq(practice.0))
        .select(PolicyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The outcome of a conditional policy change.
pub enum PolicyChange {
    Done(PolicyRow),
    Stale,
}

/// Sets the practice's policy under the precondition (a practice that never
/// set one is at version 0, its ETag `"v0"`). The row is locked first, so of
/// concurrent changes naming one version exactly one wins.
pub async fn put_policy(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    erase_after_days: Option<i32>,
    precondition: &Precondition,
) -> QueryResult<PolicyChange> {
    diesel::insert_into(retention_policies::table)
        .values((retention_policies::practice_id.eq(practice.0), retention_policies::version.eq(0)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let current: PolicyRow = retention_policies::table
        .filter(retention_policies::practice_id.eq(practice.0))
        .select(PolicyRow::as_select())
        .for_update()
        .first(conn)
        .await?;
    if !precondition.allows(current.version) {
        return Ok(PolicyChange::Stale);
    }
    let row = diesel::update(retention_policies::table)
        .filter(retention_policies::practice_id.eq(practice.0))
        .set((
            retention_policies::erase_after_days.eq(erase_after_days),
            retention_policies::version.eq(current.version + 1),
            retention_policies::updated_at.eq(diesel::dsl::now),
        ))
        .returning(PolicyRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(PolicyChange::Done(row))
}

/// What [`erase_client`] removed, in numbers and ids (never content): for
/// the log and for the audit entries of dissolved relationships.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    pub assessments: usize,
    pub homework: usize,
    pub homework_logs: usize,
    pub client_links: usize,
    pub relationship_memberships: usize,
    /// Relationships left with fewer than two members, deleted.
    pub dissolved_relationships: Vec<Uuid>,
    pub idempotency_answers: usize,
    pub events_redacted: usize,
    pub webhook_deliveries_redacted: usize,
    /// Bulk exports of the practice ended, their files gone.
    pub exports_ended: usize,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// A UUID as text, to find one in stored JSON and headers.
const UUID_PATTERN: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// Erases a client's record, in the caller's transaction, which holds the
/// client's row locked ([`lock_erasure`]); the caller has decided that the
/// erasure is due. This is the one function that knows every table holding
/// a client's content: a new table that holds any joins it, in the change
/// that creates it (the erasure test scans every column of every table, so
/// a forgotten one fails).
///
/// What goes, and why each table is here:
/// - `assessments`: the answers and the scored results;
/// - `assessment_scores`: the subscale scores, one row each, for progress;
/// - `assessment_drafts`: answers saved through a link but not submitted;
/// - `homework`: the assignments, with the clinician's note to the client;
/// - `homework_logs`: what the client logged: typed fields and reflections;
/// - `homework_pauses`: when the client's assignments were paused;
/// - `client_links`: the client's links (token digests, what they covered);
/// - `client_link_submissions`: what was submitted through those links;
/// - `relationship_members`: the client's memberships; a relationship left
///   with fewer than two members is deleted too (`relationships`): a
///   relationship of one tells only of the client who is gone;
/// - `idempotency_keys`: stored answers (body or headers) naming the client
///   or any record above, since a replay would echo them (answers of other
///   requests stay, so their retries stay safe);
/// - `events`: every event naming the client keeps its number, type and
///   time (the feed's numbering has no gaps) but its data becomes
///   `{"redacted": true}` and its dedupe key goes;
/// - `webhook_deliveries` of those events: the stored body becomes the
///   redacted event (a pending delivery sends that), and the receiver's
///   answer kept with each `webhook_attempts` row goes (it may echo the body;
///   a delivery in flight meanwhile goes out as it was, and its answer is not
///   kept: `webhooks::store::record_attempt` compares the body under the
///   row's lock);
/// - `export_chunks`: the practice's bulk export files hold every client's
///   resources, and one client cannot be cut out of stored NDJSON: every
///   export of the practice that holds files (or is running, and would
///   write them from a snapshot taken before the erasure) ends, its files
///   gone (`exports::store::end_for_erasure`); the practice starts another;
/// - `clients`: the row becomes a tombstone: no name (`''`), no external
///   id, no discharge or archive time, no hold, status `erased`, `erased_at`
///   set, the erasure request kept as the record of why.
///
/// What stays: `audit_events` and `audit_chain` (ids only, and the trail is append-only: it
/// records the erasure itself); `local_norms` (a practice's aggregate of 30
/// or more administrations, frozen, with nothing of one client in it); and
/// the definitions, API clients and webhook endpoints, which hold no client.
pub async fn erase_client(conn: &mut AsyncPgConnection, practice: PracticeId, client_id: Uuid) -> QueryResult<Erased> {
    let p = practice.0;
    // The client's records, locked before anything is deleted, so that a
    // request adding to one (a log, a submission) either commits first and
    // is erased with it, or waits and then finds nothing.
    let assessment_ids: Vec<Uuid> = assessments::table
        .filter(assessments::practice_id.eq(p))
        .filter(assessments::client_id.eq(client_id))
        .select(assessments::id)
        .for_update()
        .load(conn)
        .await?;
    let homework_ids: Vec<Uuid> = homework::table
        .filter(homework::practice_id.eq(p))
        .filter(homework::client_id.eq(client_id))
        .select(homework::id)
        .for_update()
        .load(conn)
        .await?;
    let link_ids: Vec<Uuid> = client_links::table
        .filter(client_links::practice_id.eq(p))
        .filter(client_links::client_id.eq(client_id))
        .select(client_links::id)
        .for_update()
        .load(conn)
        .await?;
    let log_ids: Vec<Uuid> = homework_logs::table
        .filter(homework_logs::practice_id.eq(p))
        .filter(homework_logs::homework_id.eq_any(&homework_ids))
        .select(homework_logs::id)
        .load(conn)
        .await?;
    let relationship_ids: Vec<Uuid> = relationship_members::table
        .filter(relationship_members::practice_id.eq(p))
        .filter(relationship_members::client_id.eq(client_id))
        .select(relationship_members::relationship_id)
        .load(conn)
        .await?;

    let mut named = vec![client_id];
    for ids in [&assessment_ids, &homework_ids, &link_ids, &log_ids, &relationship_ids] {
        named.extend_from_slice(ids);
    }
    let idempotency_answers = diesel::sql_query(format!(
        "DELETE FROM idempotency_keys k USING ( \
             SELECT DISTINCT s.key FROM idempotency_keys s \
             CROSS JOIN LATERAL regexp_matches( \
                 coalesce(s.response_body, '') || ' ' || coalesce(s.response_headers::text, ''), \
                 '{UUID_PATTERN}', 'g') AS m(found) \
             JOIN unnest($2::uuid[]) AS n(id) ON n.id = m.found[1]::uuid \
             WHERE s.practice_id = $1) hit \
         WHERE k.practice_id = $1 AND k.key = hit.key"
    ))
    .bind::<SqlUuid, _>(p)
    .bind::<Array<SqlUuid>, _>(&named)
    .execute(conn)
    .await?;

    diesel::delete(assessment_drafts::table.filter(assessment_drafts::practice_id.eq(p)).filter(
        assessment_drafts::assessment_id.eq_any(&assessment_ids).or(assessment_drafts::link_id.eq_any(&link_ids)),
    ))
    .execute(conn)
    .await?;
    diesel::delete(
        client_link_submissions::table
            .filter(client_link_submissions::practice_id.eq(p))
            .filter(client_link_submissions::link_id.eq_any(&link_ids)),
    )
    .execute(conn)
    .await?;
    let client_links = diesel::delete(
        client_links::table.filter(client_links::practice_id.eq(p)).filter(client_links::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        assessment_scores::table
            .filter(assessment_scores::practice_id.eq(p))
            .filter(assessment_scores::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let assessments = diesel::delete(
        assessments::table.filter(assessments::practice_id.eq(p)).filter(assessments::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let homework_logs = diesel::delete(
        homework_logs::table
            .filter(homework_logs::practice_id.eq(p))
            .filter(homework_logs::homework_id.eq_any(&homework_ids)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        homework_pauses::table
            .filter(homework_pauses::practice_id.eq(p))
            .filter(homework_pauses::homework_id.eq_any(&homework_ids)),
    )
    .execute(conn)
    .await?;
    let homework =
        diesel::delete(homework::table.filter(homework::practice_id.eq(p)).filter(homework::client_id.eq(client_id)))
            .execute(conn)
            .await?;

    let relationship_memberships = diesel::delete(
        relationship_members::table
            .filter(relationship_members::practice_id.eq(p))
            .filter(relationship_members::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    // The remaining members' rows go with their relationship (ON DELETE CASCADE).
    let dissolved: Vec<Id> = diesel::sql_query(
        "DELETE FROM relationships r \
         WHERE r.practice_id = $1 AND r.id = ANY($2) \
           AND (SELECT count(*) FROM relationship_members m \
                WHERE m.practice_id = r.practice_id AND m.relationship_id = r.id) < 2 \
         RETURNING r.id",
    )
    .bind::<SqlUuid, _>(p)
    .bind::<Array<SqlUuid>, _>(&relationship_ids)
    .load(conn)
    .await?;

    // The practice's webhook endpoints, locked in a statement of their own
    // before the events are read: the dispatcher's fan-out (which skips a
    // locked endpoint) and a redelivery then queue either before this reads
    // the deliveries (and are rewritten below) or after it commits (and read
    // the redacted events). Should the dispatcher's bookkeeping of an attempt
    // (which locks its delivery, then the endpoint) meet this in the other
    // order, PostgreSQL ends one of the two: an erasure is then tried again
    // on the next run, an attempt sent again once its lease runs out.
    diesel::sql_query("SELECT id FROM webhook_endpoints WHERE practice_id = $1 ORDER BY id FOR UPDATE")
        .bind::<SqlUuid, _>(p)
        .execute(conn)
        .await?;
    let redacted: Vec<Id> = diesel::sql_query(
        "UPDATE events SET data = '{\"redacted\": true}'::jsonb, dedupe_key = NULL \
         WHERE practice_id = $1 AND (data->>'client_id' = $2::text OR data->'client_ids' ? $2::text) \
         RETURNING id",
    )
    .bind::<SqlUuid, _>(p)
    .bind::<SqlUuid, _>(client_id)
    .load(conn)
    .await?;
    let redacted: Vec<Uuid> = redacted.into_iter().map(|row| row.id).collect();
    let deliveries: Vec<Id> = diesel::sql_query(format!(
        "UPDATE webhook_deliveries d SET body = {body} FROM events e \
         WHERE d.practice_id = $1 AND e.practice_id = $1 AND e.id = ANY($2) AND d.webhook_id = e.id \
         RETURNING d.id",
        body = crate::webhooks::store::EVENT_BODY
    ))
    .bind::<SqlUuid, _>(p)
    .bind::<Array<SqlUuid>, _>(&redacted)
    .load(conn)
    .await?;
    let deliveries: Vec<Uuid> = deliveries.into_iter().map(|row| row.id).collect();
    diesel::sql_query(
        "UPDATE webhook_attempts SET response = NULL \
         WHERE practice_id = $1 AND delivery_id = ANY($2) AND response IS NOT NULL",
    )
    .bind::<SqlUuid, _>(p)
    .bind::<Array<SqlUuid>, _>(&deliveries)
    .execute(conn)
    .await?;

    let exports_ended = crate::exports::store::end_for_erasure(conn, practice).await?;

    diesel::update(clients::table.filter(clients::practice_id.eq(p)).filter(clients::id.eq(client_id)))
        .set((
            clients::display_name.eq(""),
            clients::external_id.eq(None::<String>),
            clients::status.eq("erased"),
            clients::discharged_at.eq(None::<DateTime<Utc>>),
            clients::archived_at.eq(None::<DateTime<Utc>>),
            clients::legal_hold.eq(false),
            clients::erasure_state.eq(ErasureState::Completed.as_str()),
            clients::erased_at.eq(diesel::dsl::now),
            clients::version.eq(clients::version + 1),
            clients::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;

    Ok(Erased {
        assessments,
        homework,
        homework_logs,
        client_links,
        relationship_memberships,
        dissolved_relationships: dissolved.into_iter().map(|row| row.id).collect(),
        idempotency_answers,
        events_redacted: redacted.len(),
        webhook_deliveries_redacted: deliveries.len(),
        exports_ended,
    })
}
