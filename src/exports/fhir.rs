//! FHIR R4 shapes the exports add to the per-resource mappers
//! (`clients::fhir`, `assessments::fhir`, `homework::fhir`,
//! `instruments::fhir`): the audit entry as an `AuditEvent`, and the
//! Bundle's frame. Pure.

use serde_json::{Value, json};

use super::model::AuditEntry;
use crate::fhir::{ACTOR_SYSTEM, API_CLIENT_SYSTEM, AUDIT_ACTION_SYSTEM, FHIR_R4_SPEC};

/// FHIR's audit event type for a RESTful operation.
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";

/// The FHIR `AuditEvent.action` for one of today's action names
/// (`<resource>.<verb>`): C create, R read, U update, D delete, E execute.
fn action_code(action: &str) -> &'static str {
    let verb = action.rsplit('.').next().unwrap_or(action);
    match verb {
        "created" | "assigned" | "registered" | "logged" => "C",
        "deleted" | "revoked" => "D",
        "read" | "record_read" | "downloaded" => "R",
        "requested" | "exported" => "E",
        _ => "U",
    }
}

/// The resource an audit entry names, as an `AuditEvent.entity.what`: a
/// reference where the resource has a FHIR shape, else an identifier.
fn entity_what(resource_type: &str, id: &str) -> Value {
    let fhir_type = match resource_type {
        "client" => Some("Patient"),
        "assessment" => Some("QuestionnaireResponse"),
        "homework" => Some("Task"),
        "instrument" => Some("Questionnaire"),
        _ => None,
    };
    match fhir_type {
        Some(kind) => json!({"reference": format!("{kind}/{id}")}),
        None => json!({"identifier": {"system": format!("urn:attune:{resource_type}"), "value": id}}),
    }
}

/// An audit entry of today's `audit_events` table as a minimal valid FHIR R4
/// `AuditEvent`: the type (a RESTful operation), the action name as a
/// subtype, when, who (the API client, and the clinician when the token
/// named one), the observer (this service) and what it was about.
///
/// The audit trail is being redesigned (actor, action, outcome, source
/// address, hash chain); its own mapper replaces this one function when
/// that lands.
pub fn audit_event(entry: &AuditEntry) -> Value {
    let mut agents = vec![json!({
        "type": {"text": "API client"},
        "who": {"identifier": {"system": API_CLIENT_SYSTEM, "value": entry.subject}},
        "requestor": true
    })];
    if let Some(actor) = &entry.actor {
        agents.push(json!({
            "type": {"text": "clinician"},
            "who": {"identifier": {"system": ACTOR_SYSTEM, "value": actor}},
            "requestor": false
        }));
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": entry.id.to_string(),
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": AUDIT_ACTION_SYSTEM, "code": entry.action}],
        "action": action_code(&entry.action),
        "recorded": entry.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "agent": agents,
        "source": {"observer": {"display": "Attune"}},
        "entity": [{"what": entity_what(&entry.resource_type, &entry.resource_id.to_string())}]
    });
    if let Some(request_id) = &entry.request_id {
        event["entity"][0]["detail"] = json!([{"type": "request_id", "valueString": request_id}]);
    }
    event
}

/// The opening of a FHIR `Bundle` of type `collection`, up to its first
/// entry: entries follow, comma-separated, then [`BUNDLE_CLOSE`].
pub fn bundle_open(id: &str, timestamp: &str) -> Vec<u8> {
    let head = json!({
        "resourceType": "Bundle",
        "id": id,
        "type": "collection",
        "timestamp": timestamp,
        "link": [{"relation": "describedby", "url": FHIR_R4_SPEC}]
    });
    let mut bytes = head.to_string().into_bytes();
    bytes.pop(); // the closing brace: entries follow
    bytes.extend_from_slice(br#","entry":["#);
    bytes
}

pub const BUNDLE_CLOSE: &[u8] = b"]}";

/// One Bundle entry, addressed by its id (every id here is a UUID).
pub fn entry(resource: &Value) -> Value {
    let id = resource["id"].as_str().unwrap_or_default();
    json!({"fullUrl": format!("urn:uuid:{id}"), "resource": resource})
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn entry_of(action: &str, resource_type: &str, actor: Option<&str>) -> AuditEntry {
        AuditEntry {
            id: Uuid::nil(),
            occurred_at: chrono::Utc.with_ymd_and_hms(2026, 11, 23, 18, 2, 0).single().unwrap_or_default(),
            subject: "api-client-1".to_owned(),
            actor: actor.map(str::to_owned),
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: Uuid::max(),
            request_id: Some("req-1".to_owned()),
        }
    }

    #[test]
    fn maps_the_required_elements() {
        let event = audit_event(&entry_of("assessment.completed", "assessment", Some("clinician-4711")));
        assert_eq!(event["resourceType"], "AuditEvent");
        assert_eq!(event["type"]["code"], "rest");
        assert_eq!(event["subtype"][0]["code"], "assessment.completed");
        assert_eq!(event["action"], "U");
        assert_eq!(event["recorded"], "2026-11-23T18:02:00.000Z");
        assert_eq!(event["agent"][0]["requestor"], true);
        assert_eq!(event["agent"][1]["who"]["identifier"]["value"], "clinician-4711");
        assert_eq!(event["source"]["observer"]["display"], "Attune");
        assert_eq!(event["entity"][0]["what"]["reference"], format!("QuestionnaireResponse/{}", Uuid::max()));
        assert_eq!(event["entity"][0]["detail"][0]["valueString"], "req-1");
    }

    #[test]
    fn action_codes_follow_the_verb() {
        assert_eq!(action_code("client.created"), "C");
        assert_eq!(action_code("homework.logged"), "C");
        assert_eq!(action_code("client.archived"), "U");
        assert_eq!(action_code("relationship.deleted"), "D");
        assert_eq!(action_code("client.record_read"), "R");
        assert_eq!(action_code("export.requested"), "E");
    }

    #[test]
    fn an_entry_without_a_fhir_shape_is_named_by_identifier() {
        let event = audit_event(&entry_of("client_link.created", "client_link", None));
        assert_eq!(event["agent"].as_array().map(Vec::len), Some(1));
        assert_eq!(event["entity"][0]["what"]["identifier"]["system"], "urn:attune:client_link");
    }

    #[test]
    fn a_bundle_opens_and_closes_as_json() {
        let mut bytes = bundle_open("b1", "2026-12-04T00:00:00Z");
        bytes.extend_from_slice(entry(&json!({"resourceType": "Patient", "id": "p1"})).to_string().as_bytes());
        bytes.extend_from_slice(BUNDLE_CLOSE);
        let bundle: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(bundle["type"], "collection");
        assert_eq!(bundle["entry"][0]["fullUrl"], "urn:uuid:p1");
        assert_eq!(bundle["link"][0]["relation"], "describedby");
    }
}
