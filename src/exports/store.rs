//! Export queries, practice first. Reads come in keyset pages (`after` the
//! last id, a bounded `limit`) so that a caller holds one page at a time
//! whatever the size of a client's history or a practice; callers run them
//! inside one REPEATABLE READ transaction, so every page comes from the same
//! snapshot. The export rows themselves (the queue, its files) are at the end.

use chrono::{DateTime, Utc};
use diesel::dsl::{exists, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::ExportType;
use crate::assessments::store::AssessmentRow;
use crate::client_links::store::{LinkRow, SubmissionRow};
use crate::clients::store::ClientRow;
use crate::db::schema::{
    assessment_drafts, assessments, client_links, clients, events, exercises, export_chunks, export_files, exports,
    homework, homework_logs, homework_pauses, instruments, relationship_members, relationships,
};
use crate::events::store::EventRow;
use crate::homework::store::{HomeworkRow, LogRow};
use crate::instruments::store::InstrumentRow;
use crate::practices::PracticeId;

/// What part of a practice a read covers: one client (a record) or all of
/// them (a bulk export), and only what changed since an instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slice {
    pub client: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

/// The snapshot's own clock, read by the transaction's first statement:
/// the snapshot is taken as that statement starts, so every change it shows
/// committed before this instant.
#[derive(QueryableByName)]
struct Clock {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
}

pub async fn snapshot_time(conn: &mut AsyncPgConnection) -> QueryResult<DateTime<Utc>> {
    let clock: Clock = diesel::sql_query("SELECT clock_timestamp() AS now").get_result(conn).await?;
    Ok(clock.now)
}

/// Lets PostgreSQL end the current transaction if it sits idle this long
/// (`SET LOCAL`: for this transaction only).
pub async fn end_idle_transaction_after(conn: &mut AsyncPgConnection, limit: &'static str) -> QueryResult<()> {
    diesel::sql_query(format!("SET LOCAL idle_in_transaction_session_timeout = '{limit}'")).execute(conn).await?;
    Ok(())
}

pub async fn find_client(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<ClientRow>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(id))
        .select(ClientRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn clients_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<ClientRow>> {
    let mut query = clients::table
        .filter(clients::practice_id.eq(practice.0))
        .select(ClientRow::as_select())
        .order(clients::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(clients::id.gt(after));
    }
    if let Some(client) = slice.client {
        query = query.filter(clients::id.eq(client));
    }
    if let Some(since) = slice.since {
        query = query.filter(clients::updated_at.ge(since));
    }
    query.load(conn).await
}

/// Assessments with their client's `external_id`; `completed_only` for the
/// FHIR forms, which carry completed ones only.
pub async fn assessments_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    completed_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<(AssessmentRow, Option<String>)>> {
    let mut query = assessments::table
        .inner_join(instruments::table)
        .inner_join(
            clients::table
                .on(clients::practice_id.eq(assessments::practice_id).and(clients::id.eq(assessments::client_id))),
        )
        .filter(assessments::practice_id.eq(practice.0))
        .select((crate::assessments::store::ROW, clients::external_id))
        .order(assessments::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(assessments::id.gt(after));
    }
    if let Some(client) = slice.client {
        query = query.filter(assessments::client_id.eq(client));
    }
    if completed_only {
        query = query.filter(assessments::status.eq("completed"));
    }
    if let Some(since) = slice.since {
        query = query.filter(assessments::updated_at.ge(since));
    }
    query.load(conn).await
}

/// Assignments with their client's `external_id`. Since an instant: those
/// changed, or logged against, since then.
pub async fn homework_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<(HomeworkRow, Option<String>)>> {
    let mut query = homework::table
        .inner_join(exercises::table)
        .inner_join(
            clients::table.on(clients::practice_id.eq(homework::practice_id).and(clients::id.eq(homework::client_id))),
        )
        .filter(homework::practice_id.eq(practice.0))
        .select((crate::homework::store::ROW, clients::external_id))
        .order(homework::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(homework::id.gt(after));
    }
    if let Some(client) = slice.client {
        query = query.filter(homework::client_id.eq(client));
    }
    if let Some(since) = slice.since {
        let logged_since = homework_logs::table
            .filter(homework_logs::practice_id.eq(homework::practice_id))
            .filter(homework_logs::homework_id.eq(homework::id))
            .filter(homework_logs::created_at.ge(since));
        query = query.filter(homework::updated_at.ge(since).or(exists(logged_since)));
    }
    query.load(conn).await
}

pub async fn pauses(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    homework_id: Uuid,
) -> QueryResult<Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>> {
    homework_pauses::table
        .filter(homework_pauses::practice_id.eq(practice.0))
        .filter(homework_pauses::homework_id.eq(homework_id))
        .select((homework_pauses::paused_at, homework_pauses::resumed_at))
        .order(homework_pauses::paused_at.asc())
        .load(conn)
        .await
}

/// An assignment's logs, oldest first (keyset on the time, then the id).
pub async fn logs_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    homework_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<LogRow>> {
    let mut query = homework_logs::table
        .filter(homework_logs::practice_id.eq(practice.0))
        .filter(homework_logs::homework_id.eq(homework_id))
        .select(LogRow::as_select())
        .order((homework_logs::occurred_at.asc(), homework_logs::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            homework_logs::occurred_at.gt(at).or(homework_logs::occurred_at.eq(at).and(homework_logs::id.gt(id))),
        );
    }
    query.load(conn).await
}

#[derive(Debug, Clone, Queryable)]
pub struct DraftRow {
    pub assessment_id: Uuid,
    pub link_id: Uuid,
    pub answers: serde_json::Value,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn drafts_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<DraftRow>> {
    let mut query = assessment_drafts::table
        .inner_join(
            assessments::table.on(assessments::practice_id
                .eq(assessment_drafts::practice_id)
                .and(assessments::id.eq(assessment_drafts::assessment_id))),
        )
        .filter(assessment_drafts::practice_id.eq(practice.0))
        .filter(assessments::client_id.eq(client))
        .select((
            assessment_drafts::assessment_id,
            assessment_drafts::link_id,
            assessment_drafts::answers,
            assessment_drafts::updated_at,
            assessment_drafts::expires_at,
        ))
        .order(assessment_drafts::assessment_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(assessment_drafts::assessment_id.gt(after));
    }
    query.load(conn).await
}

pub async fn links_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<LinkRow>> {
    let mut query = client_links::table
        .filter(client_links::practice_id.eq(practice.0))
        .filter(client_links::client_id.eq(client))
        .select(LinkRow::as_select())
        .order(client_links::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(client_links::id.gt(after));
    }
    query.load(conn).await
}

pub async fn link_submissions(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    link_ids: &[Uuid],
) -> QueryResult<Vec<SubmissionRow>> {
    crate::client_links::store::submissions(conn, practice, link_ids).await
}

/// The relationships `client` is a member of: (id, kind, created_at).
pub async fn relationships_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<(Uuid, String, DateTime<Utc>)>> {
    let mut query = relationships::table
        .inner_join(
            relationship_members::table.on(relationship_members::practice_id
                .eq(relationships::practice_id)
                .and(relationship_members::relationship_id.eq(relationships::id))),
        )
        .filter(relationships::practice_id.eq(practice.0))
        .filter(relationship_members::client_id.eq(client))
        .select((relationships::id, relationships::kind, relationships::created_at))
        .order(relationships::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(relationships::id.gt(after));
    }
    query.load(conn).await
}

/// The members of the given relationships: (relationship, client).
pub async fn relationship_members(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    relationship_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Uuid)>> {
    relationship_members::table
        .filter(relationship_members::practice_id.eq(practice.0))
        .filter(relationship_members::relationship_id.eq_any(relationship_ids))
        .select((relationship_members::relationship_id, relationship_members::client_id))
        .order((relationship_members::relationship_id.asc(), relationship_members::client_id.asc()))
        .load(conn)
        .await
}

/// The events about `client` still in the feed: those naming it, and the
/// relationships it joined.
pub async fn events_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let client = client.to_string();
    let about_client = sql::<Bool>("((data ->> 'client_id') = ")
        .bind::<Text, _>(client.clone())
        .sql(" OR (type = 'relationship.created' AND (data -> 'client_ids') ? ")
        .bind::<Text, _>(client)
        .sql("))");
    events::table
        .filter(events::practice_id.eq(practice.0))
        .filter(events::sequence.gt(after))
        .filter(about_client)
        .select(EventRow::as_select())
        .order(events::sequence.asc())
        .limit(limit)
        .load(conn)
        .await
}

/// The instruments a practice can administer (built-in and its own).
pub async fn instruments_page(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    since: Option<DateTime<Utc>>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<InstrumentRow>> {
    let mut query = instruments::table
        .filter(instruments::practice_id.is_null().or(instruments::practice_id.eq(practice.0)))
        .select(InstrumentRow::as_select())
        .order(instruments::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(instruments::id.gt(after));
    }
    if let Some(since) = since {
        query = query.filter(instruments::created_at.ge(since));
    }
    query.load(conn).await
}

/// The definitions of the given instruments (a practice's and built-in).
pub async fn instruments_by_id(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    ids: &[Uuid],
) -> QueryResult<Vec<InstrumentRow>> {
    instruments::table
        .filter(instruments::practice_id.is_null().or(instruments::practice_id.eq(practice.0)))
        .filter(instruments::id.eq_any(ids))
        .select(InstrumentRow::as_select())
        .load(conn)
        .await
}

/// The exercises' titles (a practice's and built-in), for naming Tasks.
pub async fn exercise_titles(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String)>> {
    exercises::table
        .filter(exercises::practice_id.is_null().or(exercises::practice_id.eq(practice.0)))
        .filter(exercises::id.eq_any(ids))
        .select((exercises::id, exercises::title))
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct Totals {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// How many resources of `types` the snapshot holds for the practice: the
/// denominator of an export's progress.
pub async fn count_resources(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    types: &[ExportType],
    since: Option<DateTime<Utc>>,
) -> QueryResult<i64> {
    let mut parts = Vec::new();
    for kind in types {
        parts.push(match kind {
            ExportType::Patient => {
                "(SELECT count(*) FROM clients WHERE practice_id = $1 AND ($2::timestamptz IS NULL OR updated_at >= $2))"
            }
            ExportType::Questionnaire => {
                "(SELECT count(*) FROM instruments WHERE (practice_id IS NULL OR practice_id = $1) \
                 AND ($2::timestamptz IS NULL OR created_at >= $2))"
            }
            ExportType::QuestionnaireResponse => {
                "(SELECT count(*) FROM assessments WHERE practice_id = $1 AND status = 'completed' \
                 AND ($2::timestamptz IS NULL OR updated_at >= $2))"
            }
            ExportType::Observation => {
                "(SELECT count(*) FROM assessment_scores s JOIN assessments a \
                   ON a.practice_id = s.practice_id AND a.id = s.assessment_id \
                 WHERE s.practice_id = $1 AND ($2::timestamptz IS NULL OR a.updated_at >= $2))"
            }
            ExportType::Task => {
                "(SELECT count(*) FROM homework h WHERE h.practice_id = $1 AND ($2::timestamptz IS NULL \
                   OR h.updated_at >= $2 OR EXISTS (SELECT 1 FROM homework_logs l WHERE l.practice_id = h.practice_id \
                   AND l.homework_id = h.id AND l.created_at >= $2)))"
            }
            ExportType::AuditEvent => {
                "(SELECT count(*) FROM audit_events WHERE practice_id = $1 AND ($2::timestamptz IS NULL OR occurred_at >= $2))"
            }
        });
    }
    if parts.is_empty() {
        return Ok(0);
    }
    let totals: Totals = diesel::sql_query(format!("SELECT ({})::bigint AS total", parts.join(" + ")))
        .bind::<SqlUuid, _>(practice.0)
        .bind::<Nullable<Timestamptz>, _>(since)
        .get_result(conn)
        .await?;
    Ok(totals.total)
}

// ---------------------------------------------------------------------------
// The export queue and its files.

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exports)]
pub struct ExportRow {
    pub practice_id: Uuid,
    pub id: Uuid,
    pub state: String,
    pub types: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub request: String,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub transaction_time: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub error: Option<String>,
    pub attempts: i32,
}

pub struct NewExportRow<'a> {
    pub id: Uuid,
    pub types: &'a [String],
    pub since: Option<DateTime<Utc>>,
    pub request: &'a str,
    pub requested_by: &'a str,
    pub requested_actor: Option<&'a str>,
}

/// Queues an export; `Err(running id)` when the practice already has one
/// pending or running (the partial unique index decides, so two requests at
/// once cannot both get in).
pub async fn insert_export(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    new: NewExportRow<'_>,
) -> QueryResult<Result<ExportRow, Option<Uuid>>> {
    let inserted = diesel::insert_into(exports::table)
        .values((
            exports::practice_id.eq(practice.0),
            exports::id.eq(new.id),
            exports::state.eq("pending"),
            exports::types.eq(new.types),
            exports::since.eq(new.since),
            exports::request.eq(new.request),
            exports::requested_by.eq(new.requested_by),
            exports::requested_actor.eq(new.requested_actor),
        ))
        .on_conflict_do_nothing()
        .returning(ExportRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(row) => Ok(Ok(row)),
        None => Ok(Err(open_export(conn, practice).await?)),
    }
}

/// The practice's pending or running export, if any.
pub async fn open_export(conn: &mut AsyncPgConnection, practice: PracticeId) -> QueryResult<Option<Uuid>> {
    exports::table
        .filter(exports::practice_id.eq(practice.0))
        .filter(exports::state.eq_any(["pending", "running"]))
        .select(exports::id)
        .first(conn)
        .await
        .optional()
}

pub async fn find_export(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<ExportRow>> {
    exports::table
        .filter(exports::practice_id.eq(practice.0))
        .filter(exports::id.eq(id))
        .select(ExportRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Deletes an export and its files (cancelling it when it runs: its runner
/// finds the row gone and stops). False when there was none.
pub async fn delete_export(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<bool> {
    let deleted = diesel::delete(exports::table.filter(exports::practice_id.eq(practice.0)).filter(exports::id.eq(id)))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = export_files)]
pub struct FileRow {
    pub resource_type: String,
    pub part: i32,
    pub resources: i64,
    pub bytes: i64,
}

pub async fn files(conn: &mut AsyncPgConnection, practice: PracticeId, export: Uuid) -> QueryResult<Vec<FileRow>> {
    export_files::table
        .filter(export_files::practice_id.eq(practice.0))
        .filter(export_files::export_id.eq(export))
        .select(FileRow::as_select())
        .order((export_files::resource_type.asc(), export_files::part.asc()))
        .load(conn)
        .await
}

/// A file of a completed export that has not expired.
pub async fn find_file(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    export: Uuid,
    resource_type: &str,
    part: i32,
) -> QueryResult<Option<FileRow>> {
    export_files::table
        .inner_join(
            exports::table
                .on(exports::practice_id.eq(export_files::practice_id).and(exports::id.eq(export_files::export_id))),
        )
        .filter(export_files::practice_id.eq(practice.0))
        .filter(export_files::export_id.eq(export))
        .filter(export_files::resource_type.eq(resource_type))
        .filter(export_files::part.eq(part))
        .filter(exports::state.eq("completed"))
        .filter(exports::expires_at.gt(sql::<Nullable<Timestamptz>>("now()")))
        .select(FileRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The chunk of a file after `seq`: (seq, bytes).
pub async fn next_chunk(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    export: Uuid,
    resource_type: &str,
    part: i32,
    after: i32,
) -> QueryResult<Option<(i32, Vec<u8>)>> {
    export_chunks::table
        .filter(export_chunks::practice_id.eq(practice.0))
        .filter(export_chunks::export_id.eq(export))
        .filter(export_chunks::resource_type.eq(resource_type))
        .filter(export_chunks::part.eq(part))
        .filter(export_chunks::seq.gt(after))
        .select((export_chunks::seq, export_chunks::data))
        .order(export_chunks::seq.asc())
        .first(conn)
        .await
        .optional()
}

/// An export an instance has claimed: what running it needs.
#[derive(Debug, Clone, Queryable, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    pub types: Vec<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub since: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    #[diesel(sql_type = SqlUuid)]
    pub lease_id: Uuid,
}

/// Why an export whose lease ran out stopped.
pub const INTERRUPTED: &str = "interrupted: the instance running it stopped before it finished";

/// Claims the oldest due export of any practice (this is the background
/// queue, not a request): one pending, or running under a lease that ran
/// out (its instance died; the reason is kept). The due exports are read
/// without locks, across practices; each is then taken by an update that
/// checks again that it is due, so of two instances after the same export
/// the second finds it leased and moves on. (A locking read across
/// practices would keep them apart too, but Citus refuses one across
/// shards.) The lease, renewed while it runs, then keeps the others off it.
pub async fn claim(conn: &mut AsyncPgConnection, lease: std::time::Duration) -> QueryResult<Option<Claimed>> {
    let due: Vec<Due> = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            crate::db::across_practices(conn).await?;
            diesel::sql_query(
                "SELECT practice_id, id FROM exports \
                 WHERE state IN ('pending', 'running') AND (leased_until IS NULL OR leased_until < now()) \
                 ORDER BY created_at LIMIT $1",
            )
            .bind::<BigInt, _>(CLAIM_CANDIDATES)
            .load(conn)
            .await
        })
        .await?;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    for export in due {
        let taken = diesel::sql_query(
            "UPDATE exports e SET \
                 error = CASE WHEN e.state = 'running' THEN $2 ELSE e.error END, \
                 state = 'running', attempts = e.attempts + 1, lease_id = $1, \
                 leased_until = now() + $3 * interval '1 millisecond', started_at = now(), \
                 progress_done = 0, progress_total = NULL \
             WHERE e.practice_id = $4 AND e.id = $5 \
               AND e.state IN ('pending', 'running') AND (e.leased_until IS NULL OR e.leased_until < now()) \
             RETURNING e.practice_id, e.id, e.types, e.since, e.attempts, e.error, e.lease_id",
        )
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<Text, _>(INTERRUPTED)
        .bind::<BigInt, _>(lease_ms)
        .bind::<SqlUuid, _>(export.practice_id)
        .bind::<SqlUuid, _>(export.id)
        .get_result(conn)
        .await
        .optional()?;
        if taken.is_some() {
            return Ok(taken);
        }
    }
    Ok(None)
}

/// How many due exports a claim reads: enough that instances claiming at
/// once each find one the others have not taken.
const CLAIM_CANDIDATES: i64 = 8;

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = SqlUuid)]
    practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Renews the lease and records progress; false when the export is no
/// longer this claim's (deleted, i.e. cancelled, or taken over).
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    lease: std::time::Duration,
    done: i64,
    total: Option<i64>,
) -> QueryResult<bool> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let updated = diesel::update(
        exports::table
            .filter(exports::practice_id.eq(claimed.practice_id))
            .filter(exports::id.eq(claimed.id))
            .filter(exports::state.eq("running"))
            .filter(exports::lease_id.eq(claimed.lease_id)),
    )
    .set((
        exports::leased_until.eq(sql::<Nullable<Timestamptz>>("now() + ")
            .bind::<BigInt, _>(lease_ms)
            .sql(" * interval '1 millisecond'")),
        exports::progress_done.eq(done),
        exports::progress_total.eq(total),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Drops what an earlier attempt of the export wrote (it starts afresh).
pub async fn delete_files(conn: &mut AsyncPgConnection, claimed: &Claimed) -> QueryResult<()> {
    diesel::delete(
        export_chunks::table
            .filter(export_chunks::practice_id.eq(claimed.practice_id))
            .filter(export_chunks::export_id.eq(claimed.id)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        export_files::table
            .filter(export_files::practice_id.eq(claimed.practice_id))
            .filter(export_files::export_id.eq(claimed.id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_chunk(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    resource_type: &str,
    part: i32,
    seq: i32,
    data: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(export_chunks::table)
        .values((
            export_chunks::practice_id.eq(claimed.practice_id),
            export_chunks::export_id.eq(claimed.id),
            export_chunks::resource_type.eq(resource_type),
            export_chunks::part.eq(part),
            export_chunks::seq.eq(seq),
            export_chunks::data.eq(data),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_file(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    resource_type: &str,
    part: i32,
    resources: i64,
    bytes: i64,
) -> QueryResult<()> {
    diesel::insert_into(export_files::table)
        .values((
            export_files::practice_id.eq(claimed.practice_id),
            export_files::export_id.eq(claimed.id),
            export_files::resource_type.eq(resource_type),
            export_files::part.eq(part),
            export_files::resources.eq(resources),
            export_files::bytes.eq(bytes),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the claimed export completed; false when it is no longer this
/// claim's (cancelled meanwhile).
pub async fn complete(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    transaction_time: DateTime<Utc>,
    retention: std::time::Duration,
    done: i64,
) -> QueryResult<bool> {
    let retention_s = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let updated = diesel::update(
        exports::table
            .filter(exports::practice_id.eq(claimed.practice_id))
            .filter(exports::id.eq(claimed.id))
            .filter(exports::lease_id.eq(claimed.lease_id))
            .filter(exports::state.eq("running")),
    )
    .set((
        exports::state.eq("completed"),
        exports::transaction_time.eq(transaction_time),
        exports::finished_at.eq(sql::<Nullable<Timestamptz>>("now()")),
        exports::expires_at
            .eq(sql::<Nullable<Timestamptz>>("now() + ").bind::<BigInt, _>(retention_s).sql(" * interval '1 second'")),
        exports::progress_done.eq(done),
        exports::progress_total.eq(done),
        exports::error.eq(None::<String>),
        exports::lease_id.eq(None::<Uuid>),
        exports::leased_until.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)
    .await?;
    Ok(updated == 1)
}

/// Ends the claim without completing: `retry_after` puts it back in the
/// queue (after that delay), `None` fails it for good. `error` says why, in
/// words fit for the caller (never a database message or clinical content).
pub async fn release(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    error: Option<&str>,
    retry_after: Option<std::time::Duration>,
    give_back_attempt: bool,
) -> QueryResult<()> {
    let target = exports::table
        .filter(exports::practice_id.eq(claimed.practice_id))
        .filter(exports::id.eq(claimed.id))
        .filter(exports::lease_id.eq(claimed.lease_id))
        .filter(exports::state.eq("running"));
    let attempts = if give_back_attempt { (claimed.attempts - 1).max(0) } else { claimed.attempts };
    match retry_after {
        Some(delay) => {
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            diesel::update(target)
                .set((
                    exports::state.eq("pending"),
                    exports::error.eq(error),
                    exports::attempts.eq(attempts),
                    exports::lease_id.eq(None::<Uuid>),
                    exports::leased_until.eq(sql::<Nullable<Timestamptz>>("now() + ")
                        .bind::<BigInt, _>(delay_ms)
                        .sql(" * interval '1 millisecond'")),
                ))
                .execute(conn)
                .await?;
        }
        None => {
            diesel::update(target)
                .set((
                    exports::state.eq("failed"),
                    exports::error.eq(error),
                    exports::finished_at.eq(sql::<Nullable<Timestamptz>>("now()")),
                    exports::lease_id.eq(None::<Uuid>),
                    exports::leased_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Fails an export outright (one claimed too often): no lease check, it
/// was just claimed by the caller.
pub async fn fail(conn: &mut AsyncPgConnection, claimed: &Claimed, error: &str) -> QueryResult<()> {
    release(conn, claimed, Some(error), None, false).await
}

/// Ends every export of the practice that holds or is writing files, for
/// an erasure in the caller's transaction: a finished one expires now, a
/// pending or running one fails with the reason (its runner learns so at
/// its next chunk or renewal); their files go. Answers how many stored
/// chunks went.
pub async fn end_for_erasure(conn: &mut AsyncPgConnection, practice: PracticeId) -> QueryResult<usize> {
    let ended = diesel::sql_query(
        "WITH ended AS ( \
             UPDATE exports SET \
                 state = CASE WHEN state = 'completed' THEN 'expired' ELSE 'failed' END, \
                 error = CASE WHEN state = 'completed' THEN error \
                         ELSE 'a client''s record was erased while the export ran: start another' END, \
                 expires_at = CASE WHEN state = 'completed' THEN now() ELSE expires_at END, \
                 finished_at = coalesce(finished_at, now()), lease_id = NULL, leased_until = NULL \
             WHERE practice_id = $1 AND state IN ('pending', 'running', 'completed') \
             RETURNING id) \
         DELETE FROM export_chunks c USING ended WHERE c.practice_id = $1 AND c.export_id = ended.id",
    )
    .bind::<diesel::sql_types::Uuid, _>(practice.0)
    .execute(conn)
    .await?;
    Ok(ended)
}

/// Days an expired or failed export's row is kept (answering 410 or its
/// reason) after its files are gone.
pub const TOMBSTONE_DAYS: i64 = 30;

/// The purge (every practice: a background job): drops the files of
/// exports past `expires_at` and marks them expired; deletes expired and
/// failed exports older than [`TOMBSTONE_DAYS`].
pub async fn purge(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let expired = diesel::sql_query(
        "WITH gone AS ( \
             UPDATE exports SET state = 'expired' \
             WHERE state = 'completed' AND expires_at <= now() \
             RETURNING practice_id, id) \
         DELETE FROM export_chunks c USING gone \
         WHERE c.practice_id = gone.practice_id AND c.export_id = gone.id",
    )
    .execute(conn)
    .await?;
    diesel::sql_query(
        "DELETE FROM export_chunks c USING exports e \
         WHERE c.practice_id = e.practice_id AND c.export_id = e.id AND e.state IN ('expired', 'failed')",
    )
    .execute(conn)
    .await?;
    let old =
        diesel::delete(exports::table.filter(exports::state.eq_any(["expired", "failed"])).filter(
            exports::finished_at.lt(
                sql::<Nullable<Timestamptz>>("now() - ").bind::<BigInt, _>(TOMBSTONE_DAYS).sql(" * interval '1 day'"),
            ),
        ))
        .execute(conn)
        .await?;
    Ok(expired + old)
}
