//! Prometheus gauges of the connection pool, read at scrape time.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGauge, Opts};

use crate::db::DbPool;

pub struct PoolCollector {
    pool: DbPool,
    size: IntGauge,
    available: IntGauge,
    waiting: IntGauge,
    max_size: IntGauge,
}

impl PoolCollector {
    pub fn new(pool: DbPool) -> prometheus::Result<Self> {
        Ok(Self {
            pool,
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
        let status = self.pool.status();
        self.size.set(to_i64(status.size));
        self.available.set(to_i64(status.available));
        self.waiting.set(to_i64(status.waiting));
        self.max_size.set(to_i64(status.max_size));
        [&self.size, &self.available, &self.waiting, &self.max_size].into_iter().flat_map(|g| g.collect()).collect()
    }
}
