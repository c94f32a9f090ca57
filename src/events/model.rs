//! Event API types: what happened, told by ids and states only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::progress::model::FlagKind;

/// The kinds of change an integration can hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "client.created")]
    ClientCreated,
    #[serde(rename = "client.updated")]
    ClientUpdated,
    #[serde(rename = "client.archived")]
    ClientArchived,
    /// The client's record was erased; its id answers 410 from now on.
    #[serde(rename = "client.erased")]
    ClientErased,
    #[serde(rename = "assessment.assigned")]
    AssessmentAssigned,
    #[serde(rename = "assessment.completed")]
    AssessmentCompleted,
    #[serde(rename = "assessment.cancelled")]
    AssessmentCancelled,
    #[serde(rename = "homework.assigned")]
    HomeworkAssigned,
    #[serde(rename = "homework.status_changed")]
    HomeworkStatusChanged,
    #[serde(rename = "homework.logged")]
    HomeworkLogged,
    #[serde(rename = "relationship.created")]
    RelationshipCreated,
    #[serde(rename = "progress.flag_raised")]
    ProgressFlagRaised,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::ClientCreated,
        EventType::ClientUpdated,
        EventType::ClientArchived,
        EventType::ClientErased,
        EventType::AssessmentAssigned,
        EventType::AssessmentCompleted,
        EventType::AssessmentCancelled,
        EventType::HomeworkAssigned,
        EventType::HomeworkStatusChanged,
        EventType::HomeworkLogged,
        EventType::RelationshipCreated,
        EventType::ProgressFlagRaised,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::ClientCreated => "client.created",
            EventType::ClientUpdated => "client.updated",
            EventType::ClientArchived => "client.archived",
            EventType::ClientErased => "client.erased",
            EventType::AssessmentAssigned => "assessment.assigned",
            EventType::AssessmentCompleted => "assessment.completed",
            EventType::AssessmentCancelled => "assessment.cancelled",
            EventType::HomeworkAssigned => "homework.assigned",
            EventType::HomeworkStatusChanged => "homework.status_changed",
            EventType::HomeworkLogged => "homework.logged",
            EventType::RelationshipCreated => "relationship.created",
            EventType::ProgressFlagRaised => "progress.flag_raised",
        }
    }

    pub fn parse(value: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

/// What an event is about: the ids to fetch and the states that changed.
/// Never names, answers, scores, notes or reflections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventData {
    /// The client it concerns (absent on `relationship.created`, which names
    /// `client_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    /// The members of a new relationship.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ids: Option<Vec<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homework_id: Option<Uuid>,
    /// The new log, on `homework.logged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship_id: Option<Uuid>,
    /// The resource's state after the change (`active`, `assigned`, `completed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The state before, on `homework.status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    /// What was flagged, on `progress.flag_raised`; read the client's
    /// progress for the detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<FlagKind>,
    /// `true` on an event about a client whose record was since erased: its
    /// ids were removed with the record, and the event keeps only its type,
    /// number and time (so the feed keeps its numbering). The
    /// `client.erased` event that follows names the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<bool>,
}

impl EventData {
    pub fn client(client_id: Uuid, status: &str) -> Self {
        EventData { client_id: Some(client_id), status: Some(status.to_owned()), ..Default::default() }
    }

    pub fn assessment(client_id: Uuid, assessment_id: Uuid, status: &str) -> Self {
        EventData { assessment_id: Some(assessment_id), ..EventData::client(client_id, status) }
    }

    pub fn homework(client_id: Uuid, homework_id: Uuid, status: &str) -> Self {
        EventData { homework_id: Some(homework_id), ..EventData::client(client_id, status) }
    }
}

/// A change in a practice, as the feed and webhook deliveries carry it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "type": "assessment.completed",
    "sequence": 42,
    "occurred_at": "2026-12-02T09:30:00Z",
    "data": {
        "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a00",
        "assessment_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a11",
        "status": "completed"
    }
}))]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The practice's event number: 1, 2, 3, ... in commit order, no gaps.
    pub sequence: i64,
    pub occurred_at: DateTime<Utc>,
    pub data: EventData,
}

/// Filters and paging for `GET /v1/events`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events after this sequence number: pass the `next_after` of the
    /// previous answer (0, the default, starts at the oldest event kept).
    #[param(minimum = 0, maximum = 9007199254740991_i64)]
    pub after: Option<i64>,
    /// Only these event types, comma-separated (e.g.
    /// `assessment.completed,progress.flag_raised`).
    #[serde(rename = "type")]
    #[param(
        rename = "type",
        pattern = "^(client\\.created|client\\.updated|client\\.archived|client\\.erased|assessment\\.assigned|assessment\\.completed|assessment\\.cancelled|homework\\.assigned|homework\\.status_changed|homework\\.logged|relationship\\.created|progress\\.flag_raised)(,(client\\.created|client\\.updated|client\\.archived|client\\.erased|assessment\\.assigned|assessment\\.completed|assessment\\.cancelled|homework\\.assigned|homework\\.status_changed|homework\\.logged|relationship\\.created|progress\\.flag_raised))*$"
    )]
    pub types: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of the feed, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub data: Vec<Event>,
    /// Pass as `after` to read on: the sequence of the last event here, or
    /// the `after` you sent when there was nothing new.
    pub next_after: i64,
    /// Whether more events follow now; when `false`, poll again later with
    /// `next_after`.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for kind in EventType::ALL {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("client.deleted"), None);
    }

    /// The documented `type` pattern admits exactly lists of known types.
    #[test]
    fn the_type_pattern_names_every_type() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        let params = doc["paths"]["/v1/events"]["get"]["parameters"].as_array().cloned().unwrap_or_default();
        let pattern = params.iter().find(|p| p["name"] == "type").map(|p| p["schema"]["pattern"].clone());
        let names: Vec<String> = EventType::ALL.iter().map(|t| t.as_str().replace('.', "\\.")).collect();
        let one = names.join("|");
        assert_eq!(pattern, Some(serde_json::json!(format!("^({one})(,({one}))*$"))));
    }

    #[test]
    fn data_leaves_out_what_it_does_not_name() {
        let data = EventData { client_id: Some(Uuid::nil()), status: Some("active".into()), ..Default::default() };
        let json = serde_json::to_value(&data).unwrap_or_default();
        assert_eq!(json, serde_json::json!({"client_id": Uuid::nil(), "status": "active"}));
    }
}
