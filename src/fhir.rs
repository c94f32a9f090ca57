//! Shared pieces of the FHIR R4 exports: the media type, the local code
//! systems this service names, and the OpenAPI stand-in for a resource.

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const FHIR_JSON: &str = "application/fhir+json";
/// The item weight extension on `Questionnaire.item.answerOption` (R4; once `ordinalValue`).
pub const ITEM_WEIGHT: &str = "http://hl7.org/fhir/StructureDefinition/itemWeight";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// Local code systems: no LOINC codes exist for these instruments.
pub const INSTRUMENT_SYSTEM: &str = "urn:attune:instrument";
pub const SUBSCALE_SYSTEM: &str = "urn:attune:subscale";
pub const ANSWER_SYSTEM: &str = "urn:attune:answer";
pub const CLIENT_ID_SYSTEM: &str = "urn:attune:client";
pub const EXTERNAL_ID_SYSTEM: &str = "urn:attune:external-id";
pub const EXERCISE_SYSTEM: &str = "urn:attune:exercise";
pub const HOMEWORK_LOG_SYSTEM: &str = "urn:attune:homework-log";
/// Whether the practice is treating a client (`active`, `discharged`), as a `Patient` tag.
pub const CLIENT_STATUS_SYSTEM: &str = "urn:attune:client-status";
/// What an audit entry recorded (`client.created`, ...), as an `AuditEvent` subtype.
pub const AUDIT_ACTION_SYSTEM: &str = "urn:attune:audit-action";
/// The API client (token subject) or the integrator's clinician behind an audit entry.
pub const API_CLIENT_SYSTEM: &str = "urn:attune:api-client";
pub const ACTOR_SYSTEM: &str = "urn:attune:actor";
/// Where FHIR R4 is described: the format of every FHIR answer and export.
pub const FHIR_R4_SPEC: &str = "https://hl7.org/fhir/R4/";
pub const FHIR_NDJSON: &str = "application/fhir+ndjson";

/// A FHIR R4 resource (JSON), as exported for EHRs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(value_type = std::collections::HashMap<String, serde_json::Value>, example = json!({"resourceType": "Questionnaire", "status": "active"}))]
pub struct FhirResource(pub serde_json::Value);

pub fn respond(resource: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok().content_type(FHIR_JSON).json(resource)
}

/// The canonical URL of an instrument version.
pub fn questionnaire_canonical(key: &str, version: i32) -> String {
    format!("{INSTRUMENT_SYSTEM}:{key}|{version}")
}

/// The FHIR subject: the client's id in this service, and the integrator's
/// own id when it has one.
pub fn subject(client_id: uuid::Uuid, external_id: Option<&str>) -> serde_json::Value {
    let identifier = match external_id {
        Some(id) => serde_json::json!({"system": EXTERNAL_ID_SYSTEM, "value": id}),
        None => serde_json::json!({"system": CLIENT_ID_SYSTEM, "value": client_id.to_string()}),
    };
    serde_json::json!({"reference": format!("Patient/{client_id}"), "identifier": identifier})
}
