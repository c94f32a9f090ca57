//! Homework queries, practice first.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::HomeworkStatus;
use crate::db::schema::{exercises, homework, homework_logs, homework_pauses};
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable)]
pub struct HomeworkRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub exercise_id: Uuid,
    pub exercise_key: String,
    pub exercise_version: i32,
    pub cadence_per_week: i32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub status: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) type RowColumns = (
    homework::id,
    homework::client_id,
    homework::exercise_id,
    exercises::key,
    exercises::version,
    homework::cadence_per_week,
    homework::starts_on,
    homework::ends_on,
    homework::note,
    homework::status,
    homework::version,
    homework::created_at,
    homework::updated_at,
);

pub(crate) const ROW: RowColumns = (
    homework::id,
    homework::client_id,
    homework::exercise_id,
    exercises::key,
    exercises::version,
    homework::cadence_per_week,
    homework::starts_on,
    homework::ends_on,
    homework::note,
    homework::status,
    homework::version,
    homework::created_at,
    homework::updated_at,
);

pub struct NewRow<'a> {
    pub client_id: Uuid,
    pub exercise_id: Uuid,
    pub cadence_per_week: i32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub note: Option<&'a str>,
}

pub async fn insert_homework(conn: &mut AsyncPgConnection, practice: PracticeId, new: NewRow<'_>) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(homework::table)
        .values((
            homework::practice_id.eq(practice.0),
            homework::id.eq(id),
            homework::client_id.eq(new.client_id),
            homework::exercise_id.eq(new.exercise_id),
            homework::cadence_per_week.eq(new.cadence_per_week),
            homework::starts_on.eq(new.starts_on),
            homework::ends_on.eq(new.ends_on),
            homework::note.eq(new.note),
            homework::status.eq(HomeworkStatus::Active.as_str()),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn find_homework(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<HomeworkRow>> {
    homework::table
        .inner_join(exercises::table)
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::id.eq(id))
        .select(ROW)
        .first(&mut { conn })
        .await
        .optional()
}

pub async fn list_homework(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Option<Uuid>,
    status: Option<HomeworkStatus>,
    page: PageRequest,
) -> QueryResult<Vec<HomeworkRow>> {
    let mut query = homework::table
        .inner_join(exercises::table)
        .filter(homework::practice_id.eq(practice.0))
        .select(ROW)
        .order(homework::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(homework::id.gt(after));
    }
    if let Some(client_id) = client_id {
        query = query.filter(homework::client_id.eq(client_id));
    }
    if let Some(status) = status {
        query = query.filter(homework::status.eq(status.as_str()));
    }
    query.load(conn).await
}

/// The assignment under a row lock, for a change or a log.
pub async fn lock_homework(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<HomeworkRow>> {
    let locked: Option<Uuid> = homework::table
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::id.eq(id))
        .select(homework::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    match locked {
        Some(id) => find_homework(conn, practice, id).await,
        None => Ok(None),
    }
}

pub struct Changes<'a> {
    pub status: HomeworkStatus,
    pub cadence_per_week: i32,
    pub ends_on: Option<NaiveDate>,
    pub note: Option<&'a str>,
}

/// Writes the changed assignment, and opens or closes a paused span when the
/// status moves into or out of `paused`.
pub async fn update_homework(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    current: &HomeworkRow,
    changes: Changes<'_>,
) -> QueryResult<()> {
    diesel::update(homework::table)
        .filter(homework::practice_id.eq(practice.0))
        .filter(homework::id.eq(current.id))
        .set((
            homework::status.eq(changes.status.as_str()),
            homework::cadence_per_week.eq(changes.cadence_per_week),
            homework::ends_on.eq(changes.ends_on),
            homework::note.eq(changes.note),
            homework::version.eq(current.version + 1),
            homework::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let was_paused = current.status == HomeworkStatus::Paused.as_str();
    let is_paused = changes.status == HomeworkStatus::Paused;
    if is_paused && !was_paused {
        diesel::insert_into(homework_pauses::table)
            .values((
                homework_pauses::practice_id.eq(practice.0),
                homework_pauses::homework_id.eq(current.id),
                homework_pauses::paused_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    } else if was_paused && !is_paused {
        diesel::update(homework_pauses::table)
            .filter(homework_pauses::practice_id.eq(practice.0))
            .filter(homework_pauses::homework_id.eq(current.id))
            .filter(homework_pauses::resumed_at.is_null())
            .set(homework_pauses::resumed_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = homework_logs)]
pub struct LogRow {
    pub id: Uuid,
    pub homework_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub done: bool,
    pub fields: serde_json::Value,
    pub reflection: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct NewLog<'a> {
    pub homework_id: Uuid,
    pub client_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub done: bool,
    pub fields: serde_json::Value,
    pub reflection: Option<&'a str>,
}

pub async fn insert_log(conn: &mut AsyncPgConnection, practice: PracticeId, new: NewLog<'_>) -> QueryResult<LogRow> {
    diesel::insert_into(homework_logs::table)
        .values((
            homework_logs::practice_id.eq(practice.0),
            homework_logs::id.eq(Uuid::now_v7()),
            homework_logs::homework_id.eq(new.homework_id),
            homework_logs::client_id.eq(new.client_id),
            homework_logs::occurred_at.eq(new.occurred_at),
            homework_logs::done.eq(new.done),
            homework_logs::fields.eq(new.fields),
            homework_logs::reflection.eq(new.reflection),
        ))
        .returning(LogRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn list_logs(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    homework_id: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    page: PageRequest,
) -> QueryResult<Vec<LogRow>> {
    let mut query = homework_logs::table
        .filter(homework_logs::practice_id.eq(practice.0))
        .filter(homework_logs::homework_id.eq(homework_id))
        .select(LogRow::as_select())
        .order(homework_logs::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(homework_logs::id.gt(after));
    }
    if let Some(from) = from {
        query = query.filter(homework_logs::occurred_at.ge(from));
    }
    if let Some(to) = to {
        query = query.filter(homework_logs::occurred_at.lt(to));
    }
    query.load(conn).await
}
