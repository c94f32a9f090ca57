//! Group commit of the entries that are not written by a write's own
//! transaction (reads, searches, exports, refusals): a request hands its
//! entry over and waits until it is committed, and only then is answered,
//! so every answer has its entry even if the process dies the moment after.
//!
//! One writer per HTTP worker, on a connection opened on the worker's
//! thread (no thread hop). While one batch is being written, the entries
//! that arrive gather for the next; so under load a batch carries many
//! entries for one round trip and one commit, and when idle an entry is
//! written at once.
//!
//! By default the writer shares the worker's connection for short reads
//! ([`crate::db::worker`]): a batch's commit does not wait for the disk, so
//! it holds the reads pipelined behind it no longer than a read would, and
//! reads and entries travel in the same round trips (measured: 6-11% more
//! audited reads a second than with a connection each). A durable writer's
//! commit waits for the WAL flush, so it gets a connection of its own
//! rather than hold up the worker's reads.
//!
//! The connection commits without waiting for PostgreSQL's WAL flush
//! (`synchronous_commit = off`) unless the operator asks for it
//! (`ATTUNE_AUDIT_READS=durable`): an entry is committed, visible and in the
//! WAL before its answer leaves, so killing the service loses nothing; a
//! crash of PostgreSQL itself could lose the last fraction of a second of
//! read entries (never a write's, which commit with the write).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_util::future::join_all;
use tokio::sync::oneshot;

use super::note::Entry;
use super::store;
use crate::db::worker::WorkerConnection;
use crate::http::ApiError;
use crate::practices::PracticeId;

/// How read entries reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadAuditing {
    /// Committed before the answer; flushed to disk by PostgreSQL shortly after.
    On,
    /// Committed and flushed to disk before the answer.
    Durable,
    /// Reads and refusals are not recorded (writes always are, in their transaction).
    Off,
}

type Waiter = oneshot::Sender<Result<(), String>>;

/// A worker's writer. Cheap to clone; never leaves its thread.
#[derive(Clone)]
pub struct AuditWriter(Rc<Inner>);

struct Inner {
    conn: WorkerConnection,
    waiting: RefCell<Vec<(Entry, Waiter)>>,
    writing: Cell<bool>,
}

impl AuditWriter {
    /// What the writer's connection runs when it opens.
    pub fn session_setup(auditing: ReadAuditing) -> &'static str {
        // The one statement it runs is prepared once and planned once. Not
        // on Citus: a generic plan leaves the practice a parameter inside
        // the append, so Citus could not route it to the practice's shard.
        if auditing == ReadAuditing::Durable {
            generic_plans_unless_citus!(false)
        } else {
            concat!(generic_plans_unless_citus!(false), "; SET synchronous_commit = off")
        }
    }

    /// A writer on `conn` (opened with [`Self::session_setup`]).
    pub fn new(conn: WorkerConnection) -> Self {
        Self(Rc::new(Inner { conn, waiting: RefCell::new(Vec::new()), writing: Cell::new(false) }))
    }

    /// Appends `entry` to its practice's chain; returns once it is committed.
    pub async fn append(&self, entry: Entry) -> Result<(), ApiError> {
        let (done, written) = oneshot::channel();
        self.0.waiting.borrow_mut().push((entry, done));
        if !self.0.writing.replace(true) {
            actix_web::rt::spawn(self.clone().write_batches());
        }
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(ApiError::Unavailable(anyhow::anyhow!("writing the audit trail: {reason}"))),
            Err(_) => Err(ApiError::Unavailable(anyhow::anyhow!("the audit writer stopped"))),
        }
    }

    /// Writes what is waiting, batch after batch, until nothing is.
    async fn write_batches(self) {
        loop {
            let batch = std::mem::take(&mut *self.0.waiting.borrow_mut());
            if batch.is_empty() {
                self.0.writing.set(false);
                return;
            }
            self.write(batch).await;
        }
    }

    /// One statement per practice in the batch, pipelined on the connection;
    /// each practice's waiters hear how theirs went.
    async fn write(&self, batch: Vec<(Entry, Waiter)>) {
        let mut by_practice: BTreeMap<PracticeId, Vec<(Entry, Waiter)>> = BTreeMap::new();
        for (entry, waiter) in batch {
            by_practice.entry(entry.practice_id).or_default().push((entry, waiter));
        }
        let conn = &self.0.conn;
        let writes = by_practice.into_iter().map(|(practice, group)| async move {
            let (entries, waiters): (Vec<Entry>, Vec<Waiter>) = group.into_iter().unzip();
            let refs: Vec<&Entry> = entries.iter().collect();
            let outcome = conn.run(async |c| store::append(c, practice, &refs).await).await;
            let outcome = outcome.map_err(|err| {
                tracing::error!(error = %err, practice_id = %practice.0, "writing audit entries failed");
                "the database did not take the entries".to_owned()
            });
            for waiter in waiters {
                // A waiter that gave up (its client left) needs no answer.
                let _ = waiter.send(outcome.clone());
            }
        });
        join_all(writes).await;
    }
}
