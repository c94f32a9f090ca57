//! Practice norms queries, practice first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::LocalSubscaleNorms;
use crate::db::schema::{assessments, local_norms};
use crate::practices::PracticeId;

/// The answers of every completed administration of one instrument version.
pub async fn completed_answers(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    instrument_id: Uuid,
) -> QueryResult<Vec<Option<serde_json::Value>>> {
    assessments::table
        .filter(assessments::practice_id.eq(practice.0))
        .filter(assessments::instrument_id.eq(instrument_id))
        .filter(assessments::status.eq("completed"))
        .select(assessments::answers)
        .load(conn)
        .await
}

/// Replaces the practice's local norms for an instrument version; run it
/// inside a transaction.
pub async fn replace_local_norms(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    instrument_id: Uuid,
    computed_at: DateTime<Utc>,
    norms: &[LocalSubscaleNorms],
) -> QueryResult<()> {
    delete_local_norms(conn, practice, instrument_id).await?;
    let rows: Vec<_> = norms
        .iter()
        .map(|s| {
            (
                local_norms::practice_id.eq(practice.0),
                local_norms::instrument_id.eq(instrument_id),
                local_norms::subscale.eq(&s.key),
                local_norms::n.eq(s.n),
                local_norms::mean.eq(s.mean),
                local_norms::sd.eq(s.sd),
                local_norms::alpha.eq(s.alpha),
                local_norms::computed_at.eq(computed_at),
            )
        })
        .collect();
    diesel::insert_into(local_norms::table).values(rows).execute(conn).await?;
    Ok(())
}

/// Removes them; the number of subscale rows removed.
pub async fn delete_local_norms(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    instrument_id: Uuid,
) -> QueryResult<usize> {
    diesel::delete(local_norms::table)
        .filter(local_norms::practice_id.eq(practice.0))
        .filter(local_norms::instrument_id.eq(instrument_id))
        .execute(conn)
        .await
}
