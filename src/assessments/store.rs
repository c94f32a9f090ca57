//! Assessment queries, practice first. Completing an assessment writes its
//! answers, its result and one score row per subscale; callers run it in a
//! transaction.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::AssessmentStatus;
use crate::db::schema::{assessment_scores, assessments, instruments};
use crate::http::pagination::PageRequest;
use crate::instruments::scoring::{Answer, ScoreResult};
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable)]
pub struct AssessmentRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub instrument_id: Uuid,
    pub instrument_key: String,
    pub instrument_version: i32,
    pub status: String,
    pub due_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub answers: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub version: i32,
}

pub(crate) type RowColumns = (
    assessments::id,
    assessments::client_id,
    assessments::instrument_id,
    instruments::key,
    instruments::version,
    assessments::status,
    assessments::due_on,
    assessments::created_at,
    assessments::completed_at,
    assessments::cancelled_at,
    assessments::answers,
    assessments::result,
    assessments::version,
);

pub(crate) const ROW: RowColumns = (
    assessments::id,
    assessments::client_id,
    assessments::instrument_id,
    instruments::key,
    instruments::version,
    assessments::status,
    assessments::due_on,
    assessments::created_at,
    assessments::completed_at,
    assessments::cancelled_at,
    assessments::answers,
    assessments::result,
    assessments::version,
);

pub struct AssessmentFilter {
    pub client_id: Option<Uuid>,
    pub instrument_key: Option<String>,
    pub status: Option<AssessmentStatus>,
    pub completed_since: Option<DateTime<Utc>>,
}

pub async fn find_assessment(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<AssessmentRow>> {
    assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::id.eq(id))
        .select(ROW)
        .first(&mut { conn })
        .await
        .optional()
}

pub async fn list_assessments(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    filter: &AssessmentFilter,
    page: PageRequest,
) -> QueryResult<Vec<AssessmentRow>> {
    let mut query = assessments::table
        .inner_join(instruments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .select(ROW)
        .order(assessments::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(assessments::id.gt(after));
    }
    if let Some(client_id) = filter.client_id {
        query = query.filter(assessments::client_id.eq(client_id));
    }
    if let Some(key) = &filter.instrument_key {
        query = query.filter(instruments::key.eq(key.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(assessments::status.eq(status.as_str()));
    }
    if let Some(since) = filter.completed_since {
        query = query.filter(assessments::completed_at.ge(since));
    }
    query.load(conn).await
}

pub async fn insert_assessment(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    instrument_id: Uuid,
    due_on: Option<NaiveDate>,
) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(assessments::table)
        .values((
            assessments::practice_id.eq(practice.0),
            assessments::id.eq(id),
            assessments::client_id.eq(client_id),
            assessments::instrument_id.eq(instrument_id),
            assessments::status.eq(AssessmentStatus::Assigned.as_str()),
            assessments::due_on.eq(due_on),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// What a state change needs to know, read under a row lock.
pub struct Locked {
    pub status: String,
    pub client_id: Uuid,
    pub instrument_id: Uuid,
}

pub async fn lock_assessment(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<Locked>> {
    let found: Option<(String, Uuid, Uuid)> = assessments::table
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::id.eq(id))
        .select((assessments::status, assessments::client_id, assessments::instrument_id))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(status, client_id, instrument_id)| Locked { status, client_id, instrument_id }))
}

/// A scored answer set and when it was given.
pub struct Completion<'a> {
    pub instrument_id: Uuid,
    pub instrument_key: &'a str,
    pub answers: &'a [Answer],
    pub result: &'a ScoreResult,
    pub at: DateTime<Utc>,
}

/// Records answers and their scores: the assessment row and one score row
/// per subscale (the series progress reads).
pub async fn complete(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    client_id: Uuid,
    completion: Completion<'_>,
) -> QueryResult<()> {
    let Completion { instrument_id, instrument_key, answers, result, at } = completion;
    let answers_json = crate::db::to_jsonb(&answers)?;
    let result_json = crate::db::to_jsonb(result)?;
    let completed_at: DateTime<Utc> = diesel::update(assessments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::id.eq(id))
        .set((
            assessments::status.eq(AssessmentStatus::Completed.as_str()),
            assessments::answers.eq(answers_json),
            assessments::result.eq(result_json),
            assessments::completed_at.eq(at),
            assessments::updated_at.eq(diesel::dsl::now),
            assessments::version.eq(assessments::version + 1),
        ))
        .returning(assessments::completed_at.assume_not_null())
        .get_result(conn)
        .await?;
    let rows: Vec<_> = result
        .subscales
        .iter()
        .map(|s| {
            (
                assessment_scores::practice_id.eq(practice.0),
                assessment_scores::assessment_id.eq(id),
                assessment_scores::client_id.eq(client_id),
                assessment_scores::instrument_id.eq(instrument_id),
                assessment_scores::instrument_key.eq(instrument_key),
                assessment_scores::subscale.eq(&s.key),
                assessment_scores::score.eq(s.score),
                assessment_scores::completed_at.eq(completed_at),
            )
        })
        .collect();
    diesel::insert_into(assessment_scores::table).values(rows).execute(conn).await?;
    Ok(())
}

pub async fn cancel(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<()> {
    diesel::update(assessments::table)
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::id.eq(id))
        .set((
            assessments::status.eq(AssessmentStatus::Cancelled.as_str()),
            assessments::cancelled_at.eq(diesel::dsl::now),
            assessments::updated_at.eq(diesel::dsl::now),
            assessments::version.eq(assessments::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
