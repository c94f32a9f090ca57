//! Erasure of a client's record (GDPR art. 17, on request or by a
//! practice's retention policy), and the legal hold that suspends it.
//!
//! - `policy.rs`: the rules (grace period, when an erasure runs, whom a
//!   retention policy reaches), pure and unit-tested;
//! - `store.rs`: the queries, among them [`store::erase_client`], the one
//!   function that knows every table holding a client's content;
//! - `routes.rs`: `/v1/clients/{id}/erasure`, `/v1/retention-policy`,
//!   `/v1/retention/preview`;
//! - `job.rs`: the led job that schedules and executes erasures.
//!
//! The erasure state lives on the client's row (which becomes the
//! tombstone), so that after an erasure the client's id is left only there,
//! in the audit trail and in the `client.erased` event.

pub mod job;
pub mod model;
pub mod policy;
pub mod routes;
pub mod store;
