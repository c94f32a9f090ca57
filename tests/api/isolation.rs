//! The tenant-isolation probe: for every operation in the OpenAPI document
//! that names a resource by id, create the resource in practice A and call
//! the operation with practice B's token, through a second instance of the
//! service. Each must answer 404 and change nothing. Operations are read from the document, so a new one is probed
//! without editing this file; a new kind of resource fails until it has a
//! fixture below.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Creates one resource of `kind` (the path segment after `/v1/`) in
/// practice A and returns its id.
pub async fn fixture(app: &TestApp, token: &str, kind: &str) -> String {
    let post = |path: &'static str, body: Value| async move {
        let response = app.post_json(path, token, &body).await;
        assert_eq!(response.status(), 201, "creating a {kind}: {}", response.text().await.unwrap());
        response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    let client = || post("/v1/clients", json!({"display_name": "Probe"}));
    match kind {
        "clients" => client().await,
        "api-clients" => post("/v1/api-clients", json!({"name": "probe", "scopes": ["clients:read"]})).await,
        "instruments" => post("/v1/instruments", crate::instruments::custom_definition("probe")).await,
        "exercises" => post("/v1/exercises", crate::exercises::custom_exercise("probe")).await,
        "assessments" => {
            let client = client().await;
            let instrument = crate::assessments::instrument_id(app, token, "attachment_lean_short_form").await;
            post("/v1/assessments", json!({"client_id": client, "instrument_id": instrument})).await
        }
        "homework" => {
            let client = client().await;
            let page: Value = app.get("/v1/exercises?key=ask_for_small_help", token).await.json().await.unwrap();
            let body = json!({"client_id": client, "exercise_id": page["data"][0]["id"], "cadence_per_week": 2,
                              "starts_on": "2026-11-01"});
            post("/v1/homework", body).await
        }
        "relationships" => {
            let (a, b) = (client().await, client().await);
            post("/v1/relationships", json!({"kind": "couple", "client_ids": [a, b]})).await
        }
        "client-links" => {
            let client = client().await;
            post("/v1/client-links", json!({"client_id": client, "all_open_assessments": true})).await
        }
        "webhook-endpoints" => {
            // A literal public address: registration needs no DNS here.
            let body = json!({"url": "https://93.184.215.14/attune", "event_types": ["client.created"]});
            post("/v1/webhook-endpoints", body).await
        }
        "audit-events" => {
            client().await;
            // Linked into the chain now, so the sealing job changes nothing the snapshots compare.
            assert_eq!(app.get("/v1/audit-events/verify", token).await.status(), 200);
            let page: Value = app.get("/v1/audit-events?action=create&limit=1", token).await.json().await.unwrap();
            page["data"][0]["id"].as_str().unwrap().to_owned()
        }
        "exports" => {
            // A finished export with a Patient file, so that every operation
            // (its files included) has something to refuse.
            client().await;
            let body = json!({"types": ["Patient"]});
            // One export runs at a time: wait out one a probe started.
            let mut response = app.post_json("/v1/exports", token, &body).await;
            for _ in 0..300 {
                if response.status() != 409 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                response = app.post_json("/v1/exports", token, &body).await;
            }
            assert_eq!(response.status(), 202, "starting an export: {}", response.text().await.unwrap());
            let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
            for _ in 0..300 {
                if app.get(&format!("/v1/exports/{id}"), token).await.status() == 200 {
                    return id;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the probe's export did not finish");
        }
        other => panic!("no isolation fixture for /v1/{other}/{{id}}: add one so the probe covers it"),
    }
}

/// A request body the operation accepts in shape: its schema's example.
pub fn example_body(doc: &Value, operation: &Value) -> Option<(String, Value)> {
    let (content_type, media) = operation["requestBody"]["content"].as_object()?.iter().next()?;
    let name = media["schema"]["$ref"].as_str()?.rsplit('/').next()?;
    let example = doc["components"]["schemas"][name]["example"].clone();
    Some((content_type.clone(), if example.is_null() { json!({}) } else { example }))
}

/// Everything practice A can see of the resource, and how many rows every
/// table holds: a refused call must leave both as they were.
async fn snapshot(app: &TestApp, token: &str, doc: &Value, kind: &str, id: &str) -> (Value, Vec<(String, i64)>) {
    let own = format!("/v1/{kind}/{id}");
    let path = if doc["paths"]["/v1/{kind}/{id}".replace("{kind}", kind)]["get"].is_object() {
        own
    } else {
        format!("/v1/{kind}")
    };
    let seen: Value = app.get(&path, token).await.json().await.unwrap();
    let mut counts = Vec::new();
    for table in [
        "clients",
        "api_clients",
        "instruments",
        "exercises",
        "assessments",
        "assessment_scores",
        "homework",
        "homework_pauses",
        "homework_logs",
        "relationships",
        "relationship_members",
        "local_norms",
        "client_links",
        "client_link_submissions",
        "assessment_drafts",
        "events",
        "webhook_endpoints",
        "webhook_deliveries",
        "webhook_attempts",
        "idempotency_keys",
        "retention_policies",
        "exports",
        "export_files",
        "export_chunks",
    ] {
        counts.push((table.to_owned(), app.count(&format!("SELECT count(*) FROM {table}")).await));
    }
    // The trail grows with every access, the snapshot's own reads included:
    // what must not move is what practice A changed.
    let practice_a = app.practice_a.practice_id;
    let writes = format!(
        "SELECT count(*) FROM audit_events WHERE practice_id = '{practice_a}' \
         AND action NOT IN ('read', 'search', 'export')"
    );
    counts.push(("audit_events (practice A's writes)".to_owned(), app.count(&writes).await));
    (seen, counts)
}

#[tokio::test]
async fn every_operation_on_another_practices_resource_answers_404_and_changes_nothing() {
    // No dispatcher: deliveries it queued in the background would change the counts compared.
    let app = TestApp::spawn_with(|settings| settings.webhooks.webhook_dispatch = false).await;
    // Practice B probes through a second instance, as behind a load
    // balancer: what A made on one is refused on the other alike.
    let prober = app.another_instance(|settings| settings.webhooks.webhook_dispatch = false).await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let doc: Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let trail_of_b = format!("SELECT count(*) FROM audit_events WHERE practice_id = '{}'", app.practice_b.practice_id);
    let mut probed = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") || !path.contains("{id}") {
            continue;
        }
        let kind = path.split('/').nth(2).unwrap();
        for (method, operation) in item.as_object().unwrap() {
            let id = fixture(&app, &token_a, kind).await;
            let before = snapshot(&app, &token_a, &doc, kind, &id).await;
            let trail_b = app.count(&trail_of_b).await;
            // Other path parameters name something the fixture made.
            let mut url = format!("{prober}{}", path.replace("{id}", &id).replace("{file}", "Patient-1.ndjson"));
            // Required query parameters get a placeholder: the id is what is probed.
            let required: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| format!("{}=x", p["name"].as_str().unwrap()))
                .collect();
            if !required.is_empty() {
                url = format!("{url}?{}", required.join("&"));
            }
            let method_name = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = app.http.request(method_name, &url).bearer_auth(&token_b);
            if let Some((content_type, body)) = example_body(&doc, operation) {
                request = request.header("content-type", content_type).body(body.to_string());
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let operation_id = operation["operationId"].as_str().unwrap();
            assert_eq!(status, 404, "{operation_id} ({} {path}) as another practice: {body}", method.to_uppercase());
            assert_eq!(body["code"], "not_found", "{operation_id}");
            let after = snapshot(&app, &token_a, &doc, kind, &id).await;
            assert_eq!(before, after, "{operation_id} as another practice changed something");
            // The probe shows in the prober's own trail, refused.
            if operation["x-attune-audit"].is_object() {
                let refused =
                    app.count(&format!("{trail_of_b} AND outcome = 404 AND operation = '{operation_id}'")).await;
                assert_eq!((app.count(&trail_of_b).await - trail_b, refused), (1, 1), "{operation_id}: B's trail");
            }
            probed.push(operation_id.to_owned());
        }
    }
    // The probe really ran over the document, not over nothing.
    for expected in [
        "get_client",
        "update_client",
        "archive_client",
        "submit_assessment_responses",
        "update_homework",
        "create_homework_log",
        "get_client_progress",
        "get_relationship_profile",
        "set_local_norms",
        "revoke_api_client",
        "update_webhook_endpoint",
        "list_webhook_deliveries",
        "redeliver_webhook_events",
        "test_webhook_endpoint",
        "request_client_erasure",
        "get_client_erasure",
        "cancel_client_erasure",
        "get_client_record",
        "get_export",
        "get_export_file",
        "delete_export",
    ] {
        assert!(probed.iter().any(|p| p == expected), "{expected} was not probed");
    }
    assert!(probed.len() >= 29, "probed only {probed:?}");
}

/// The practice-wide erasure routes name no id: another practice's
/// retention policy and preview are its own, and never list this one's clients.
#[tokio::test]
async fn another_practices_retention_policy_and_preview_are_its_own() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let client = app.create_client(&token_a, json!({"display_name": "Old", "status": "discharged"})).await;
    let id = client["id"].as_str().unwrap();
    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!("UPDATE clients SET discharged_at = now() - interval '900 days' WHERE id = '{id}'"))
        .execute(&mut conn)
        .await
        .unwrap();
    let put = |token: &str, days: i32| {
        app.http.put(app.url("/v1/retention-policy")).bearer_auth(token).json(&json!({"erase_after_days": days})).send()
    };
    assert_eq!(put(&token_a, 400).await.unwrap().status(), 200);
    let seen: Value = app.get("/v1/retention/preview", &token_a).await.json().await.unwrap();
    assert_eq!(seen["data"][0]["client_id"], id, "practice A sees its own client");

    let policy: Value = app.get("/v1/retention-policy", &token_b).await.json().await.unwrap();
    assert_eq!(policy["erase_after_days"], Value::Null, "B's policy is B's: off");
    for query in ["", "?erase_after_days=365"] {
        let preview: Value = app.get(&format!("/v1/retention/preview{query}"), &token_b).await.json().await.unwrap();
        assert_eq!(preview["data"], json!([]), "B's preview{query} lists none of A's clients");
    }
    assert_eq!(put(&token_b, 3650).await.unwrap().status(), 200);
    let policy: Value = app.get("/v1/retention-policy", &token_a).await.json().await.unwrap();
    assert_eq!(policy["erase_after_days"], 400, "B's change left A's policy alone");
}
