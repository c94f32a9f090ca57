//! The one runner of background work every feature shares.
//!
//! Two kinds of job:
//! - [`Jobs::local`]: work on this instance's own memory (forgetting idle
//!   rate-limit buckets), run on every instance;
//! - [`Jobs::led`]: work on the shared database that one instance at a time
//!   should do (purges, periodic checks). Each tick opens a transaction and
//!   takes a transaction-scoped advisory lock named after the job; the
//!   instance that gets it does the work inside that transaction, the others
//!   skip the tick. All state stays in PostgreSQL, so a crash loses nothing
//!   and a restart needs no hand-over.
//!
//! Timers live here and nowhere else, so that every loop in the service is
//! in one place, logs the same way and stops the same way.

use std::future::Future;
use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::db::DbPool;

/// Running jobs; dropping it stops them.
#[derive(Default)]
pub struct Jobs {
    handles: Vec<JoinHandle<()>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
    }
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
        self.handles.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                work().await;
                tracing::trace!(job = name, "ran");
            }
        }));
    }

    /// Runs `work` every `period` on whichever instance takes the job's lock.
    pub fn led(&mut self, name: &'static str, period: Duration, pool: DbPool, work: LedWork) {
        self.handles.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match run_led(name, &pool, work).await {
                    Ok(Some(done)) => tracing::debug!(job = name, done, "ran"),
                    Ok(None) => tracing::trace!(job = name, "another instance holds the lock"),
                    Err(err) => tracing::warn!(job = name, error = %err, "failed; retried next tick"),
                }
            }
        }));
    }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// One tick of a led job: `Some(count)` when this instance did the work.
pub async fn run_led(name: &str, pool: &DbPool, work: LedWork) -> anyhow::Result<Option<u64>> {
    let mut conn = pool.get().await.map_err(|e| anyhow::anyhow!("connection pool: {e}"))?;
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
        Ok(Some(work(conn).await?))
    })
    .await
}
