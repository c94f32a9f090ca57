//! The tenant: a practice. Created by `attune bootstrap`.

pub mod store;

use uuid::Uuid;

/// The practice a request acts within. Every store function takes it first
/// and puts it in its WHERE clause: that is where tenant isolation lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PracticeId(pub Uuid);

impl std::fmt::Display for PracticeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
