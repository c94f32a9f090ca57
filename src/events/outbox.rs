//! The events one change publishes, gathered while the change is made and
//! written by the statement that records the change's audit entry
//! ([`crate::audit::record_with`]), in the change's transaction: no event
//! without its change, no change without its events, and no round trip of
//! their own.

use uuid::Uuid;

use super::{EventData, EventType};
use crate::practices::PracticeId;

/// A change's events, in the order they happened.
#[derive(Debug)]
pub struct Outbox {
    practice: PracticeId,
    pub(crate) ids: Vec<Uuid>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) data: Vec<serde_json::Value>,
}

impl Outbox {
    /// An empty outbox for a change to `practice`'s data.
    pub fn new(practice: PracticeId) -> Self {
        Self { practice, ids: Vec::new(), types: Vec::new(), data: Vec::new() }
    }

    /// An outbox holding one event.
    pub fn with(practice: PracticeId, event_type: EventType, data: &EventData) -> diesel::QueryResult<Self> {
        let mut outbox = Self::new(practice);
        outbox.push(event_type, data)?;
        Ok(outbox)
    }

    /// Adds an event. Its id is time-ordered, so events of one change are
    /// numbered in the order they were pushed.
    pub fn push(&mut self, event_type: EventType, data: &EventData) -> diesel::QueryResult<()> {
        self.data.push(crate::db::to_jsonb(data)?);
        self.ids.push(Uuid::now_v7());
        self.types.push(event_type.as_str());
        Ok(())
    }

    pub fn practice(&self) -> PracticeId {
        self.practice
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_the_order_they_were_pushed_in() {
        let practice = PracticeId(Uuid::now_v7());
        let client = Uuid::now_v7();
        let mut outbox = Outbox::new(practice);
        assert!(outbox.is_empty());
        outbox.push(EventType::AssessmentAssigned, &EventData::client(client, "active")).unwrap();
        outbox.push(EventType::AssessmentCompleted, &EventData::client(client, "active")).unwrap();
        assert_eq!(outbox.types, ["assessment.assigned", "assessment.completed"]);
        assert!(outbox.ids[0] < outbox.ids[1], "numbering follows the ids");
        assert_eq!(outbox.data[0]["client_id"], serde_json::json!(client));
    }
}
