//! The OpenAPI document: committed, complete, and what the service serves.

use serde_json::Value;

use crate::helpers::TestApp;

fn generated() -> Value {
    serde_json::from_str(&attune::openapi::document_json().unwrap()).unwrap()
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    let generated = attune::openapi::document_json().unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}

#[test]
fn every_operation_is_documented_for_client_generators() {
    let doc = generated();
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{id} is not snake_case");
            assert!(operation_ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{id} has no summary");
            assert!(op["description"].as_str().is_some_and(|s| !s.is_empty()), "{id} has no description");
            assert!(!op["tags"].as_array().unwrap().is_empty(), "{id} has no tag");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{id} documents no success");
            if path.starts_with("/v1/") && id != "create_token" {
                assert!(responses.contains_key("401") && responses.contains_key("403"), "{id} lacks auth errors");
                assert!(op["security"].as_array().is_some_and(|s| !s.is_empty()), "{id} has no security");
            }
            if let Some(body) = op.get("requestBody") {
                for (_, media) in body["content"].as_object().unwrap() {
                    assert!(media["schema"]["$ref"].is_string(), "{id}'s request body is not a named schema");
                }
            }
            for (status, response) in responses {
                if let Some(content) = response.get("content") {
                    for (_, media) in content.as_object().unwrap() {
                        assert!(media["schema"]["$ref"].is_string(), "{id} {status}: not a named schema");
                    }
                }
            }
        }
    }
    assert!(operation_ids.contains("create_client") && operation_ids.contains("create_token"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"], "/v1/oauth/token");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn the_service_serves_the_document() {
    let app = TestApp::spawn().await;
    let served: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, generated());
}
