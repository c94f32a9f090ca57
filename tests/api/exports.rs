//! A client's whole record (`GET /v1/clients/{id}/record`) and the
//! practice-wide bulk export (`/v1/exports`, FHIR Bulk Data Access).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use serde_json::{Value, json};

use crate::assessments::instrument_id;
use crate::helpers::{TestApp, assert_problem};
use crate::progress::{attachment, balance, complete, days_ago};

/// What `seed` made in practice A.
struct Seeded {
    client: String,
    partner: String,
    completed: Vec<String>,
    assigned: String,
    homework: String,
    logs: Vec<String>,
    relationship: String,
    link: String,
}

fn ids(values: &Value) -> BTreeSet<String> {
    values.as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// A client with something in every family: two completed assessments and
/// an assigned one with a draft, an assignment with two logs (one paused
/// stretch), a relationship and a link.
async fn seed(app: &TestApp, token: &str) -> Seeded {
    let client = id_of(&app.create_client(token, json!({"display_name": "Rec.", "external_id": "rec-1"})).await);
    let partner = id_of(&app.create_client(token, json!({"display_name": "Partner"})).await);
    let attachment_form = instrument_id(app, token, "attachment_lean_short_form").await;
    let balance_form = instrument_id(app, token, "interdependence_balance").await;
    complete(app, token, &client, &attachment_form, attachment(5, 2), days_ago(20)).await;
    complete(app, token, &client, &balance_form, balance(3, 5, 4), days_ago(10)).await;
    let list: Value = app.get(&format!("/v1/assessments?client_id={client}"), token).await.json().await.unwrap();
    let completed: Vec<String> = list["data"].as_array().unwrap().iter().map(id_of).collect();
    let assigned = id_of(
        &app.post_json("/v1/assessments", token, &json!({"client_id": client, "instrument_id": attachment_form}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
    );
    let page: Value = app.get("/v1/exercises?key=ask_for_small_help", token).await.json().await.unwrap();
    let starts_on = days_ago(7).date_naive().to_string();
    let body = json!({"client_id": client, "exercise_id": page["data"][0]["id"], "cadence_per_week": 3, "starts_on": starts_on});
    let homework = id_of(&app.post_json("/v1/homework", token, &body).await.json::<Value>().await.unwrap());
    let mut logs = Vec::new();
    for hours in [30, 2] {
        let log = json!({"occurred_at": (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339(), "done": true,
            "fields": {"what_i_asked": "A lift to work", "discomfort_before": 7, "discomfort_after": 3, "let_them_do_it_their_way": true},
            "reflection": "Easier than I thought."});
        let response = app.post_json(&format!("/v1/homework/{homework}/logs"), token, &log).await;
        assert_eq!(response.status(), 201);
        logs.push(id_of(&response.json::<Value>().await.unwrap()));
    }
    for status in ["paused", "active"] {
        let response = app
            .http
            .patch(app.url(&format!("/v1/homework/{homework}")))
            .bearer_auth(token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"status": status}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let relationship = id_of(
        &app.post_json("/v1/relationships", token, &json!({"kind": "couple", "client_ids": [client, partner]}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
    );
    let link = id_of(
        &app.post_json("/v1/client-links", token, &json!({"client_id": client, "all_open_assessments": true}))
            .await
            .json::<Value>()
            .await
            .unwrap(),
    );
    let practice = app.practice_a.practice_id;
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO assessment_drafts (practice_id, assessment_id, link_id, answers, expires_at) \
             VALUES ('{practice}', '{assigned}', '{link}', '[{{\"item_id\": \"ax1\", \"value\": 4}}]', now() + interval '1 day')"
        ))
        .await
        .unwrap();
    Seeded { client, partner, completed, assigned, homework, logs, relationship, link }
}

async fn record(app: &TestApp, token: &str, client: &str, query: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(app.url(&format!("/v1/clients/{client}/record{query}"))).bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_record_as_json_holds_every_family_by_id() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let response = record(&app, &token, &s.client, "", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(link, format!("<{}/openapi.json#/components/schemas/ClientRecord>; rel=\"describedby\"", app.address));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["described_by"], format!("{}/openapi.json#/components/schemas/ClientRecord", app.address));
    assert_eq!(
        body["included"],
        json!(["client", "relationships", "assessments", "homework", "client_links", "events", "audit"])
    );
    assert_eq!(body["client"]["id"], s.client);
    assert_eq!(body["client"]["external_id"], "rec-1");
    let mut expected: BTreeSet<String> = s.completed.iter().cloned().collect();
    expected.insert(s.assigned.clone());
    assert_eq!(ids(&body["assessments"]), expected);
    let completed = body["assessments"].as_array().unwrap().iter().filter(|a| a["status"] == "completed");
    for assessment in completed {
        assert!(assessment["answers"].as_array().is_some_and(|a| !a.is_empty()));
        assert!(assessment["scores"].as_array().is_some_and(|s| !s.is_empty()));
    }
    assert_eq!(body["assessment_drafts"][0]["assessment_id"], s.assigned);
    assert_eq!(body["assessment_drafts"][0]["link_id"], s.link);
    assert_eq!(body["homework"][0]["id"], s.homework);
    assert_eq!(body["homework"][0]["exercise_key"], "ask_for_small_help");
    assert_eq!(body["homework"][0]["pauses"].as_array().unwrap().len(), 1);
    assert!(body["homework"][0]["pauses"][0]["resumed_at"].is_string());
    let logs: Vec<String> = body["homework"][0]["logs"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(logs, s.logs, "every log, oldest first");
    assert_eq!(body["homework"][0]["logs"][0]["reflection"], "Easier than I thought.");
    assert_eq!(body["relationships"][0]["id"], s.relationship);
    let members: BTreeSet<&str> =
        body["relationships"][0]["client_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(members, BTreeSet::from([s.client.as_str(), s.partner.as_str()]));
    assert_eq!(ids(&body["client_links"]), BTreeSet::from([s.link.clone()]));
    assert!(body["client_links"][0].get("url").is_none() && body["client_links"][0].get("token_digest").is_none());
    let events = body["events"].as_array().unwrap();
    let types: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in ["client.created", "assessment.completed", "homework.logged", "relationship.created"] {
        assert!(types.contains(kind), "{kind} in {types:?}");
    }
    assert!(events.iter().all(|e| e["data"]["client_id"] == s.client
        || e["data"]["client_ids"].as_array().is_some_and(|ids| ids.contains(&json!(s.client)))));
    let audit = body["audit_events"].as_array().unwrap();
    let operations: BTreeSet<&str> = audit.iter().map(|e| e["operation"].as_str().unwrap()).collect();
    for operation in [
        "create_client",
        "create_assessment",
        "list_assessments",
        "create_homework",
        "create_homework_log",
        "update_homework",
        "create_relationship",
        "create_client_link",
    ] {
        assert!(operations.contains(operation), "{operation} in {operations:?}");
    }
    // The partner's own creation is not about this client.
    assert!(!audit.iter().any(|e| e["resource_id"] == s.partner));
    // The read itself is recorded.
    let reads = app
        .count(&format!(
            "SELECT count(*) FROM audit_events WHERE operation = 'get_client_record' AND client_id = '{}'",
            s.client
        ))
        .await;
    assert_eq!(reads, 1);
}

/// Resource types and how many of each a Bundle's entries hold.
fn census(entries: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts.entry(entry["resource"]["resourceType"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn the_record_as_fhir_is_a_collection_bundle_of_the_right_resources() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let audit_about_client = app
        .count(&format!(
            "SELECT count(*) FROM audit_events WHERE client_id = '{}' \
             OR (resource_type = 'relationship' AND resource_id = '{}')",
            s.client, s.relationship
        ))
        .await;
    let response = record(&app, &token, &s.client, "", Some("application/fhir+json")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    assert_eq!(response.headers()["link"], "<https://hl7.org/fhir/R4/>; rel=\"describedby\"");
    let bundle: Value = response.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let counts = census(entries);
    let expected: BTreeMap<String, usize> = [
        ("Patient", 1),
        ("QuestionnaireResponse", 2),
        // Attachment: anxiety and avoidance; balance: three subscales.
        ("Observation", 5),
        ("Task", 1),
        ("AuditEvent", usize::try_from(audit_about_client).unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected);
    let full_urls: BTreeSet<&str> = entries.iter().map(|e| e["fullUrl"].as_str().unwrap()).collect();
    assert_eq!(full_urls.len(), entries.len(), "every entry has its own fullUrl");
    for entry in entries {
        let resource = &entry["resource"];
        match resource["resourceType"].as_str().unwrap() {
            "Patient" => {
                assert_eq!(resource["id"], s.client);
                assert!(resource["identifier"].as_array().unwrap().iter().any(|i| i["value"] == "rec-1"));
            }
            "Observation" => {
                let from = resource["derivedFrom"][0]["reference"].as_str().unwrap();
                assert!(full_urls.contains(from), "{from} resolves inside the Bundle");
            }
            "Task" => {
                assert_eq!(resource["id"], s.homework);
                assert_eq!(resource["output"].as_array().unwrap().len(), 2);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn an_archived_clients_record_is_kept_and_another_practice_gets_404() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let response =
        app.http.delete(app.url(&format!("/v1/clients/{}", s.client))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let body: Value = record(&app, &token, &s.client, "", None).await.json().await.unwrap();
    assert!(body["client"]["archived_at"].is_string());
    assert_eq!(body["homework"][0]["id"], s.homework);
    let bundle: Value = record(&app, &token, &s.client, "", Some("application/fhir+json")).await.json().await.unwrap();
    assert_eq!(bundle["entry"][0]["resource"]["active"], false);

    let refused = "SELECT count(*) FROM audit_events WHERE operation = 'get_client_record' AND outcome = 404";
    let token_b = app.token_b().await;
    assert_problem(record(&app, &token_b, &s.client, "", None).await, 404, "not_found").await;
    assert_problem(record(&app, &token_b, &s.client, "", Some("application/fhir+json")).await, 404, "not_found").await;
    assert_problem(record(&app, &token, &uuid::Uuid::now_v7().to_string(), "", None).await, 404, "not_found").await;
    // Each refusal is in the trail of the practice that asked, so probing shows.
    assert_eq!(app.count(refused).await, 3);
    let in_b = format!("{refused} AND practice_id = '{}'", app.practice_b.practice_id);
    assert_eq!(app.count(&in_b).await, 2);
}

#[tokio::test]
async fn each_family_needs_its_read_scope_and_include_narrows_the_record() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let reader = app.token_for(&app.practice_a, Some("clients:read")).await;
    let refused = assert_problem(record(&app, &reader, &s.client, "", None).await, 403, "insufficient_scope").await;
    assert!(refused["detail"].as_str().unwrap().contains("assessments:read"), "{refused}");

    let response = record(&app, &reader, &s.client, "?include=relationships", None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["included"], json!(["client", "relationships"]));
    assert_eq!(body["relationships"][0]["id"], s.relationship);
    for absent in ["assessments", "assessment_drafts", "homework", "client_links", "events", "audit_events"] {
        assert!(body.get(absent).is_none(), "{absent} left out, not empty");
    }

    let clinician = app.token_for(&app.practice_a, Some("clients:read assessments:read homework:read")).await;
    let refused = assert_problem(record(&app, &clinician, &s.client, "", None).await, 403, "insufficient_scope").await;
    assert!(refused["detail"].as_str().unwrap().contains("assessments:write"), "links need a managing scope");
    let response = record(&app, &clinician, &s.client, "?include=assessments,homework", None).await;
    assert_eq!(response.status(), 200);
    // FHIR carries no events or links: reading it needs no scope for them,
    // but the audit entries still need admin.
    let refused = assert_problem(
        record(&app, &clinician, &s.client, "", Some("application/fhir+json")).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("admin"));
    let response =
        record(&app, &clinician, &s.client, "?include=assessments,homework", Some("application/fhir+json")).await;
    assert_eq!(response.status(), 200);
    let bundle: Value = response.json().await.unwrap();
    assert!(!census(bundle["entry"].as_array().unwrap()).contains_key("AuditEvent"));

    let bad = assert_problem(record(&app, &token, &s.client, "?include=notes", None).await, 400, "invalid_query").await;
    assert_eq!(bad["errors"][0]["field"], "include");
}

// ---------------------------------------------------------------------------
// Bulk export

async fn kick_off(app: &TestApp, address: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request =
        app.http.post(format!("{address}/v1/exports")).bearer_auth(token).header("prefer", "respond-async");
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// Polls until the export is no longer pending or running; answers the last response.
async fn wait_for(app: &TestApp, url: &str, token: &str) -> reqwest::Response {
    for _ in 0..300 {
        let response = app.http.get(url).bearer_auth(token).send().await.unwrap();
        if response.status() != 202 {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the export did not finish in 30 s");
}

/// Every line of every file: (type, parsed lines), checking each against the manifest.
async fn read_files(app: &TestApp, manifest: &Value, token: &str) -> BTreeMap<String, Vec<Value>> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for file in manifest["output"].as_array().unwrap() {
        let response = app.http.get(file["url"].as_str().unwrap()).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/fhir+ndjson");
        let text = response.text().await.unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len() as i64, file["count"].as_i64().unwrap(), "count of {}", file["url"]);
        for line in &lines {
            assert_eq!(line["resourceType"], file["type"]);
            assert!(line["id"].is_string());
        }
        by_type.entry(file["type"].as_str().unwrap().to_owned()).or_default().extend(lines);
    }
    by_type
}

#[tokio::test]
async fn a_bulk_export_runs_in_the_background_and_its_files_read_back() {
    // This instance queues but runs nothing, so the export is seen waiting.
    let app = TestApp::spawn_with(|s| s.exports.export_concurrency = 0).await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let response = kick_off(&app, &app.address, &token, None).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["preference-applied"], "respond-async");
    let location = response.headers()["content-location"].to_str().unwrap().to_owned();
    let status: Value = response.json().await.unwrap();
    let id = status["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/v1/exports/{id}", app.address));
    assert_eq!(status["state"], "pending");
    assert_eq!(status["types"].as_array().unwrap().len(), 6);

    let poll = app.http.get(&location).bearer_auth(&token).send().await.unwrap();
    assert_eq!(poll.status(), 202);
    assert_eq!(poll.headers()["x-progress"], "queued");
    assert_eq!(poll.headers()["retry-after"], "1");

    // One export at a time per practice; another practice is not held up.
    let second = assert_problem(kick_off(&app, &app.address, &token, None).await, 409, "export_running").await;
    assert!(second["detail"].as_str().unwrap().contains(&id), "{second}");
    let token_b = app.token_b().await;
    let other = kick_off(&app, &app.address, &token_b, Some(json!({"types": ["Patient"]}))).await;
    assert_eq!(other.status(), 202);
    // ... which cannot see A's.
    assert_problem(app.http.get(&location).bearer_auth(&token_b).send().await.unwrap(), 404, "not_found").await;

    // A second instance runs it, writing small files.
    app.another_instance(|settings| {
        settings.exports.export_poll_ms = 50;
        settings.exports.export_file_max_resources = 2;
    })
    .await;
    let done = wait_for(&app, &location, &token).await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.headers()["link"], "<https://hl7.org/fhir/R4/>; rel=\"describedby\"");
    assert!(done.headers().contains_key("expires"));
    let manifest: Value = done.json().await.unwrap();
    assert_eq!(manifest["requiresAccessToken"], true);
    assert_eq!(manifest["request"], format!("{}/v1/exports", app.address));
    assert_eq!(manifest["error"], json!([]));
    assert_eq!(manifest["extension"]["describedBy"], "https://hl7.org/fhir/R4/");
    let transaction_time = manifest["transactionTime"].as_str().unwrap().to_owned();
    chrono::DateTime::parse_from_rfc3339(&transaction_time).unwrap();

    let files = read_files(&app, &manifest, &token).await;
    let counts: BTreeMap<&str, usize> = files.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    let audit_then = app
        .count(&format!(
            "SELECT count(*) FROM audit_events WHERE practice_id = '{}' AND occurred_at <= '{transaction_time}'",
            app.practice_a.practice_id
        ))
        .await;
    let expected: BTreeMap<&str, usize> = [
        ("Patient", 2),
        ("Questionnaire", 2),
        ("QuestionnaireResponse", 2),
        ("Observation", 5),
        ("Task", 1),
        ("AuditEvent", usize::try_from(audit_then).unwrap()),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
    // Two resources a file: Observation comes in three parts.
    let observation_files =
        manifest["output"].as_array().unwrap().iter().filter(|f| f["type"] == "Observation").count();
    assert_eq!(observation_files, 3);
    let patients: BTreeSet<String> = files["Patient"].iter().map(id_of).collect();
    assert_eq!(patients, BTreeSet::from([s.client.clone(), s.partner.clone()]), "only practice A's clients");
    for observation in &files["Observation"] {
        let from = observation["derivedFrom"][0]["reference"].as_str().unwrap();
        assert!(from.starts_with("QuestionnaireResponse/"), "a reference that stands alone: {from}");
    }

    // Files are the practice's: another practice's token gets 404.
    let first = manifest["output"][0]["url"].as_str().unwrap();
    let refused = app.http.get(first).bearer_auth(&token_b).send().await.unwrap();
    assert_problem(refused, 404, "not_found").await;
    let narrow = app.token_for(&app.practice_a, Some("clients:read")).await;
    assert_problem(app.http.get(first).bearer_auth(&narrow).send().await.unwrap(), 403, "insufficient_scope").await;

    // DELETE removes it and its files; a new export may start.
    let deleted = app.http.delete(&location).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), 202);
    assert_problem(app.http.get(&location).bearer_auth(&token).send().await.unwrap(), 404, "not_found").await;
    assert_problem(app.http.get(first).bearer_auth(&token).send().await.unwrap(), 404, "not_found").await;
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM export_chunks WHERE export_id = '{id}'")).await,
        0,
        "its files went with it"
    );
    assert_eq!(kick_off(&app, &app.address, &token, None).await.status(), 202);
}

#[tokio::test]
async fn deleting_a_queued_export_cancels_it_and_since_keeps_recent_changes() {
    let app = TestApp::spawn_with(|s| s.exports.export_concurrency = 0).await;
    let token = app.token_a().await;
    let s = seed(&app, &token).await;
    let queued: Value = kick_off(&app, &app.address, &token, None).await.json().await.unwrap();
    let url = format!("{}/v1/exports/{}", app.address, queued["id"].as_str().unwrap());
    assert_eq!(app.http.delete(&url).bearer_auth(&token).send().await.unwrap().status(), 202);
    assert_problem(app.http.get(&url).bearer_auth(&token).send().await.unwrap(), 404, "not_found").await;
    assert_problem(app.http.delete(&url).bearer_auth(&token).send().await.unwrap(), 404, "not_found").await;

    // The partner last changed long ago: an export since last year leaves it out.
    app.db()
        .await
        .batch_execute(&format!("UPDATE clients SET updated_at = '2020-01-01' WHERE id = '{}'", s.partner))
        .await
        .unwrap();
    let response =
        kick_off(&app, &app.address, &token, Some(json!({"types": ["Patient"], "since": "2025-01-01T00:00:00Z"})))
            .await;
    assert_eq!(response.status(), 202);
    let url = response.headers()["content-location"].to_str().unwrap().to_owned();
    app.another_instance(|settings| settings.exports.export_poll_ms = 50).await;
    let manifest: Value = wait_for(&app, &url, &token).await.json().await.unwrap();
    assert_eq!(
        manifest["request"],
        format!("{}/v1/exports?_type=Patient&_since=2025-01-01T00%3A00%3A00Z", app.address)
    );
    let files = read_files(&app, &manifest, &token).await;
    assert_eq!(files.keys().collect::<Vec<_>>(), ["Patient"]);
    let patients: Vec<String> = files["Patient"].iter().map(id_of).collect();
    assert_eq!(patients, vec![s.client.clone()]);
}

#[tokio::test]
async fn files_expire_after_the_retention() {
    let app = TestApp::spawn_with(|s| s.exports.export_poll_ms = 50).await;
    let token = app.token_a().await;
    seed(&app, &token).await;
    let response = kick_off(&app, &app.address, &token, Some(json!({"types": ["Patient", "Task"]}))).await;
    let url = response.headers()["content-location"].to_str().unwrap().to_owned();
    let manifest: Value = wait_for(&app, &url, &token).await.json().await.unwrap();
    let file = manifest["output"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.http.get(&file).bearer_auth(&token).send().await.unwrap().status(), 200);

    app.db().await.batch_execute("UPDATE exports SET expires_at = now() - interval '1 second'").await.unwrap();
    assert_problem(app.http.get(&url).bearer_auth(&token).send().await.unwrap(), 410, "export_expired").await;
    assert_problem(app.http.get(&file).bearer_auth(&token).send().await.unwrap(), 410, "export_expired").await;
    // The purge drops the files and keeps the answer.
    let mut conn = app.db().await;
    attune::exports::store::purge(&mut conn).await.unwrap();
    assert_eq!(app.count("SELECT count(*) FROM export_chunks").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM exports WHERE state = 'expired'").await, 1);
    assert_problem(app.http.get(&url).bearer_auth(&token).send().await.unwrap(), 410, "export_expired").await;
    // A month on, the row goes too.
    conn.batch_execute("UPDATE exports SET finished_at = now() - interval '31 days'").await.unwrap();
    attune::exports::store::purge(&mut conn).await.unwrap();
    assert_problem(app.http.get(&url).bearer_auth(&token).send().await.unwrap(), 404, "not_found").await;
}

#[tokio::test]
async fn an_interrupted_export_is_taken_over_or_failed_with_a_reason_never_stuck() {
    let app = TestApp::spawn_with(|s| s.exports.export_concurrency = 0).await;
    let token = app.token_a().await;
    let token_b = app.token_b().await;
    seed(&app, &token).await;
    // Two exports "running" on an instance that died: leases long expired,
    // one on its first attempt, one on its last.
    let first: Value =
        kick_off(&app, &app.address, &token, Some(json!({"types": ["Patient"]}))).await.json().await.unwrap();
    let last: Value =
        kick_off(&app, &app.address, &token_b, Some(json!({"types": ["Patient"]}))).await.json().await.unwrap();
    let (first, last) = (first["id"].as_str().unwrap().to_owned(), last["id"].as_str().unwrap().to_owned());
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE exports SET state = 'running', lease_id = gen_random_uuid(), leased_until = now() - interval '1 minute', \
                 started_at = now() - interval '2 minutes', attempts = CASE WHEN id = '{first}' THEN 1 ELSE 3 END; \
             INSERT INTO export_chunks (practice_id, export_id, resource_type, part, seq, data) \
                 SELECT practice_id, id, 'Patient', 1, 1, '\\x7b7d0a' FROM exports WHERE id = '{first}'"
        ))
        .await
        .unwrap();
    let poll = app.http.get(app.url(&format!("/v1/exports/{first}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(poll.status(), 202, "still running as far as anyone knows");

    app.another_instance(|settings| settings.exports.export_poll_ms = 50).await;
    let done = wait_for(&app, &app.url(&format!("/v1/exports/{first}")), &token).await;
    assert_eq!(done.status(), 200, "taken over and run afresh");
    let manifest: Value = done.json().await.unwrap();
    let files = read_files(&app, &manifest, &token).await;
    assert_eq!(files["Patient"].len(), 2, "nothing of the dead attempt is left");

    let failed = wait_for(&app, &app.url(&format!("/v1/exports/{last}")), &token_b).await;
    let problem = assert_problem(failed, 500, "export_failed").await;
    assert_eq!(
        problem["detail"],
        "gave up after 3 attempts; the last: interrupted: the instance running it stopped before it finished"
    );
    assert_eq!(app.count("SELECT count(*) FROM exports WHERE state IN ('pending', 'running')").await, 0);
    // A failed export frees the practice for a new one.
    assert_eq!(kick_off(&app, &app.address, &token_b, None).await.status(), 202);
}

#[tokio::test]
async fn a_retried_kick_off_replays_its_answer_instead_of_queueing_another() {
    let app = TestApp::spawn_with(|s| s.exports.export_concurrency = 0).await;
    let token = app.token_a().await;
    let send = || {
        app.http
            .post(app.url("/v1/exports"))
            .bearer_auth(&token)
            .header("idempotency-key", "ehr-export-42")
            .json(&json!({"types": ["Patient"]}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 202);
    let location = first.headers()["content-location"].to_str().unwrap().to_owned();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 202, "a replay, not 409");
    assert_eq!(again.headers()["content-location"].to_str().unwrap(), location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("SELECT count(*) FROM exports").await, 1);
    // Without a body, and with a body of another media type.
    let bare = app.http.post(app.url("/v1/exports")).bearer_auth(&token).send().await.unwrap();
    assert_problem(bare, 409, "export_running").await;
    let text = app.http.post(app.url("/v1/exports")).bearer_auth(&token).header("content-type", "text/plain").body("x");
    assert_problem(text.send().await.unwrap(), 415, "unsupported_media_type").await;
    let twice = app.post_json("/v1/exports", &token, &json!({"types": ["Patient", "Patient"]})).await;
    let problem = assert_problem(twice, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "types");
}

#[tokio::test]
async fn a_claim_is_the_runners_only_while_the_export_exists_and_its_lease_is_renewed() {
    use attune::exports::store;
    let app = TestApp::spawn_with(|s| s.exports.export_concurrency = 0).await;
    let token = app.token_a().await;
    let queued: Value = kick_off(&app, &app.address, &token, None).await.json().await.unwrap();
    let mut conn = app.db().await;
    let lease = Duration::from_secs(60);
    let claimed = store::claim(&mut conn, lease).await.unwrap().expect("the queued export is due");
    assert_eq!(claimed.id.to_string(), queued["id"].as_str().unwrap());
    assert_eq!(claimed.attempts, 1);
    assert!(store::claim(&mut conn, lease).await.unwrap().is_none(), "a leased export is nobody else's");
    assert!(store::heartbeat(&mut conn, &claimed, lease, 5, Some(10)).await.unwrap());
    let poll = app.http.get(app.url(&format!("/v1/exports/{}", claimed.id))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(poll.headers()["x-progress"], "50% (5 of 10 resources)");
    // Cancelled: the row is gone, so the renewal says so and nothing more can be written.
    let deleted =
        app.http.delete(app.url(&format!("/v1/exports/{}", claimed.id))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), 202);
    assert!(!store::heartbeat(&mut conn, &claimed, lease, 6, Some(10)).await.unwrap());
    assert!(store::insert_chunk(&mut conn, &claimed, "Patient", 1, 1, b"{}\n").await.is_err());
    let now = chrono::Utc::now();
    assert!(!store::complete(&mut conn, &claimed, now, lease, 6).await.unwrap());
    assert_eq!(app.count("SELECT count(*) FROM exports").await, 0);
}
