//! Relationship queries, practice first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{relationship_members, relationships};
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = relationships)]
pub struct RelationshipRow {
    pub id: Uuid,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts the relationship and its members; run it inside a transaction.
pub async fn insert_relationship(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    kind: &str,
    client_ids: &[Uuid],
) -> QueryResult<RelationshipRow> {
    let row: RelationshipRow = diesel::insert_into(relationships::table)
        .values((
            relationships::practice_id.eq(practice.0),
            relationships::id.eq(Uuid::now_v7()),
            relationships::kind.eq(kind),
        ))
        .returning(RelationshipRow::as_returning())
        .get_result(conn)
        .await?;
    let members: Vec<_> = client_ids
        .iter()
        .map(|client_id| {
            (
                relationship_members::practice_id.eq(practice.0),
                relationship_members::relationship_id.eq(row.id),
                relationship_members::client_id.eq(*client_id),
            )
        })
        .collect();
    diesel::insert_into(relationship_members::table).values(members).execute(conn).await?;
    Ok(row)
}

pub async fn find_relationship(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<RelationshipRow>> {
    relationships::table
        .filter(relationships::practice_id.eq(practice.0))
        .filter(relationships::id.eq(id))
        .select(RelationshipRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list_relationships(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: Option<Uuid>,
    page: PageRequest,
) -> QueryResult<Vec<RelationshipRow>> {
    let mut query = relationships::table
        .filter(relationships::practice_id.eq(practice.0))
        .select(RelationshipRow::as_select())
        .order(relationships::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(relationships::id.gt(after));
    }
    if let Some(client_id) = client_id {
        let with_member = relationship_members::table
            .filter(relationship_members::practice_id.eq(practice.0))
            .filter(relationship_members::client_id.eq(client_id))
            .select(relationship_members::relationship_id);
        query = query.filter(relationships::id.eq_any(with_member));
    }
    query.load(conn).await
}

/// The member client ids of each relationship, in client id order.
pub async fn members(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    relationship_ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<Uuid>>> {
    let rows: Vec<(Uuid, Uuid)> = relationship_members::table
        .filter(relationship_members::practice_id.eq(practice.0))
        .filter(relationship_members::relationship_id.eq_any(relationship_ids))
        .order((relationship_members::relationship_id, relationship_members::client_id))
        .select((relationship_members::relationship_id, relationship_members::client_id))
        .load(conn)
        .await?;
    let mut by_relationship: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (relationship_id, client_id) in rows {
        by_relationship.entry(relationship_id).or_default().push(client_id);
    }
    Ok(by_relationship)
}

/// Deletes the relationship (its members go with it); `false` if none.
pub async fn delete_relationship(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<bool> {
    let deleted = diesel::delete(relationships::table)
        .filter(relationships::practice_id.eq(practice.0))
        .filter(relationships::id.eq(id))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}
