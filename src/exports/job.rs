//! The bulk export, run in the background through the shared job runner.
//!
//! **Claiming.** Every instance runs an [`ExportRunner`] queue: it claims
//! the oldest due export (`FOR UPDATE SKIP LOCKED`, then a lease), so any
//! instance may run any practice's export, and at most
//! `ATTUNE_EXPORT_CONCURRENCY` at once.
//!
//! **Consistency.** An attempt reads everything inside ONE
//! `REPEATABLE READ READ ONLY` transaction on one connection: its first
//! statement takes the snapshot and reads `clock_timestamp()`, which becomes
//! the manifest's `transactionTime` (every change in the files committed
//! before it). Rows come in keyset pages. Files are written through a
//! second connection, a chunk of whole lines (about 1 MiB) per insert, a
//! new part every `ATTUNE_EXPORT_FILE_MAX_RESOURCES` resources; memory holds
//! a page of rows, a chunk per type and one resource, whatever the size of
//! the practice.
//!
//! **Restarts.** While it runs, the attempt renews its lease (a third of
//! `ATTUNE_EXPORT_LEASE_SECONDS`) and records progress. An instance that
//! stops gracefully gives the export back to the queue; one that dies stops
//! renewing, and when the lease runs out another instance claims the export
//! and starts it afresh (a new snapshot; what the dead attempt wrote is
//! dropped). Each claim counts an attempt; after [`MAX_ATTEMPTS`] the export
//! is failed with the last reason. So an export is never left "running"
//! forever: it completes, or fails saying why.
//!
//! **Cancelling.** `DELETE` deletes the row and its files; the renewal
//! finds the row gone and the attempt stops at its next resource.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};

use super::model::ExportType;
use super::store::{self, Claimed, Slice};
use super::walk::{self, Catalog, Sink};
use super::{ExportError, ExportSettings, MAX_ATTEMPTS, SINCE_LOOKBACK};
use crate::db::DbPool;
use crate::jobs::Queue;
use crate::practices::PracticeId;

/// Bytes of whole lines gathered before a chunk is stored.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// How an attempt is told to stop: by the renewal (the export is gone or
/// another instance has it) or by this instance shutting down.
const GOING: u8 = 0;
const CANCELLED: u8 = 1;
const STOPPING: u8 = 2;

/// A file being written.
struct OpenFile {
    part: i32,
    seq: i32,
    buf: Vec<u8>,
    resources: i64,
    bytes: i64,
}

/// An export's NDJSON files, one open part per type, written in chunks
/// through their own connection (each chunk commits on its own).
pub struct NdjsonFiles<'w> {
    conn: &'w mut AsyncPgConnection,
    claimed: &'w Claimed,
    max_resources: i64,
    open: BTreeMap<ExportType, OpenFile>,
    /// The next part of each type.
    next_part: BTreeMap<ExportType, i32>,
    written: &'w AtomicI64,
    signal: &'w AtomicU8,
}

impl<'w> NdjsonFiles<'w> {
    fn new(
        conn: &'w mut AsyncPgConnection,
        claimed: &'w Claimed,
        max_resources: i64,
        written: &'w AtomicI64,
        signal: &'w AtomicU8,
    ) -> Self {
        Self {
            conn,
            claimed,
            max_resources: max_resources.max(1),
            open: BTreeMap::new(),
            next_part: BTreeMap::new(),
            written,
            signal,
        }
    }

    /// Appends one resource as a line of its type's current file.
    pub async fn put(&mut self, kind: ExportType, resource: &Value) -> Result<(), ExportError> {
        match self.signal.load(Ordering::Relaxed) {
            CANCELLED => return Err(ExportError::Cancelled),
            STOPPING => return Err(ExportError::Stopping),
            _ => {}
        }
        let next_part = self.next_part.entry(kind).or_insert(1);
        let file = self.open.entry(kind).or_insert_with(|| {
            let part = *next_part;
            *next_part += 1;
            OpenFile { part, seq: 0, buf: Vec::with_capacity(CHUNK_BYTES + 64 * 1024), resources: 0, bytes: 0 }
        });
        let before = file.buf.len();
        serde_json::to_writer(&mut file.buf, resource).map_err(ExportError::data)?;
        file.buf.push(b'\n');
        file.bytes += i64::try_from(file.buf.len() - before).unwrap_or(i64::MAX);
        file.resources += 1;
        self.written.fetch_add(1, Ordering::Relaxed);
        if file.buf.len() >= CHUNK_BYTES {
            self.store_chunk(kind).await?;
        }
        if self.open.get(&kind).is_some_and(|file| file.resources >= self.max_resources) {
            self.close(kind).await?;
        }
        Ok(())
    }

    async fn store_chunk(&mut self, kind: ExportType) -> Result<(), ExportError> {
        let Some(file) = self.open.get_mut(&kind) else { return Ok(()) };
        if file.buf.is_empty() {
            return Ok(());
        }
        file.seq += 1;
        store::insert_chunk(self.conn, self.claimed, kind.as_str(), file.part, file.seq, &file.buf)
            .await
            .map_err(gone_or_database)?;
        file.buf.clear();
        Ok(())
    }

    async fn close(&mut self, kind: ExportType) -> Result<(), ExportError> {
        self.store_chunk(kind).await?;
        if let Some(file) = self.open.remove(&kind) {
            store::insert_file(self.conn, self.claimed, kind.as_str(), file.part, file.resources, file.bytes)
                .await
                .map_err(gone_or_database)?;
        }
        Ok(())
    }

    /// Closes every open file.
    async fn finish(&mut self) -> Result<(), ExportError> {
        let kinds: Vec<ExportType> = self.open.keys().copied().collect();
        for kind in kinds {
            self.close(kind).await?;
        }
        Ok(())
    }
}

/// A chunk whose export was deleted meanwhile breaks the foreign key: the
/// export was cancelled, not broken.
fn gone_or_database(err: diesel::result::Error) -> ExportError {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => ExportError::Cancelled,
        other => ExportError::Database(other),
    }
}

/// Runs queued exports on this instance (see the module's description).
pub struct ExportRunner {
    pool: DbPool,
    settings: ExportSettings,
    slots: Arc<Semaphore>,
    stopping: watch::Sender<bool>,
}

impl ExportRunner {
    pub fn new(pool: DbPool, settings: ExportSettings) -> Self {
        let slots = Arc::new(Semaphore::new(settings.concurrency));
        Self { pool, settings, slots, stopping: watch::channel(false).0 }
    }

    async fn claim_and_start(&self) -> anyhow::Result<usize> {
        if *self.stopping.borrow() {
            return Ok(0);
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else { return Ok(0) };
        let mut conn = crate::db::connection(&self.pool).await?;
        let Some(claimed) = store::claim(&mut conn, self.settings.lease).await? else { return Ok(0) };
        if claimed.attempts > MAX_ATTEMPTS {
            let last = claimed.error.as_deref().unwrap_or("it did not finish");
            let reason = format!("gave up after {MAX_ATTEMPTS} attempts; the last: {last}");
            tracing::warn!(practice = %claimed.practice_id, export = %claimed.id, "export failed for good");
            store::fail(&mut conn, &claimed, &reason).await?;
            return Ok(1);
        }
        drop(conn);
        let (pool, settings, stopping) = (self.pool.clone(), self.settings.clone(), self.stopping.subscribe());
        tokio::spawn(async move {
            run(&pool, &settings, claimed, stopping).await;
            drop(slot);
        });
        Ok(1)
    }
}

impl Queue for ExportRunner {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<usize>> {
        Box::pin(self.claim_and_start())
    }

    /// Tells running attempts to give their exports back, and waits for them.
    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.stopping.send(true);
            let all = u32::try_from(self.settings.concurrency).unwrap_or(u32::MAX);
            if all > 0 {
                let _ = self.slots.acquire_many(all).await;
            }
        })
    }
}

/// One attempt at a claimed export, from claim to completion or release.
async fn run(pool: &DbPool, settings: &ExportSettings, claimed: Claimed, mut stopping: watch::Receiver<bool>) {
    let (practice, export) = (claimed.practice_id, claimed.id);
    tracing::info!(%practice, %export, attempt = claimed.attempts, "export started");
    let written = Arc::new(AtomicI64::new(0));
    let total = Arc::new(AtomicI64::new(-1));
    let signal = Arc::new(AtomicU8::new(GOING));
    let (finished_tx, mut finished_rx) = watch::channel(false);
    // The renewal: keeps the lease, records progress, notices cancellation
    // and shutdown.
    let renewal = {
        let (pool, claimed, written, total, signal) =
            (pool.clone(), claimed.clone(), written.clone(), total.clone(), signal.clone());
        let lease = settings.lease;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = stopping.changed() => {
                        signal.store(STOPPING, Ordering::Relaxed);
                        return;
                    }
                    _ = finished_rx.changed() => return,
                }
                let total = Some(total.load(Ordering::Relaxed)).filter(|t| *t >= 0);
                let renewed = match crate::db::connection(&pool).await {
                    Ok(mut conn) => {
                        store::heartbeat(&mut conn, &claimed, lease, written.load(Ordering::Relaxed), total).await
                    }
                    Err(err) => Err(diesel::result::Error::QueryBuilderError(err.to_string().into())),
                };
                match renewed {
                    Ok(true) => {}
                    Ok(false) => {
                        signal.store(CANCELLED, Ordering::Relaxed);
                        return;
                    }
                    // Not fatal: the lease has two more renewals to go.
                    Err(err) => tracing::warn!(error = %err, "renewing an export's lease failed"),
                }
            }
        })
    };
    let outcome = attempt(pool, settings, &claimed, &written, &total, &signal).await;
    let _ = finished_tx.send(true);
    let _ = renewal.await;
    if let Err(err) = finish(pool, settings, &claimed, outcome, written.load(Ordering::Relaxed)).await {
        // The lease runs out and another instance takes it over.
        tracing::warn!(%practice, %export, error = %err, "recording an export's outcome failed");
    }
}

/// Records how an attempt ended.
async fn finish(
    pool: &DbPool,
    settings: &ExportSettings,
    claimed: &Claimed,
    outcome: Result<DateTime<Utc>, ExportError>,
    written: i64,
) -> anyhow::Result<()> {
    let (practice, export) = (claimed.practice_id, claimed.id);
    let mut conn = crate::db::connection(pool).await?;
    match outcome {
        Ok(transaction_time) => {
            if store::complete(&mut conn, claimed, transaction_time, settings.retention, written).await? {
                tracing::info!(%practice, %export, resources = written, "export completed");
            }
        }
        Err(ExportError::Cancelled) => tracing::info!(%practice, %export, "export cancelled"),
        Err(ExportError::Stopping) => {
            store::delete_files(&mut conn, claimed).await?;
            store::release(&mut conn, claimed, None, Some(Duration::ZERO), true).await?;
            tracing::info!(%practice, %export, "export given back to the queue: this instance is stopping");
        }
        Err(err) => {
            tracing::error!(%practice, %export, error = %err, "export attempt failed");
            store::delete_files(&mut conn, claimed).await?;
            let reason = match err {
                ExportError::Database(_) => "the database failed while the export was being written",
                _ => "stored data could not be written as FHIR",
            };
            let retry = (claimed.attempts < MAX_ATTEMPTS)
                .then(|| Duration::from_secs(5 * 2_u64.pow(claimed.attempts.clamp(0, 6) as u32)));
            let reason = if retry.is_some() {
                reason.to_owned()
            } else {
                format!("gave up after {MAX_ATTEMPTS} attempts; the last: {reason}")
            };
            store::release(&mut conn, claimed, Some(&reason), retry, false).await?;
        }
    }
    Ok(())
}

/// Reads the snapshot and writes the files; answers the snapshot's time.
async fn attempt(
    pool: &DbPool,
    settings: &ExportSettings,
    claimed: &Claimed,
    written: &AtomicI64,
    total: &AtomicI64,
    signal: &AtomicU8,
) -> Result<DateTime<Utc>, ExportError> {
    let practice = PracticeId(claimed.practice_id);
    let types: Vec<ExportType> = claimed.types.iter().filter_map(|t| ExportType::parse(t)).collect();
    let wants = |kind: ExportType| types.contains(&kind);
    let since = claimed.since.map(|since| since - SINCE_LOOKBACK);
    let slice = Slice { client: None, since };
    let mut write =
        crate::db::connection(pool).await.map_err(|e| ExportError::data(format!("connection pool: {e}")))?;
    store::delete_files(&mut write, claimed).await?;
    let mut read = crate::db::connection(pool).await.map_err(|e| ExportError::data(format!("connection pool: {e}")))?;
    read.build_transaction()
        .repeatable_read()
        .read_only()
        .run(async |conn: &mut AsyncPgConnection| {
            let transaction_time = store::snapshot_time(conn).await?;
            total.store(store::count_resources(conn, practice, &types, since).await?, Ordering::Relaxed);
            let mut files = NdjsonFiles::new(&mut write, claimed, settings.file_max_resources, written, signal);
            let mut sink = Sink::Files(&mut files);
            let mut catalog = Catalog::default();
            if wants(ExportType::Patient) {
                walk::patients(conn, practice, slice, &mut sink).await?;
            }
            if wants(ExportType::Questionnaire) {
                walk::questionnaires(conn, practice, since, &mut sink).await?;
            }
            let (responses, observations) = (wants(ExportType::QuestionnaireResponse), wants(ExportType::Observation));
            if responses || observations {
                walk::assessments(conn, practice, slice, (responses, observations), &mut catalog, &mut sink).await?;
            }
            if wants(ExportType::Task) {
                walk::tasks(conn, practice, slice, &mut catalog, &mut sink).await?;
            }
            if wants(ExportType::AuditEvent) {
                walk::audit_events(conn, practice, since, &mut sink).await?;
            }
            files.finish().await?;
            Ok(transaction_time)
        })
        .await
}

/// The led purge: drops expired exports' files (see [`store::purge`]).
pub fn purge(conn: &mut AsyncPgConnection) -> BoxFuture<'_, anyhow::Result<u64>> {
    Box::pin(async move { Ok(store::purge(conn).await? as u64) })
}
