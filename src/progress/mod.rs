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
use uuid::Uuid;

use crate::practices::PracticeId;
use model::AdherenceFigures;
use report::HomeworkHistory;
use store::Period;

/// Loads a client's assignments, pauses and log counts for adherence in
/// `period`; done practices one by one from `weeks_from` on, if given.
pub async fn homework_history(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    period: Period,
    now: DateTime<Utc>,
    weeks_from: Option<NaiveDate>,
) -> QueryResult<HomeworkHistory> {
    let assignments = store::assignments(conn, practice, client_id).await?;
    let homework_ids: Vec<Uuid> = assignments.iter().map(|a| a.id).collect();
    let pauses = store::pauses(conn, practice, &homework_ids).await?;
    let end = period.end.map_or(now, |end| end.min(now));
    let summaries = store::log_summaries(conn, practice, &homework_ids, period.start, end).await?;
    let done_logs = match weeks_from {
        Some(monday) => {
            let start = monday.and_time(chrono::NaiveTime::MIN).and_utc();
            store::done_logs(conn, practice, &homework_ids, start, end).await?
        }
        None => Vec::new(),
    };
    Ok(HomeworkHistory { assignments, pauses, summaries, done_logs })
}

/// A client's adherence over all assignments to date, without weeks.
pub async fn overall_adherence(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<AdherenceFigures> {
    let period = Period { start: None, end: None };
    let history = homework_history(conn, practice, client_id, period, now, None).await?;
    Ok(report::adherence(&history, period, now, &[]).overall)
}
