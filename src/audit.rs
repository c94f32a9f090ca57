//! The audit trail: every write records who made it (the API client and, when
//! the token names one, the integrator's clinician), in the write's own
//! transaction. Ids only; never clinical content.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::schema::audit_events;
use crate::http::request_id;

pub async fn record(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    action: &str,
    resource_type: &str,
    resource_id: Uuid,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::practice_id.eq(principal.practice_id.0),
            audit_events::id.eq(Uuid::now_v7()),
            audit_events::subject.eq(&principal.subject),
            audit_events::actor.eq(&principal.actor),
            audit_events::action.eq(action),
            audit_events::resource_type.eq(resource_type),
            audit_events::resource_id.eq(resource_id),
            audit_events::request_id.eq(request_id::current()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
