//! The audit trail: who touched which client's data, how, and with what
//! outcome, for every read, search, export and write, and every credential
//! change; refusals included, so probing shows. Ids only, never clinical
//! content. Append-only and hash-chained per practice (see the migration
//! `audit_trail` and [`store`]).
//!
//! An entry is written with its request and linked into the practice's
//! hash chain within [`SEAL_PERIOD`] by a job on one instance at a time
//! ([`seal_all`]); writing takes no lock, so a practice's requests never
//! queue behind one another to be recorded.
//!
//! How an entry is written depends on what the request did:
//! - a write records it last in its own transaction ([`record`], or
//!   [`record_with`] and the events the write publishes, in the same
//!   statement), so the change, its entry and its events commit together or
//!   not at all;
//! - everything else (reads, searches, exports, refusals, a write that
//!   changed nothing) is recorded by the [`trail`] middleware through the
//!   worker's group-committing [`writer`], before the answer leaves.

/// The statement that has a connection plan each prepared statement once,
/// without the parameters' statistics (`generic_plans_unless_citus!(false)`
/// for the session, `(true)` for the transaction). Not on Citus, which must
/// see a statement's practice to route it to the practice's shard.
macro_rules! generic_plans_unless_citus {
    ($local:literal) => {
        concat!(
            "SELECT set_config('plan_cache_mode', CASE WHEN EXISTS \
             (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN 'auto' ELSE 'force_generic_plan' END, ",
            stringify!($local),
            ")"
        )
    };
}

mod content;
pub mod fhir;
pub mod model;
pub mod note;
pub mod operations;
pub mod routes;
mod sealing;
pub mod store;
pub mod trail;
pub mod writer;

use actix_web::http::StatusCode;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

pub use note::Note;

use crate::events::Outbox;
pub use operations::Action;

/// How often written entries are linked into their practice's chain.
pub const SEAL_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// How soon sealing comes back after a tick that found entries: under load
/// it links a few hundred at a time rather than a second's worth at once.
pub const SEAL_FOLLOW_UP: std::time::Duration = std::time::Duration::from_millis(5);

/// Records a write's entry with its `outcome`, inside the write's
/// transaction, so the change and its entry commit together.
pub async fn record(conn: &mut AsyncPgConnection, note: &Note, outcome: StatusCode) -> QueryResult<()> {
    let Some(entry) = note.entry(outcome.as_u16()) else { return Ok(()) };
    store::append(conn, entry.practice_id, &[&entry]).await?;
    note.mark_recorded();
    Ok(())
}

/// [`record`], with the events the write publishes: one statement writes
/// the entry and the events. A write whose operation records no entry
/// still writes its events.
pub async fn record_with(
    conn: &mut AsyncPgConnection,
    note: &Note,
    outcome: StatusCode,
    events: Outbox,
) -> QueryResult<()> {
    let Some(entry) = note.entry(outcome.as_u16()) else { return crate::events::store::write(conn, &events).await };
    if entry.practice_id == events.practice() {
        store::record(conn, &entry, &events).await?;
    } else {
        // Not expected (a write publishes events of its caller's practice);
        // should it happen, neither is written under the other's practice.
        store::append(conn, entry.practice_id, &[&entry]).await?;
        crate::events::store::write(conn, &events).await?;
    }
    note.mark_recorded();
    Ok(())
}

/// Links the practices' written entries into their chains (the sealing
/// job's tick, inside its transaction); returns how many. Most ticks look
/// only at recent batches of the practices last seen ([`sealing`]).
pub async fn seal_all(conn: &mut AsyncPgConnection) -> anyhow::Result<u64> {
    let started = std::time::Instant::now();
    // Links are derived, and the queue they release is released in the
    // same transaction: a commit lost in a database crash loses both
    // together, and the next tick links the same entries again. So the
    // commit need not wait for the disk (it did, up to 200 times a second).
    diesel_async::RunQueryDsl::execute(diesel::sql_query("SET LOCAL synchronous_commit = off"), conn).await?;
    let (practices, from, full) = match sealing::plan(started, std::time::SystemTime::now()) {
        sealing::Scan::Full => (store::practices_with_unsealed(conn).await?, uuid::Uuid::nil(), true),
        sealing::Scan::Recent { practices, from } => (practices, from, false),
    };
    let mut sealed = 0;
    for &practice in &practices {
        sealed += store::seal(conn, practice, from).await?;
    }
    if full {
        sealing::full_tick_done(started, practices);
    }
    Ok(sealed)
}
