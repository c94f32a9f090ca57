//! The outbox and the feed: each change writes its event in its own
//! transaction, numbered without gaps, told by ids and states only.

use std::time::Duration;

use serde_json::{Value, json};

use crate::assessments::instrument_id;
use crate::helpers::{TestApp, assert_problem};
use crate::instruments::custom_definition;
use crate::progress::{attachment, closeness, complete, days_ago};

async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/v1/events{query}"), token).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

fn types(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

fn sequences(page: &Value) -> Vec<i64> {
    page["data"].as_array().unwrap().iter().map(|e| e["sequence"].as_i64().unwrap()).collect()
}

async fn exercise_id(app: &TestApp, token: &str, key: &str) -> Value {
    let page: Value = app.get(&format!("/v1/exercises?key={key}"), token).await.json().await.unwrap();
    page["data"][0]["id"].clone()
}

#[tokio::test]
async fn every_change_writes_one_thin_event_numbered_in_order() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "Robin Q.", "external_id": "p-1"})).await;
    let client = client["id"].as_str().unwrap().to_owned();
    let patched = app
        .http
        .patch(app.url(&format!("/v1/clients/{client}")))
        .bearer_auth(&token)
        .json(&json!({"status": "discharged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let form = instrument_id(&app, &token, "attachment_lean_short_form").await;
    let assigned = app.post_json("/v1/assessments", &token, &json!({"client_id": client, "instrument_id": form})).await;
    let assessment = assigned.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let answers = json!({"answers": attachment(5, 2)});
    let answered = app.post_json(&format!("/v1/assessments/{assessment}/responses"), &token, &answers).await;
    assert_eq!(answered.status(), 200, "{}", answered.text().await.unwrap());
    let other = app.post_json("/v1/assessments", &token, &json!({"client_id": client, "instrument_id": form})).await;
    let other = other.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let cancelled = app.post_json(&format!("/v1/assessments/{other}/cancel"), &token, &json!({})).await;
    assert_eq!(cancelled.status(), 200);

    let exercise = exercise_id(&app, &token, "ask_for_small_help").await;
    let body = json!({"client_id": client, "exercise_id": exercise, "cadence_per_week": 2,
                      "starts_on": days_ago(3).date_naive(), "note": "Ask Sam about the car"});
    let homework = app.post_json("/v1/homework", &token, &body).await.json::<Value>().await.unwrap();
    let homework = homework["id"].as_str().unwrap().to_owned();
    let log = json!({"occurred_at": days_ago(1), "done": true, "reflection": "It felt odd but fine",
                     "fields": {"what_i_asked": "A lift", "discomfort_before": 6, "discomfort_after": 3,
                                "let_them_do_it_their_way": true}});
    let logged = app.post_json(&format!("/v1/homework/{homework}/logs"), &token, &log).await;
    assert_eq!(logged.status(), 201);
    let log = logged.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let patch = |body: Value| {
        app.http.patch(app.url(&format!("/v1/homework/{homework}"))).bearer_auth(&token).json(&body).send()
    };
    assert_eq!(patch(json!({"cadence_per_week": 3})).await.unwrap().status(), 200, "no status change: no event");
    assert_eq!(patch(json!({"status": "paused"})).await.unwrap().status(), 200);

    let partner = app.create_client(&token, json!({"display_name": "Sam Q."})).await["id"].as_str().unwrap().to_owned();
    let couple = json!({"kind": "couple", "client_ids": [client, partner]});
    let relationship = app.post_json("/v1/relationships", &token, &couple).await.json::<Value>().await.unwrap();
    let delete = || app.http.delete(app.url(&format!("/v1/clients/{partner}"))).bearer_auth(&token).send();
    assert_eq!(delete().await.unwrap().status(), 204);
    assert_eq!(delete().await.unwrap().status(), 204, "archiving twice is harmless, and tells nobody twice");

    let page = feed(&app, &token, "").await;
    assert_eq!(
        types(&page),
        [
            "client.created",
            "client.updated",
            "assessment.assigned",
            "assessment.completed",
            "assessment.assigned",
            "assessment.cancelled",
            "homework.assigned",
            "homework.logged",
            "homework.status_changed",
            "client.created",
            "relationship.created",
            "client.archived",
        ]
    );
    assert_eq!(sequences(&page), (1..=12).collect::<Vec<_>>());
    assert_eq!((page["next_after"].as_i64(), page["has_more"].as_bool()), (Some(12), Some(false)));
    let data: Vec<&Value> = page["data"].as_array().unwrap().iter().map(|e| &e["data"]).collect();
    assert_eq!(*data[1], json!({"client_id": client, "status": "discharged"}));
    assert_eq!(*data[3], json!({"client_id": client, "assessment_id": assessment, "status": "completed"}));
    assert_eq!(*data[5], json!({"client_id": client, "assessment_id": other, "status": "cancelled"}));
    assert_eq!(*data[7], json!({"client_id": client, "homework_id": homework, "log_id": log, "status": "active"}));
    assert_eq!(
        *data[8],
        json!({"client_id": client, "homework_id": homework, "status": "paused", "previous_status": "active"})
    );
    let mut members = vec![client.clone(), partner.clone()];
    members.sort();
    assert_eq!(*data[10], json!({"relationship_id": relationship["id"], "client_ids": members}));
    // Ids and states only: no names, answers, notes or reflections.
    let text = page.to_string();
    for secret in ["Robin", "Sam Q.", "p-1", "Ask Sam", "felt odd", "A lift"] {
        assert!(!text.contains(secret), "the feed carries {secret:?}");
    }
    for event in page["data"].as_array().unwrap() {
        assert!(event["id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(event["occurred_at"].as_str().is_some());
    }
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_event_and_no_gap() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await["id"].as_str().unwrap().to_owned();
    let form = instrument_id(&app, &token, "attachment_lean_short_form").await;
    // Assigning writes `assessment.assigned` before the answers are scored;
    // a bad answer set rolls the whole write back, event included.
    let bad = json!({"client_id": client, "instrument_id": form, "answers": [{"item_id": "ax1", "value": 99}]});
    assert_problem(app.post_json("/v1/assessments", &token, &bad).await, 422, "validation_failed").await;
    assert_eq!(app.count("SELECT count(*) FROM assessments").await, 0);
    let good = json!({"client_id": client, "instrument_id": form});
    assert_eq!(app.post_json("/v1/assessments", &token, &good).await.status(), 201);
    let page = feed(&app, &token, "").await;
    assert_eq!(types(&page), ["client.created", "assessment.assigned"]);
    assert_eq!(sequences(&page), [1, 2], "the rolled-back number was given back");
}

/// A write's events ride in the statement that records its audit entry; a
/// write whose operation records no entry still writes them.
#[tokio::test]
async fn events_without_an_audit_entry_to_carry_them_are_still_written() {
    use attune::events::{EventData, EventType, Outbox};
    let app = TestApp::spawn().await;
    let practice = attune::practices::PracticeId(app.practice_a.practice_id);
    let client = uuid::Uuid::now_v7();
    let mut events = Outbox::new(practice);
    events.push(EventType::ClientUpdated, &EventData::client(client, "active")).unwrap();
    events.push(EventType::ClientArchived, &EventData::client(client, "archived")).unwrap();
    let mut db = app.db().await;
    let unaudited = attune::audit::Note::default();
    attune::audit::record_with(&mut db, &unaudited, actix_web::http::StatusCode::OK, events).await.unwrap();
    let written = format!("SELECT count(*) FROM events WHERE data->>'client_id' = '{client}'");
    assert_eq!(app.count(&written).await, 2);
    assert_eq!(app.count(&format!("SELECT count(*) FROM audit_events WHERE client_id = '{client}'")).await, 0);
}

#[tokio::test]
async fn concurrent_writers_share_one_sequence_without_gaps_or_repeats() {
    let app = TestApp::spawn_with(|args| args.database.db_pool_size = 8).await;
    let token = app.token_a().await;
    let writes = (0..24).map(|i| app.create_client(&token, json!({"display_name": format!("C{i}")})));
    futures_util::future::join_all(writes).await;
    let page = feed(&app, &token, "?limit=200").await;
    assert_eq!(sequences(&page), (1..=24).collect::<Vec<_>>());
    let ids: Vec<&str> =
        page["data"].as_array().unwrap().iter().map(|e| e["data"]["client_id"].as_str().unwrap()).collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 24, "one event per client");
}

#[tokio::test]
async fn the_feed_pages_filters_and_refuses_what_it_cannot_read() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    for i in 0..5 {
        app.create_client(&token, json!({"display_name": format!("C{i}")})).await;
    }
    let first = feed(&app, &token, "?limit=2").await;
    assert_eq!(
        (sequences(&first), first["next_after"].as_i64(), first["has_more"].as_bool()),
        (vec![1, 2], Some(2), Some(true))
    );
    let rest = feed(&app, &token, "?after=2&limit=3").await;
    assert_eq!((sequences(&rest), rest["has_more"].as_bool()), (vec![3, 4, 5], Some(false)));
    let caught_up = feed(&app, &token, "?after=5").await;
    assert_eq!((sequences(&caught_up), caught_up["next_after"].as_i64()), (vec![], Some(5)), "poll again from 5");

    let form = instrument_id(&app, &token, "attachment_lean_short_form").await;
    let client = first["data"][0]["data"]["client_id"].clone();
    app.post_json("/v1/assessments", &token, &json!({"client_id": client, "instrument_id": form})).await;
    let only = feed(&app, &token, "?type=assessment.assigned,homework.logged").await;
    assert_eq!((types(&only), sequences(&only)), (vec!["assessment.assigned".to_owned()], vec![6]));

    let body = assert_problem(app.get("/v1/events?type=client.deleted", &token).await, 400, "invalid_query").await;
    assert_eq!(body["errors"][0]["field"], "type");
    let body = assert_problem(app.get("/v1/events?after=-1", &token).await, 400, "invalid_query").await;
    assert_eq!(body["errors"][0]["field"], "after");
    assert_problem(app.get("/v1/events?limit=201", &token).await, 400, "invalid_query").await;
    let narrow = app.token_for(&app.practice_a, Some("clients:read")).await;
    assert_problem(app.get("/v1/events", &narrow).await, 403, "insufficient_scope").await;

    // Another practice has its own feed, numbered from 1.
    let token_b = app.token_b().await;
    assert_eq!(sequences(&feed(&app, &token_b, "").await), Vec::<i64>::new());
    app.create_client(&token_b, json!({"display_name": "B"})).await;
    let b = feed(&app, &token_b, "").await;
    assert_eq!((types(&b), sequences(&b)), (vec!["client.created".to_owned()], vec![1]));
}

/// A service, a token, a client and the custom closeness instrument
/// (with published norms) that the deterioration cases administer.
async fn closeness_setup() -> (TestApp, String, String, String) {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await["id"].as_str().unwrap().to_owned();
    let response = app.post_json("/v1/instruments", &token, &custom_definition("rel_check")).await;
    let instrument = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    (app, token, client, instrument)
}

#[tokio::test]
async fn a_completion_that_shows_reliable_deterioration_raises_a_flag() {
    let (app, token, client, instrument) = closeness_setup().await;
    // Closeness 8 -> 2 (higher is better; sd 1.8, r .85): RCI -6.09, reliable.
    complete(&app, &token, &client, &instrument, closeness(4, 4, 1), days_ago(30)).await;
    // 8 -> 7 (RCI -1.01) is no reliable change: no flag.
    complete(&app, &token, &client, &instrument, closeness(4, 3, 1), days_ago(20)).await;
    complete(&app, &token, &client, &instrument, closeness(1, 1, 1), days_ago(2)).await;
    let page = feed(&app, &token, "?type=progress.flag_raised,assessment.completed").await;
    assert_eq!(
        types(&page),
        ["assessment.completed", "assessment.completed", "assessment.completed", "progress.flag_raised"]
    );
    let flag = &page["data"][3]["data"];
    assert_eq!(flag["flag"], "reliable_deterioration");
    assert_eq!(flag["client_id"], client.as_str());
    assert_eq!(flag["assessment_id"], page["data"][2]["data"]["assessment_id"]);
}

#[tokio::test]
async fn a_backdated_completion_is_not_the_latest_and_raises_no_flag() {
    let (app, token, client, instrument) = closeness_setup().await;
    // 8 at baseline, 7 two days ago; then 2, backdated between them: a
    // reliable drop from baseline, but the series' latest is still the 7.
    complete(&app, &token, &client, &instrument, closeness(4, 4, 1), days_ago(30)).await;
    complete(&app, &token, &client, &instrument, closeness(4, 3, 1), days_ago(2)).await;
    complete(&app, &token, &client, &instrument, closeness(1, 1, 1), days_ago(10)).await;
    let page = feed(&app, &token, "?type=progress.flag_raised").await;
    assert_eq!(types(&page), Vec::<String>::new());
}

#[tokio::test]
async fn the_periodic_check_raises_quiet_and_overdue_flags_once_each() {
    let app = TestApp::spawn().await;
    let token = app.token_a().await;
    let client = app.create_client(&token, json!({"display_name": "P."})).await["id"].as_str().unwrap().to_owned();
    let exercise = exercise_id(&app, &token, "ask_for_small_help").await;
    let body = json!({"client_id": client, "exercise_id": exercise, "cadence_per_week": 2,
                      "starts_on": days_ago(21).date_naive()});
    let quiet = app.post_json("/v1/homework", &token, &body).await.json::<Value>().await.unwrap();
    let body = json!({"client_id": client, "exercise_id": exercise, "cadence_per_week": 2,
                      "starts_on": days_ago(3).date_naive()});
    assert_eq!(app.post_json("/v1/homework", &token, &body).await.status(), 201, "three days is not quiet");
    let form = instrument_id(&app, &token, "attachment_lean_short_form").await;
    let due = json!({"client_id": client, "instrument_id": form, "due_on": days_ago(1).date_naive()});
    let overdue = app.post_json("/v1/assessments", &token, &due).await.json::<Value>().await.unwrap();
    let later = json!({"client_id": client, "instrument_id": form, "due_on": days_ago(-3).date_naive()});
    assert_eq!(app.post_json("/v1/assessments", &token, &later).await.status(), 201);

    let pool = attune::db::build_pool(&app.db_url, 2, Duration::from_secs(2)).unwrap();
    let check =
        || attune::jobs::run_led("raise progress flags", &pool, |conn| Box::pin(attune::events::flag_check::run(conn)));
    assert_eq!(check().await.unwrap(), Some(2));
    let again = check().await.unwrap();
    assert_eq!(again, Some(0), "each flag is raised once");

    let page = feed(&app, &token, "?type=progress.flag_raised").await;
    let flags: Vec<&Value> = page["data"].as_array().unwrap().iter().map(|e| &e["data"]).collect();
    assert_eq!(
        flags,
        [
            &json!({"client_id": client, "homework_id": quiet["id"], "flag": "no_recent_homework_log"}),
            &json!({"client_id": client, "assessment_id": overdue["id"], "flag": "assessment_overdue"}),
        ]
    );
}
