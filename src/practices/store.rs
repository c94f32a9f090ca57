use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::PracticeId;
use crate::db::schema::practices;

pub async fn create_practice(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<PracticeId> {
    let id = Uuid::now_v7();
    diesel::insert_into(practices::table)
        .values((practices::id.eq(id), practices::name.eq(name)))
        .execute(conn)
        .await?;
    Ok(PracticeId(id))
}
