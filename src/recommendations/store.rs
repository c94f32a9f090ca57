//! What recommendations read: a client's latest completed result per
//! instrument, and the exercise keys the client is working on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{assessments, exercises, homework, instruments};
use crate::practices::PracticeId;

pub struct LatestAssessment {
    pub assessment_id: Uuid,
    pub instrument_key: String,
    pub completed_at: DateTime<Utc>,
    pub result: serde_json::Value,
}

/// Assessment id, instrument key, completion time and result, as stored.
type CompletedRow = (Uuid, String, Option<DateTime<Utc>>, Option<serde_json::Value>);

pub async fn latest_results(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<LatestAssessment>> {
    let rows: Vec<CompletedRow> = assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::client_id.eq(client_id))
        .filter(assessments::status.eq("completed"))
        .distinct_on(instruments::key)
        .order((instruments::key, assessments::completed_at.desc()))
        .select((assessments::id, instruments::key, assessments::completed_at, assessments::result))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(assessment_id, instrument_key, completed_at, result)| {
            Some(LatestAssessment { assessment_id, instrument_key, completed_at: completed_at?, result: result? })
        })
        .collect())
}

/// Keys of the exercises the client has an active or paused assignment of.
pub async fn assigned_exercise_keys(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
) -> QueryResult<Vec<String>> {
    homework::table
        .inner_join(exercises::table)
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::client_id.eq(client_id))
        .filter(homework::status.eq_any(["active", "paused"]))
        .select(exercises::key)
        .distinct()
        .load(conn)
        .await
}

/// The latest version of every exercise the practice can see.
pub async fn current_exercises(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
) -> QueryResult<Vec<(Uuid, String, serde_json::Value)>> {
    exercises::table
        .filter(exercises::practice_id.is_null().or(exercises::practice_id.eq(practice.0)))
        .distinct_on(exercises::key)
        .order((exercises::key, exercises::version.desc()))
        .select((exercises::id, exercises::key, exercises::definition))
        .load(conn)
        .await
}
