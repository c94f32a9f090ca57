//! A client as a FHIR R4 `Patient`. Pure.
//!
//! Only what the service holds: its own id and the integrator's
//! `external_id` as identifiers, the display name as the name's text (the
//! service keeps no given or family name, birth date or gender, and invents
//! none), and `active: false` once the client is archived.

use serde_json::{Value, json};

use super::model::{Client, ClientStatus};
use crate::fhir::{CLIENT_ID_SYSTEM, CLIENT_STATUS_SYSTEM, EXTERNAL_ID_SYSTEM};

pub fn patient(client: &Client) -> Value {
    let mut identifiers = vec![json!({"use": "official", "system": CLIENT_ID_SYSTEM, "value": client.id.to_string()})];
    if let Some(external_id) = &client.external_id {
        identifiers.push(json!({"use": "usual", "system": EXTERNAL_ID_SYSTEM, "value": external_id}));
    }
    let status = match client.status {
        ClientStatus::Active => "active",
        ClientStatus::Discharged => "discharged",
    };
    json!({
        "resourceType": "Patient",
        "id": client.id.to_string(),
        "meta": {
            "lastUpdated": client.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            // Whether the practice is treating the client: FHIR's Patient has no field for it.
            "tag": [{"system": CLIENT_STATUS_SYSTEM, "code": status}]
        },
        "identifier": identifiers,
        // An archived client's record is kept but no longer in use.
        "active": client.archived_at.is_none(),
        "name": [{"text": client.display_name}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn client(external_id: Option<&str>, archived: bool) -> Client {
        let at = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).single().unwrap_or_default();
        Client {
            id: uuid::Uuid::nil(),
            external_id: external_id.map(str::to_owned),
            display_name: "Alex R.".to_owned(),
            status: ClientStatus::Discharged,
            created_at: at,
            updated_at: at,
            archived_at: archived.then_some(at),
            discharged_at: Some(at),
            legal_hold: false,
            erasure_scheduled_for: None,
        }
    }

    #[test]
    fn names_the_client_by_both_ids_and_nothing_invented() {
        let patient = patient(&client(Some("patient-1042"), false));
        assert_eq!(patient["resourceType"], "Patient");
        assert_eq!(patient["identifier"][0]["value"], uuid::Uuid::nil().to_string());
        assert_eq!(
            patient["identifier"][1],
            json!({"use": "usual", "system": EXTERNAL_ID_SYSTEM, "value": "patient-1042"})
        );
        assert_eq!(patient["name"], json!([{"text": "Alex R."}]));
        assert_eq!(patient["active"], true);
        assert_eq!(patient["meta"]["tag"][0]["code"], "discharged");
        assert_eq!(patient["meta"]["lastUpdated"], "2026-11-22T09:30:00.000Z");
        for invented in ["birthDate", "gender", "address", "telecom"] {
            assert!(patient.get(invented).is_none(), "{invented}");
        }
    }

    #[test]
    fn an_archived_client_is_inactive_and_one_without_external_id_has_one_identifier() {
        let patient = patient(&client(None, true));
        assert_eq!(patient["active"], false);
        assert_eq!(patient["identifier"].as_array().map(Vec::len), Some(1));
    }
}
