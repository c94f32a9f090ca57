//! Practice norms: an instrument's statistics from the practice's own
//! completed administrations, and the opt-in that freezes them as local
//! norms for change statistics where the instrument publishes none.

pub mod model;
pub mod routes;
pub mod statistics;
pub mod store;
