//! An entry as a FHIR R4 `AuditEvent`, shaped after IHE's Basic Audit Log
//! Patterns (BALP) for RESTful interactions: type `rest`, the interaction as
//! subtype, the API client and the clinician as agents, the client (as
//! `Patient`) and the resource as entities, a search's filters as the query
//! entity. A list is a `searchset` Bundle of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::model::AuditEvent;
use super::operations::Action;

const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
/// This service's own codes: the action as the trail names it, and the ids it names.
const ACTION_SYSTEM: &str = "urn:attune:audit-action";
const API_CLIENT_SYSTEM: &str = "urn:attune:api-client";
const ACTOR_SYSTEM: &str = "urn:attune:actor";

/// The RESTful interaction and the FHIR action code of a trail action.
fn interaction(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("create", "C"),
        Action::Read | Action::Export => ("read", "R"),
        Action::Search => ("search-type", "E"),
        Action::Update => ("update", "U"),
        Action::Delete | Action::Erase => ("delete", "D"),
    }
}

/// FHIR's outcome: 0 success, 4 minor failure (the caller's: 4xx), 8 serious
/// failure (the service's: 5xx).
fn outcome(status: i32) -> &'static str {
    match status {
        ..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

pub fn audit_event(event: &AuditEvent) -> Value {
    let (code, action) = interaction(event.action);
    let mut api_client = json!({
        "type": {"coding": [{"system": DICOM, "code": "110150", "display": "Application"}]},
        "who": {"identifier": {"system": API_CLIENT_SYSTEM, "value": event.api_client_id}},
        "requestor": event.actor.is_none(),
    });
    if let Some(source) = &event.source {
        api_client["network"] = json!({"address": source, "type": "2"});
    }
    let mut agents = vec![api_client];
    if let Some(actor) = &event.actor {
        agents.push(json!({
            "type": {"coding": [{"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
            "who": {"identifier": {"system": ACTOR_SYSTEM, "value": actor}},
            "requestor": true,
        }));
    }
    let mut entities = Vec::new();
    if let Some(client) = event.client_id {
        entities.push(json!({
            "what": {"reference": format!("Patient/{client}")},
            "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
        }));
    }
    if let Some(resource) = event.resource_id.filter(|id| Some(*id) != event.client_id) {
        entities.push(json!({
            "what": {"identifier": {"system": format!("urn:attune:{}", event.resource_type), "value": resource.to_string()}},
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
        }));
    }
    if event.action == Action::Search {
        let filters = event.query.clone().unwrap_or_else(|| json!({}));
        let mut query = json!({
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
            "description": event.resource_type,
            "query": STANDARD.encode(filters.to_string()),
        });
        if let Some(count) = event.result_count {
            query["detail"] = json!([{"type": "result-count", "valueString": count.to_string()}]);
        }
        entities.push(query);
    }
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "id": event.id.to_string(),
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [
            {"system": RESTFUL_INTERACTION, "code": code},
            {"system": ACTION_SYSTEM, "code": event.action},
        ],
        "action": action,
        "recorded": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "outcome": outcome(event.outcome),
        "outcomeDesc": format!("HTTP {} ({})", event.outcome, event.operation),
        "agent": agents,
        "source": {
            "observer": {"display": "Attune"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    });
    if !entities.is_empty() {
        resource["entity"] = Value::Array(entities);
    }
    resource
}

/// A page of entries as a `searchset` Bundle.
pub fn bundle(events: &[AuditEvent]) -> Value {
    let entries: Vec<Value> = events
        .iter()
        .map(|event| json!({"fullUrl": format!("urn:uuid:{}", event.id), "resource": audit_event(event)}))
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn event(action: Action, outcome: i32) -> AuditEvent {
        AuditEvent {
            id: Uuid::from_u128(1),
            sequence: Some(7),
            occurred_at: Utc::now(),
            api_client_id: "0193-client".to_owned(),
            actor: Some("clinician-4711".to_owned()),
            action,
            operation: "get_assessment".to_owned(),
            resource_type: "assessment".to_owned(),
            resource_id: Some(Uuid::from_u128(2)),
            client_id: Some(Uuid::from_u128(3)),
            outcome,
            request_id: Some("req".to_owned()),
            source: Some("10.1.2.3".to_owned()),
            query: None,
            result_count: None,
            hash: Some("00".to_owned()),
        }
    }

    #[test]
    fn a_read_names_both_agents_the_patient_and_the_resource() {
        let resource = audit_event(&event(Action::Read, 200));
        assert_eq!(resource["type"]["code"], "rest");
        assert_eq!(resource["subtype"][0]["code"], "read");
        assert_eq!((resource["action"].as_str(), resource["outcome"].as_str()), (Some("R"), Some("0")));
        assert_eq!(resource["agent"][0]["requestor"], false);
        assert_eq!(resource["agent"][0]["network"]["address"], "10.1.2.3");
        assert_eq!(resource["agent"][1]["who"]["identifier"]["value"], "clinician-4711");
        assert_eq!(resource["agent"][1]["requestor"], true);
        assert_eq!(resource["entity"][0]["what"]["reference"], format!("Patient/{}", Uuid::from_u128(3)));
        assert_eq!(resource["entity"][1]["what"]["identifier"]["system"], "urn:attune:assessment");
    }

    #[test]
    fn a_refused_search_carries_its_query_and_a_minor_failure() {
        let mut searched = event(Action::Search, 403);
        searched.client_id = None;
        searched.resource_id = None;
        searched.query = Some(json!({"status": "active"}));
        searched.result_count = Some(0);
        let resource = audit_event(&searched);
        assert_eq!((resource["action"].as_str(), resource["outcome"].as_str()), (Some("E"), Some("4")));
        let query = &resource["entity"][0];
        assert_eq!(query["role"]["code"], "24");
        assert_eq!(STANDARD.decode(query["query"].as_str().unwrap()).unwrap(), br#"{"status":"active"}"#);
        assert_eq!(outcome(503), "8");
    }
}
