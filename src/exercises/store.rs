//! Exercise queries. A practice sees the built-in exercises and its own.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::definition::{ExerciseDefinition, Target};
use crate::db::schema::exercises;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = exercises)]
pub struct ExerciseRow {
    pub id: Uuid,
    pub practice_id: Option<Uuid>,
    pub key: String,
    pub version: i32,
    pub title: String,
    pub definition: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn find_exercise(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<ExerciseRow>> {
    exercises::table
        .filter(exercises::id.eq(id))
        .filter(exercises::practice_id.is_null().or(exercises::practice_id.eq(practice.0)))
        .select(ExerciseRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

pub async fn list_exercises(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    target: Option<Target>,
    key: Option<&str>,
    page: PageRequest,
) -> QueryResult<Vec<ExerciseRow>> {
    let mut query = exercises::table
        .filter(exercises::practice_id.is_null().or(exercises::practice_id.eq(practice.0)))
        .select(ExerciseRow::as_select())
        .order(exercises::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(exercises::id.gt(after));
    }
    if let Some(target) = target {
        query = query.filter(exercises::target.eq(target.as_str()));
    }
    if let Some(key) = key {
        query = query.filter(exercises::key.eq(key.to_owned()));
    }
    query.load(conn).await
}

pub enum Registration {
    Registered(ExerciseRow),
    /// The key belongs to a built-in exercise.
    KeyReserved,
}

/// Registers the next version of a practice's exercise. Call inside a
/// transaction: a per-key advisory lock orders concurrent registrations.
pub async fn register_exercise(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    definition: &ExerciseDefinition,
) -> QueryResult<Registration> {
    let builtin: i64 = exercises::table
        .filter(exercises::practice_id.is_null())
        .filter(exercises::key.eq(&definition.key))
        .count()
        .get_result(conn)
        .await?;
    if builtin > 0 {
        return Ok(Registration::KeyReserved);
    }
    crate::db::advisory_xact_lock(conn, &format!("exercise:{practice}:{}", definition.key)).await?;
    let latest: Option<i32> = exercises::table
        .filter(exercises::practice_id.eq(practice.0))
        .filter(exercises::key.eq(&definition.key))
        .select(diesel::dsl::max(exercises::version))
        .first(conn)
        .await?;
    insert(conn, Some(practice.0), definition, latest.unwrap_or(0) + 1).await.map(Registration::Registered)
}

async fn insert(
    conn: &mut AsyncPgConnection,
    practice_id: Option<Uuid>,
    definition: &ExerciseDefinition,
    version: i32,
) -> QueryResult<ExerciseRow> {
    let json = crate::db::to_jsonb(definition)?;
    diesel::insert_into(exercises::table)
        .values((
            exercises::id.eq(Uuid::now_v7()),
            exercises::practice_id.eq(practice_id),
            exercises::key.eq(&definition.key),
            exercises::version.eq(version),
            exercises::title.eq(&definition.title),
            exercises::target.eq(definition.target.as_str()),
            exercises::definition.eq(json),
        ))
        .returning(ExerciseRow::as_returning())
        .get_result(conn)
        .await
}

/// Makes a built-in definition current: inserts it as the next version when
/// it differs from the latest stored one. Safe on many instances at once.
pub async fn ensure_builtin(conn: &mut AsyncPgConnection, definition: &ExerciseDefinition) -> QueryResult<()> {
    let latest: Option<(i32, serde_json::Value)> = exercises::table
        .filter(exercises::practice_id.is_null())
        .filter(exercises::key.eq(&definition.key))
        .order(exercises::version.desc())
        .select((exercises::version, exercises::definition))
        .first(conn)
        .await
        .optional()?;
    let next = match latest {
        Some((version, stored)) => {
            if serde_json::from_value::<ExerciseDefinition>(stored).is_ok_and(|s| &s == definition) {
                return Ok(());
            }
            version + 1
        }
        None => 1,
    };
    // Another instance may have loaded the same version first.
    crate::db::unless_already_inserted(insert(conn, None, definition, next).await)
}
