//! Liveness, readiness and metrics of the pool.

pub mod metrics;
pub mod probe;
pub mod routes;
