//! Events: every change an integration may want to hear about is written in
//! the change's own transaction (a transactional outbox), by the statement
//! that records the change's audit entry ([`Outbox`]); read back through
//! the feed; and raised by periodic checks where no request makes it.

pub mod flag_check;
pub mod model;
mod outbox;
pub mod routes;
pub mod store;

pub use model::{EventData, EventType};
pub use outbox::Outbox;
