//! The FHIR R4 Bundle frame the exports stream their resources in (the
//! resources come from the per-resource mappers: `clients::fhir`,
//! `assessments::fhir`, `homework::fhir`, `instruments::fhir`,
//! `audit::fhir`). Pure.

use serde_json::{Value, json};

use crate::fhir::FHIR_R4_SPEC;

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
