//! The one runner of background work every feature shares.
//!
//! Three kinds of job:
//! - [`Jobs::local`]: work on this instance's own memory (forgetting idle
//!   rate-limit buckets), run on every instance;
//! - [`Jobs::led`]: work on the shared database that one instance at a time
//!   should do (purges, periodic checks). Each tick opens a transaction and
//!   takes a transaction-scoped advisory lock named after the job; the
//!   instance that gets it does the work inside that transaction, the others
//!   skip the tick. All state stays in PostgreSQL, so a crash loses nothing
//!   and a restart needs no hand-over;
//! - [`Jobs::claimed`]: a queue every instance works on at once, each
//!   claiming its own rows (`FOR UPDATE SKIP LOCKED` and a lease: webhook
//!   deliveries). It runs again at once while it finds work, and waits a
//!   period when it finds none.
//!
//! Timers live here and nowhere else, so that every loop in the service is
//! in one place, logs the same way and stops the same way: [`Jobs::stop`]
//! lets the round under way finish (so nothing claimed is left half-done),
//! then ends every loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::DbPool;

/// Running jobs; dropping it aborts them, [`Jobs::stop`] ends them gently.
pub struct Jobs {
    handles: Vec<JoinHandle<()>>,
    stopping: watch::Sender<bool>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self { handles: Vec::new(), stopping: watch::channel(false).0 }
    }
}

/// Waits for `due` (the next tick, a pause); `false` when the jobs are
/// stopping instead.
async fn wait_or_stop(due: impl Future, stopping: &mut watch::Receiver<bool>) -> bool {
    if *stopping.borrow() {
        return false;
    }
    tokio::select! {
        _ = due => true,
        _ = stopping.changed() => false,
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
    }
}

/// A queue of shared rows that instances claim and work on concurrently.
pub trait Queue: Send + Sync + 'static {
    /// Claims what is due and starts it; answers how much it started.
    fn work(&self) -> BoxFuture<'_, anyhow::Result<usize>>;
    /// Waits until the work started has finished.
    fn drain(&self) -> BoxFuture<'_, ()>;
}

/// A led job's work: it runs inside the transaction that holds the lock.
pub type LedWork = for<'c> fn(&'c mut AsyncPgConnection) -> BoxFuture<'c, anyhow::Result<u64>>;

impl Jobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` every `period` on this instance.
    pub fn local<F, Fut>(&mut self, name: &'static str, period: Duration, work: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut stopping = self.stopping.subscribe();
        self.handles.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while wait_or_stop(ticks.tick(), &mut stopping).await {
                work().await;
                tracing::trace!(job = name, "ran");
            }
        }));
    }

    /// Runs `work` every `period` on whichever instance takes the job's lock.
    pub fn led(&mut self, name: &'static str, period: Duration, pool: DbPool, work: LedWork) {
        self.led_paced(name, period, period, pool, work);
    }

    /// Like [`Self::led`], but after a tick that found work the next comes
    /// after `busy` rather than `period`: under steady load the job does a
    /// little often instead of a second's worth at once, which would take a
    /// core from the requests in one burst (sealing the audit trail once a
    /// second held the p99 of audited reads at 11.8-19.5 ms, against
    /// 6.7-8.3 ms with a tick every 20 ms).
    pub fn led_paced(&mut self, name: &'static str, period: Duration, busy: Duration, pool: DbPool, work: LedWork) {
        let mut stopping = self.stopping.subscribe();
        self.handles.push(tokio::spawn(async move {
            // The first tick comes at once, as an interval's does.
            let mut wait = Duration::ZERO;
            while wait_or_stop(tokio::time::sleep(wait), &mut stopping).await {
                wait = period;
                match run_led(name, &pool, work).await {
                    Ok(Some(done)) => {
                        tracing::debug!(job = name, done, "ran");
                        if done > 0 {
                            wait = busy;
                        }
                    }
                    Ok(None) => tracing::trace!(job = name, "another instance holds the lock"),
                    Err(err) => tracing::warn!(job = name, error = %err, "failed; retried next tick"),
                }
            }
        }));
    }

    /// Runs `queue` on every instance: again at once while it reports work
    /// started, after `idle` when it reports none or fails. On stop, waits
    /// for the work it started to finish.
    pub fn claimed(&mut self, name: &'static str, idle: Duration, queue: Arc<dyn Queue>) {
        let mut stopping = self.stopping.subscribe();
        self.handles.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(idle);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while wait_or_stop(ticks.tick(), &mut stopping).await {
                loop {
                    match queue.work().await {
                        Ok(0) => break,
                        Ok(done) => tracing::trace!(job = name, done, "ran"),
                        Err(err) => {
                            tracing::warn!(job = name, error = %err, "failed; retried shortly");
                            break;
                        }
                    }
                    if *stopping.borrow() {
                        break;
                    }
                }
            }
            queue.drain().await;
        }));
    }

    /// Lets every job finish the round it is in, within `grace`, then ends them.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stopping.send(true);
        let handles = std::mem::take(&mut self.handles);
        let aborts: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
        if tokio::time::timeout(grace, futures_util::future::join_all(handles)).await.is_err() {
            tracing::warn!(
                "background work did not finish in time; what it held is taken over when its lease runs out"
            );
            for abort in aborts {
                abort.abort();
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// One tick of a led job: `Some(count)` when this instance did the work.
pub async fn run_led(name: &str, pool: &DbPool, work: LedWork) -> anyhow::Result<Option<u64>> {
    let mut conn = crate::db::connection(pool).await?;
    let lock_name = format!("job:{name}");
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let Locked { locked } =
            diesel::sql_query("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked")
                .bind::<Text, _>(&lock_name)
                .get_result(conn)
                .await?;
        if !locked {
            return Ok(None);
        }
        // A led job works across practices by design: sealing every
        // practice's trail, purging what has expired everywhere.
        crate::db::across_practices(conn).await?;
        Ok(Some(work(conn).await?))
    })
    .await
}
