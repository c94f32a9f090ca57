//! A client's whole record, and the practice-wide export by FHIR Bulk Data
//! Access.
//!
//! Both read inside one `REPEATABLE READ READ ONLY` transaction, so what
//! they write is one consistent snapshot, and both read in keyset pages and
//! write as they go, so memory stays flat however long a client's history or
//! large a practice: a caller holds a page of rows and the largest single
//! resource (a homework `Task` carries its logs), never the whole.
//!
//! - [`record`]: `GET /v1/clients/{id}/record`, JSON or a FHIR `Bundle`,
//!   streamed to the caller as it is read;
//! - [`job`]: the bulk export, run in the background by any instance that
//!   claims it, writing NDJSON files into PostgreSQL in chunks;
//! - [`walk`]: the FHIR resources of a practice or a client, shared by both;
//! - [`families`] and [`progress`]: the pure rules (scopes, formats,
//!   progress and manifests).

pub mod families;
pub mod fhir;
pub mod job;
pub mod model;
pub mod progress;
pub mod record;
pub mod routes;
pub mod store;
pub mod walk;

use std::time::Duration;

/// Why producing a record or an export stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// The caller stopped reading (a record's connection closed).
    #[error("the reader went away")]
    Closed,
    /// The export was deleted, or another instance took it over.
    #[error("the export is no longer ours")]
    Cancelled,
    /// This instance is shutting down.
    #[error("stopping")]
    Stopping,
    /// Stored data the mappers cannot read (a bug, not the caller's).
    #[error("unreadable stored data: {0}")]
    Data(String),
}

impl ExportError {
    pub fn data(err: impl std::fmt::Display) -> Self {
        Self::Data(err.to_string())
    }
}

/// How the bulk export runs, from the settings (`ATTUNE_EXPORT_*`).
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// How long a finished export's files are kept.
    pub retention: Duration,
    /// How long a claim holds without being renewed; a runner renews it at
    /// a third of this, so an instance that dies is taken over after it.
    pub lease: Duration,
    /// Resources per NDJSON file before the next part starts.
    pub file_max_resources: i64,
    /// Exports this instance runs at once (0: none; others run them).
    pub concurrency: usize,
    /// How often an idle runner looks for a queued export.
    pub poll: Duration,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(60),
            file_max_resources: 100_000,
            concurrency: 1,
            poll: Duration::from_secs(1),
        }
    }
}

/// Attempts an export gets (a crash or an error each count one) before it
/// is failed with the last reason.
pub const MAX_ATTEMPTS: i32 = 3;

/// How far before `since` an incremental export looks: a change made by a
/// transaction still open when the previous export's snapshot was taken
/// carries a timestamp before that export's `transactionTime` but was not
/// in it. Looking back this much more means a resource may come in two
/// consecutive incremental exports, but never in neither.
pub const SINCE_LOOKBACK: chrono::Duration = chrono::Duration::minutes(5);
