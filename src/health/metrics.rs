//! Prometheus gauges of the connection pool, read at scrape time.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts};

use crate::db::DbPool;

pub struct PoolCollector {
    pools: Vec<DbPool>,
    size: IntGauge,
    available: IntGauge,
    waiting: IntGauge,
    max_size: IntGauge,
}

impl PoolCollector {
    pub fn new(pools: Vec<DbPool>) -> prometheus::Result<Self> {
        Ok(Self {
            pools,
            size: IntGauge::with_opts(Opts::new("attune_db_pool_connections", "Open database connections"))?,
            available: IntGauge::with_opts(Opts::new("attune_db_pool_idle", "Idle database connections"))?,
            waiting: IntGauge::with_opts(Opts::new(
                "attune_db_pool_waiting",
                "Requests waiting for a database connection",
            ))?,
            max_size: IntGauge::with_opts(Opts::new("attune_db_pool_max", "The pool's maximum size"))?,
        })
    }
}

fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        [&self.size, &self.available, &self.waiting, &self.max_size].into_iter().flat_map(|g| g.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Summed over the HTTP workers' pools.
        let statuses: Vec<_> = self.pools.iter().map(|pool| pool.status()).collect();
        self.size.set(to_i64(statuses.iter().map(|s| s.size).sum()));
        self.available.set(to_i64(statuses.iter().map(|s| s.available).sum()));
        self.waiting.set(to_i64(statuses.iter().map(|s| s.waiting).sum()));
        self.max_size.set(to_i64(statuses.iter().map(|s| s.max_size).sum()));
        [&self.size, &self.available, &self.waiting, &self.max_size].into_iter().flat_map(|g| g.collect()).collect()
    }
}
