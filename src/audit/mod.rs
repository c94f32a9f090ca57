//! The audit trail: who touched which client's data, how, and with what
//! outcome, for every read, search, export and write, and every credential
//! change; refusals included, so probing shows. Ids only, never clinical
//! content. Append-only and hash-chained per practice (see the migration
//! `audit_trail` and [`store`]).
//!
//! How an entry is written depends on what the request did:
//! - a write records it last in its own transaction ([`record`]), so the
//!   change and its entry commit together or not at all;
//! - everything else (reads, searches, exports, refusals, a write that
//!   changed nothing) is recorded by the [`trail`] middleware through the
//!   worker's group-committing [`writer`], before the answer leaves.

pub mod fhir;
pub mod model;
pub mod note;
pub mod operations;
pub mod routes;
pub mod store;
pub mod trail;
pub mod writer;

use actix_web::http::StatusCode;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

pub use note::Note;
pub use operations::Action;

/// Records a write's entry with its `outcome`, inside the write's
/// transaction. Call it last: the practice's chain head stays locked from
/// here until the transaction commits.
pub async fn record(conn: &mut AsyncPgConnection, note: &Note, outcome: StatusCode) -> QueryResult<()> {
    let Some(entry) = note.entry(outcome.as_u16()) else { return Ok(()) };
    store::append(conn, entry.practice_id, &[&entry]).await?;
    note.mark_recorded();
    Ok(())
}
