//! `/v1/clients`, mirroring its routes.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn create_then_fetch_a_client() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let response =
        app.post_json("/v1/clients", &token, &json!({"display_name": "Alex R.", "external_id": "p-1"})).await;
    assert_eq!(response.status(), 201);
    let location = response.headers().get("location").unwrap().to_str().unwrap().to_owned();
    assert_eq!(response.headers().get("etag").unwrap(), "\"v1\"");
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/clients/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["status"], "active");
    assert_eq!(created["external_id"], "p-1");
    assert_eq!(created["archived_at"], Value::Null);
    assert_eq!(uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap().get_version_num(), 7);

    let fetched = app.get(&location, &token).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers().get("etag").unwrap(), "\"v1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), created);
}

#[tokio::test]
async fn rejects_invalid_clients_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let cases = [
        (json!({}), "display_name"),
        (json!({"display_name": ""}), "display_name"),
        (json!({"display_name": "   "}), "display_name"),
        (json!({"display_name": "x".repeat(201)}), "display_name"),
        (json!({"display_name": 7}), "display_name"),
        (json!({"display_name": "A", "external_id": ""}), "external_id"),
        (json!({"display_name": "A", "status": "gone"}), "status"),
        (json!({"display_name": "A", "nickname": "B"}), "nickname"),
    ];
    for (body, field) in cases {
        let problem = assert_problem(app.post_json("/v1/clients", &token, &body).await, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "for {body}");
    }
    assert_eq!(app.count("SELECT count(*) AS count FROM clients").await, 0, "nothing stored");
}

#[tokio::test]
async fn a_duplicate_external_id_is_a_conflict_until_the_first_is_archived() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let first = app.create_client(&token, json!({"display_name": "A", "external_id": "p-7"})).await;
    let again = app.post_json("/v1/clients", &token, &json!({"display_name": "B", "external_id": "p-7"})).await;
    assert_problem(again, 409, "external_id_taken").await;
    // Another practice may use the same id.
    let token_b = app.token_b().await;
    app.create_client(&token_b, json!({"display_name": "C", "external_id": "p-7"})).await;

    let id = first["id"].as_str().unwrap();
    let archived = app.http.delete(app.url(&format!("/v1/clients/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(archived.status(), 204);
    app.create_client(&token, json!({"display_name": "B", "external_id": "p-7"})).await;
}

#[tokio::test]
async fn patch_honours_if_match_and_bumps_the_etag() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "A", "external_id": "p-1"})).await;
    let path = format!("/v1/clients/{}", client["id"].as_str().unwrap());
    let patch = |body: Value, if_match: Option<&str>| {
        let mut request = app
            .http
            .patch(app.url(&path))
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send()
    };

    let changed = patch(json!({"status": "discharged"}), Some("\"v1\"")).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers().get("etag").unwrap(), "\"v2\"");
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["status"], "discharged");
    assert_eq!(body["display_name"], "A", "absent members keep their value");
    assert!(body["updated_at"].as_str().unwrap() > client["updated_at"].as_str().unwrap());

    let stale = patch(json!({"display_name": "B"}), Some("\"v1\"")).await.unwrap();
    assert_problem(stale, 412, "precondition_failed").await;
    let weak = patch(json!({"display_name": "B"}), Some("W/\"v2\"")).await.unwrap();
    assert_problem(weak, 412, "precondition_failed").await;

    let cleared = patch(json!({"external_id": null}), Some("\"v2\"")).await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(cleared.json::<Value>().await.unwrap()["external_id"], Value::Null);
    // Without If-Match the change is unconditional.
    let unconditional = patch(json!({"display_name": "C"}), None).await.unwrap();
    assert_eq!(unconditional.headers().get("etag").unwrap(), "\"v4\"");

    let invalid = patch(json!({"display_name": ""}), None).await.unwrap();
    assert_problem(invalid, 422, "validation_failed").await;
}

#[tokio::test]
async fn concurrent_patches_on_one_version_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "A"})).await;
    let url = app.url(&format!("/v1/clients/{}", client["id"].as_str().unwrap()));
    let requests = (0..8).map(|i| {
        app.http
            .patch(&url)
            .bearer_auth(&token)
            .header("if-match", "\"v1\"")
            .json(&json!({"display_name": format!("name {i}")}))
            .send()
    });
    let statuses: Vec<u16> =
        futures_util::future::join_all(requests).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn archived_clients_leave_lists_but_stay_readable() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "A"})).await;
    let id = client["id"].as_str().unwrap();
    let path = format!("/v1/clients/{id}");
    for _ in 0..2 {
        let archived = app.http.delete(app.url(&path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(archived.status(), 204, "archiving twice is harmless");
    }
    let fetched: Value = app.get(&path, &token).await.json().await.unwrap();
    assert!(fetched["archived_at"].is_string());
    let listed: Value = app.get("/v1/clients", &token).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let listed: Value = app.get("/v1/clients?include_archived=true", &token).await.json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    let patched = app.http.patch(app.url(&path)).bearer_auth(&token).json(&json!({"display_name": "B"})).send().await;
    assert_problem(patched.unwrap(), 409, "client_archived").await;
}

#[tokio::test]
async fn pages_cover_every_client_once_in_creation_order() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let client = app.create_client(&token, json!({"display_name": format!("C{i}")})).await;
        created.push(client["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/clients?limit=3&cursor={c}"),
            None => "/v1/clients?limit=3".to_owned(),
        };
        let page: Value = app.get(&path, &token).await.json().await.unwrap();
        pages += 1;
        seen.extend(page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "no duplicates, no gaps, creation order");

    for bad in ["limit=0", "limit=201", "limit=x", "cursor=bogus", "status=gone", "updated_since=yesterday"] {
        let response = app.get(&format!("/v1/clients?{bad}"), &token).await;
        assert_problem(response, 400, "invalid_query").await;
    }
}

#[tokio::test]
async fn lists_filter_by_status_external_id_and_update_time() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let a = app.create_client(&token, json!({"display_name": "A", "external_id": "e-a"})).await;
    let b = app.create_client(&token, json!({"display_name": "B", "status": "discharged"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = chrono::Utc::now();
    let c = app.create_client(&token, json!({"display_name": "C"})).await;
    let ids = |page: Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
    };
    let by_status: Value = app.get("/v1/clients?status=discharged", &token).await.json().await.unwrap();
    assert_eq!(ids(by_status), vec![b["id"].as_str().unwrap()]);
    let by_external: Value = app.get("/v1/clients?external_id=e-a", &token).await.json().await.unwrap();
    assert_eq!(ids(by_external), vec![a["id"].as_str().unwrap()]);
    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let recent: Value = app.get(&format!("/v1/clients?updated_since={since}"), &token).await.json().await.unwrap();
    assert_eq!(ids(recent), vec![c["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn another_practices_client_is_not_found_by_any_verb() {
    let app = TestApp::spawn().await;
    let token_a = app.token_a().await;
    let token_b = app.token_b().await;
    let client = app.create_client(&token_a, json!({"display_name": "A", "external_id": "e-1"})).await;
    let path = format!("/v1/clients/{}", client["id"].as_str().unwrap());

    assert_problem(app.get(&path, &token_b).await, 404, "not_found").await;
    let patch = app.http.patch(app.url(&path)).bearer_auth(&token_b).json(&json!({"display_name": "X"})).send();
    assert_problem(patch.await.unwrap(), 404, "not_found").await;
    let delete = app.http.delete(app.url(&path)).bearer_auth(&token_b).send();
    assert_problem(delete.await.unwrap(), 404, "not_found").await;
    let listed: Value = app.get("/v1/clients?include_archived=true", &token_b).await.json().await.unwrap();
    assert!(listed["data"].as_array().unwrap().is_empty());
    let by_external: Value = app.get("/v1/clients?external_id=e-1", &token_b).await.json().await.unwrap();
    assert!(by_external["data"].as_array().unwrap().is_empty());

    // Nothing changed for practice A.
    let fetched = app.get(&path, &token_a).await;
    assert_eq!(fetched.headers().get("etag").unwrap(), "\"v1\"");
    assert_eq!(fetched.json::<Value>().await.unwrap(), client);
    let unique: HashSet<String> = [client["id"].as_str().unwrap().to_owned()].into();
    assert_eq!(unique.len(), 1);
}
