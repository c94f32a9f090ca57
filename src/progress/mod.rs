//! Client progress: score series with reliable change, homework adherence,
//! flags and charts. Reads what assessments and homework store.

mod chart;
pub mod model;
pub mod report;
pub mod routes;
pub mod stats;
pub mod store;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::future::{try_join, try_join3};
use uuid::Uuid;

use crate::http::ApiError;
use crate::instruments::definition::InstrumentDefinition;
use crate::practices::PracticeId;
use model::AdherenceFigures;
use report::{HomeworkHistory, InstrumentVersion, LocalNorms};
use stats::ChangeCategory;
use store::{Period, ScoreRow};

/// The instrument versions the scores were taken with, and the practice's
/// local norms for them: two queries, pipelined.
pub async fn versions_and_norms(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    scores: &[ScoreRow],
) -> Result<(HashMap<Uuid, InstrumentVersion>, LocalNorms), ApiError> {
    let mut version_ids: Vec<Uuid> = scores.iter().map(|s| s.instrument_id).collect();
    version_ids.sort_unstable();
    version_ids.dedup();
    let (definitions, local_rows) =
        try_join(store::definitions(conn, &version_ids), store::local_norms(conn, practice, &version_ids)).await?;
    let mut versions = HashMap::new();
    for (id, title, definition) in definitions {
        let definition: InstrumentDefinition = serde_json::from_value(definition).map_err(ApiError::internal)?;
        versions.insert(id, InstrumentVersion { title, definition });
    }
    let local = local_rows.into_iter().map(|row| ((row.instrument_id, row.subscale.clone()), row)).collect();
    Ok((versions, local))
}

/// Whether `assessment_id`, just completed, shows a reliable deterioration
/// since the client's baseline on any of its instrument's `subscales`: the
/// progress view's own rule, applied as the answers arrive. That rule
/// compares a series' first score with its last, so only those are read,
/// not the client's whole history.
pub async fn shows_reliable_deterioration(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    (instrument_key, subscales): (&str, &[&str]),
    assessment_id: Uuid,
) -> Result<bool, ApiError> {
    let scores = store::series_ends(conn, practice, client_id, instrument_key, subscales).await?;
    // A first administration is its own baseline: nothing to compare.
    if scores.iter().all(|row| row.assessment_id == assessment_id) {
        return Ok(false);
    }
    let (versions, local) = versions_and_norms(conn, practice, &scores).await?;
    let progress = report::instrument_progress(&scores, &[], &versions, &local);
    Ok(progress.iter().flat_map(|instrument| &instrument.subscales).any(|subscale| {
        subscale.latest.assessment_id == assessment_id
            && subscale.reliable_change.category == Some(ChangeCategory::Deteriorated)
    }))
}

/// Loads a client's assignments, pauses and log counts for adherence in
/// `period`; done practices one by one from `weeks_from` on, if given.
pub async fn homework_history(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    period: Period,
    now: DateTime<Utc>,
    weeks_from: Option<NaiveDate>,
) -> QueryResult<HomeworkHistory> {
    let assignments = store::assignments(conn, practice, client_id).await?;
    homework_details(conn, practice, assignments, period, now, weeks_from).await
}

/// The rest of `homework_history` once the assignments are known; its three
/// queries go out pipelined.
pub async fn homework_details(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    assignments: Vec<store::AssignmentRow>,
    period: Period,
    now: DateTime<Utc>,
    weeks_from: Option<NaiveDate>,
) -> QueryResult<HomeworkHistory> {
    let homework_ids: Vec<Uuid> = assignments.iter().map(|a| a.id).collect();
    let end = period.end.map_or(now, |end| end.min(now));
    let done_logs = async {
        match weeks_from {
            Some(monday) => store::done_logs(conn, practice, &homework_ids, report::day_start(monday), end).await,
            None => Ok(Vec::new()),
        }
    };
    let (pauses, summaries, done_logs) = try_join3(
        store::pauses(conn, practice, &homework_ids),
        store::log_summaries(conn, practice, &homework_ids, period.start, end),
        done_logs,
    )
    .await?;
    Ok(HomeworkHistory { assignments, pauses, summaries, done_logs })
}

/// A client's adherence over all assignments to date, without weeks.
pub async fn overall_adherence(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<AdherenceFigures> {
    let period = Period { start: None, end: None };
    let history = homework_history(conn, practice, client_id, period, now, None).await?;
    Ok(report::adherence(&history, period, now, &[]).overall)
}
