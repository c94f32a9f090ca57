//! Client progress: score series with reliable change, homework adherence,
//! flags and charts. Reads what assessments and homework store.

mod chart;
pub mod model;
pub mod report;
pub mod routes;
pub mod stats;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::future::try_join3;
use uuid::Uuid;

use crate::practices::PracticeId;
use model::AdherenceFigures;
use report::HomeworkHistory;
use store::Period;

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
