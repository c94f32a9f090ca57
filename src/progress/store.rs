//! What progress reads, practice first. Every query is bounded by one
//! client's own rows through an index that starts (practice_id, client_id)
//! or (practice_id, homework_id), so its cost follows the client's history,
//! not the practice's size.
//!
//! The functions take a shared connection so the caller can run independent
//! ones concurrently: diesel-async then pipelines them, one round trip for
//! many queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::{max, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{
    assessment_scores, assessments, clients, exercises, homework, homework_logs, homework_pauses, instruments,
    local_norms,
};
use crate::practices::PracticeId;

/// The period asked for: `[start, end)`, open where not given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Period {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Whether the practice has this client (archived ones included): `None`
/// when not, `Some(erased_at)` when it does (`Some(Some(_))` for a tombstone).
pub async fn client_standing(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Option<Option<DateTime<Utc>>>> {
    clients::table
        .filter(clients::practice_id.eq(practice.0))
        .filter(clients::id.eq(client_id))
        .select(clients::erased_at)
        .first(&mut { conn })
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assessment_scores)]
pub struct ScoreRow {
    pub assessment_id: Uuid,
    pub instrument_id: Uuid,
    pub instrument_key: String,
    pub subscale: String,
    pub score: f64,
    pub completed_at: DateTime<Utc>,
}

/// A client's subscale scores in the period, by instrument, subscale, time.
pub async fn scores(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    period: Period,
    instrument_key: Option<&str>,
) -> QueryResult<Vec<ScoreRow>> {
    let mut query = assessment_scores::table
        .filter(assessment_scores::practice_id.eq(practice.0))
        .filter(assessment_scores::client_id.eq(client_id))
        .into_boxed();
    if let Some(end) = period.end {
        query = query.filter(assessment_scores::completed_at.lt(end));
    }
    if let Some(start) = period.start {
        query = query.filter(assessment_scores::completed_at.ge(start));
    }
    if let Some(key) = instrument_key {
        query = query.filter(assessment_scores::instrument_key.eq(key.to_owned()));
    }
    query
        .order((assessment_scores::instrument_key, assessment_scores::subscale, assessment_scores::completed_at))
        .select(ScoreRow::as_select())
        .load(&mut { conn })
        .await
}

/// The first and the last score of each of `subscales` of the client's
/// instrument `instrument_key`, ordered as [`scores`] orders them: all that
/// a reliable change needs, read by the index whatever the history's length
/// (two short reads a subscale, pipelined).
pub async fn series_ends(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    instrument_key: &str,
    subscales: &[&str],
) -> QueryResult<Vec<ScoreRow>> {
    let end = |subscale: &str, first: bool| {
        let query = assessment_scores::table
            .filter(assessment_scores::practice_id.eq(practice.0))
            .filter(assessment_scores::client_id.eq(client_id))
            .filter(assessment_scores::instrument_key.eq(instrument_key.to_owned()))
            .filter(assessment_scores::subscale.eq(subscale.to_owned()))
            .select(ScoreRow::as_select())
            .limit(1);
        let query = if first {
            query.order(assessment_scores::completed_at.asc()).into_boxed()
        } else {
            query.order(assessment_scores::completed_at.desc()).into_boxed()
        };
        query.get_result::<ScoreRow>(&mut { conn })
    };
    let reads = subscales.iter().flat_map(|subscale| [end(subscale, true), end(subscale, false)]);
    let found = futures_util::future::join_all(reads).await;
    let mut rows = Vec::with_capacity(found.len());
    for row in found {
        match row {
            Ok(row) => rows.push(row),
            Err(diesel::result::Error::NotFound) => {}
            Err(err) => return Err(err),
        }
    }
    rows.sort_by(|a, b| (&a.subscale, a.completed_at).cmp(&(&b.subscale, b.completed_at)));
    // One administration is both ends of its series.
    rows.dedup_by(|a, b| a.subscale == b.subscale && a.assessment_id == b.assessment_id);
    Ok(rows)
}

#[derive(Debug, Clone, Queryable)]
pub struct ClassificationRow {
    pub assessment_id: Uuid,
    pub instrument_key: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub label: Option<String>,
}

/// The classification label of each completed administration in the period.
pub async fn classifications(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    period: Period,
    instrument_key: Option<&str>,
) -> QueryResult<Vec<ClassificationRow>> {
    let mut query = assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::client_id.eq(client_id))
        .filter(assessments::status.eq("completed"))
        .into_boxed();
    if let Some(end) = period.end {
        query = query.filter(assessments::completed_at.lt(end));
    }
    if let Some(start) = period.start {
        query = query.filter(assessments::completed_at.ge(start));
    }
    if let Some(key) = instrument_key {
        query = query.filter(instruments::key.eq(key.to_owned()));
    }
    query
        .order(assessments::completed_at)
        .select((
            assessments::id,
            instruments::key,
            assessments::completed_at,
            sql::<Nullable<Text>>("assessments.result -> 'classification' ->> 'label'"),
        ))
        .load(&mut { conn })
        .await
}

/// Instrument versions by id: (id, title, definition).
pub async fn definitions(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String, serde_json::Value)>> {
    // Ids come from the practice's own rows, so no practice filter is needed here.
    instruments::table
        .filter(instruments::id.eq_any(ids))
        .select((instruments::id, instruments::title, instruments::definition))
        .load(&mut { conn })
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct LocalNormRow {
    pub instrument_id: Uuid,
    pub subscale: String,
    pub n: i32,
    pub mean: f64,
    pub sd: f64,
    pub alpha: f64,
    pub computed_at: DateTime<Utc>,
}

pub async fn local_norms(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    instrument_ids: &[Uuid],
) -> QueryResult<Vec<LocalNormRow>> {
    local_norms::table
        .filter(local_norms::practice_id.eq(practice.0))
        .filter(local_norms::instrument_id.eq_any(instrument_ids))
        .select((
            local_norms::instrument_id,
            local_norms::subscale,
            local_norms::n,
            local_norms::mean,
            local_norms::sd,
            local_norms::alpha,
            local_norms::computed_at,
        ))
        .load(&mut { conn })
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct AssignmentRow {
    pub id: Uuid,
    pub exercise_key: String,
    pub exercise_title: String,
    pub cadence_per_week: i32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn assignments(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<AssignmentRow>> {
    homework::table
        .inner_join(exercises::table)
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::client_id.eq(client_id))
        .order(homework::id)
        .select((
            homework::id,
            exercises::key,
            exercises::title,
            homework::cadence_per_week,
            homework::starts_on,
            homework::ends_on,
            homework::status,
            homework::updated_at,
        ))
        .load(&mut { conn })
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct PauseRow {
    pub homework_id: Uuid,
    pub paused_at: DateTime<Utc>,
    /// `None` while the pause lasts.
    pub resumed_at: Option<DateTime<Utc>>,
}

pub async fn pauses(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    homework_ids: &[Uuid],
) -> QueryResult<Vec<PauseRow>> {
    homework_pauses::table
        .filter(homework_pauses::practice_id.eq(practice.0))
        .filter(homework_pauses::homework_id.eq_any(homework_ids))
        .select((homework_pauses::homework_id, homework_pauses::paused_at, homework_pauses::resumed_at))
        .load(&mut { conn })
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct LogSummary {
    pub homework_id: Uuid,
    /// Done practices within the span asked for.
    pub done_in_period: i64,
    /// The latest log of any kind.
    pub last_logged_at: Option<DateTime<Utc>>,
}

pub async fn log_summaries(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    homework_ids: &[Uuid],
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> QueryResult<Vec<LogSummary>> {
    let in_period = sql::<BigInt>("count(*) FILTER (WHERE done AND occurred_at >= coalesce(")
        .bind::<Nullable<Timestamptz>, _>(start)
        .sql(", '-infinity') AND occurred_at < ")
        .bind::<Timestamptz, _>(end)
        .sql(")");
    homework_logs::table
        .filter(homework_logs::practice_id.eq(practice.0))
        .filter(homework_logs::homework_id.eq_any(homework_ids))
        .group_by(homework_logs::homework_id)
        .select((homework_logs::homework_id, in_period, max(homework_logs::occurred_at)))
        .load(&mut { conn })
        .await
}

/// When each done practice in `[start, end)` happened: (homework id, at).
pub async fn done_logs(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    homework_ids: &[Uuid],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> QueryResult<Vec<(Uuid, DateTime<Utc>)>> {
    homework_logs::table
        .filter(homework_logs::practice_id.eq(practice.0))
        .filter(homework_logs::homework_id.eq_any(homework_ids))
        .filter(homework_logs::occurred_at.ge(start))
        .filter(homework_logs::occurred_at.lt(end))
        .filter(homework_logs::done.eq(true))
        .select((homework_logs::homework_id, homework_logs::occurred_at))
        .load(&mut { conn })
        .await
}

#[derive(Debug, Clone, Queryable)]
pub struct OverdueRow {
    pub assessment_id: Uuid,
    pub instrument_key: String,
    pub due_on: Option<NaiveDate>,
}

/// Assigned, not completed, and due before `today`.
pub async fn overdue_assessments(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    today: NaiveDate,
) -> QueryResult<Vec<OverdueRow>> {
    assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::client_id.eq(client_id))
        .filter(assessments::status.eq("assigned"))
        .filter(assessments::due_on.lt(today))
        .order(assessments::due_on)
        .select((assessments::id, instruments::key, assessments::due_on))
        .load(&mut { conn })
        .await
}
