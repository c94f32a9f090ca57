//! The erasure job: a led job (one instance at a time, under an advisory
//! lock), run every `ATTUNE_ERASURE_INTERVAL_SECONDS` (at least once a
//! minute). Each run first schedules the erasures practices' retention
//! policies call for, then executes the erasures that are due and not held.
//!
//! The run is one transaction (the one holding the job's lock); each client
//! is handled in a savepoint of its own, so a client that fails is rolled
//! back alone (and tried again on the next run) while the others commit.
//! Batches are bounded, so that one run never holds the practices' event
//! counters (taken by each `client.erased`) for long; a backlog drains over
//! the following runs.

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::policy::{self, DEFAULT_GRACE_DAYS, JOB_SUBJECT, RETENTION_SUBJECT};
use super::store::{self, Candidate, ErasureRow, Schedule};
use crate::audit::operations::{JOB_CANCEL_ERASURE, JOB_DISSOLVE_RELATIONSHIP, JOB_ERASE_CLIENT, JOB_SCHEDULE_ERASURE};
use crate::audit::{self, Note};
use crate::auth::Principal;
use crate::events::{EventData, EventType, Outbox};
use crate::practices::PracticeId;
use actix_web::http::StatusCode;

/// The job's name (and its advisory lock's).
pub const NAME: &str = "run erasures and the retention policy";
/// Erasures executed per run at most.
const ERASURES_PER_RUN: i64 = 25;
/// Erasures the retention policies schedule per run at most.
const SCHEDULES_PER_RUN: i64 = 500;

/// One run: schedules what retention policies call for, executes what is
/// due; answers how many clients it scheduled or erased.
pub async fn run(conn: &mut AsyncPgConnection) -> anyhow::Result<u64> {
    let now = Utc::now();
    let scheduled = schedule_by_retention(conn, now).await?;
    let erased = execute_due(conn, now).await?;
    Ok(scheduled + erased)
}

/// Executes the due erasures (at most a batch); answers how many ran.
pub async fn execute_due(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut erased = 0;
    for candidate in store::due_erasures(conn, now, ERASURES_PER_RUN).await? {
        let outcome = conn
            .transaction::<_, anyhow::Error, _>(async |conn| {
                execute_one(conn, PracticeId(candidate.practice_id), candidate.client_id, now).await
            })
            .await;
        erased += u64::from(counted(&candidate, "erasure", outcome));
    }
    Ok(erased)
}

/// Schedules the erasures retention policies call for (at most a batch).
pub async fn schedule_by_retention(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> anyhow::Result<u64> {
    let mut scheduled = 0;
    for candidate in store::retention_due(conn, now, SCHEDULES_PER_RUN).await? {
        let Some(days) = candidate.erase_after_days else { continue };
        let outcome = conn
            .transaction::<_, anyhow::Error, _>(async |conn| {
                schedule_one(conn, PracticeId(candidate.practice_id), candidate.client_id, days, now).await
            })
            .await;
        scheduled += u64::from(counted(&candidate, "retention scheduling", outcome));
    }
    Ok(scheduled)
}

/// Whether a client's step happened; a failure is logged (ids only) and
/// left for the next run.
fn counted(candidate: &Candidate, step: &str, outcome: anyhow::Result<bool>) -> bool {
    match outcome {
        Ok(done) => done,
        Err(err) => {
            tracing::warn!(
                practice = %candidate.practice_id, client = %candidate.client_id, step, error = %err,
                "failed; tried again on the next run"
            );
            false
        }
    }
}

/// Who an execution is recorded as: the job, acting for whoever asked (the
/// requesting clinician when the token named one, else the requesting API
/// client or the retention policy).
fn executor(practice: PracticeId, row: &ErasureRow) -> Principal {
    Principal {
        practice_id: practice,
        subject: JOB_SUBJECT.to_owned(),
        actor: row.erasure_requested_by_actor.clone().or_else(|| row.erasure_requested_by.clone()),
        scopes: Vec::new(),
    }
}

fn retention_principal(practice: PracticeId) -> Principal {
    Principal { practice_id: practice, subject: RETENTION_SUBJECT.to_owned(), actor: None, scopes: Vec::new() }
}

/// Erases one client if, under its row's lock, the erasure is still due
/// and not held; answers whether it did. An erasure the retention policy
/// scheduled for a client since taken back into care is cancelled instead.
async fn execute_one(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: uuid::Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(row) = store::lock_erasure(conn, practice, client_id).await? else { return Ok(false) };
    let facts = row.facts();
    if !policy::may_execute(&facts, now) {
        return Ok(false);
    }
    if policy::retention_lapsed(&facts, row.erasure_requested_by.as_deref()) {
        let row = store::cancel(conn, practice, client_id).await?;
        let entry = Note::detached(JOB_CANCEL_ERASURE, &retention_principal(practice), client_id);
        let events = Outbox::with(practice, EventType::ClientUpdated, &EventData::client(client_id, &row.status))?;
        audit::record_with(conn, &entry, StatusCode::OK, events).await?;
        return Ok(false);
    }
    let erased = store::erase_client(conn, practice, client_id).await?;
    let principal = executor(practice, &row);
    let events = Outbox::with(practice, EventType::ClientErased, &EventData::client(client_id, "erased"))?;
    audit::record_with(conn, &Note::detached(JOB_ERASE_CLIENT, &principal, client_id), StatusCode::OK, events).await?;
    for relationship in &erased.dissolved_relationships {
        let entry = Note::detached(JOB_DISSOLVE_RELATIONSHIP, &principal, *relationship);
        audit::record(conn, &entry, StatusCode::OK).await?;
    }
    tracing::info!(
        practice = %practice,
        client = %client_id,
        assessments = erased.assessments,
        homework = erased.homework,
        homework_logs = erased.homework_logs,
        client_links = erased.client_links,
        relationship_memberships = erased.relationship_memberships,
        relationships_dissolved = erased.dissolved_relationships.len(),
        idempotency_answers = erased.idempotency_answers,
        events_redacted = erased.events_redacted,
        webhook_deliveries_redacted = erased.webhook_deliveries_redacted,
        exports_ended = erased.exports_ended,
        "client record erased"
    );
    Ok(true)
}

/// Schedules one client's erasure if, under its row's lock, the retention
/// policy still makes it eligible; answers whether it did.
async fn schedule_one(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client_id: uuid::Uuid,
    days: i32,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let Some(row) = store::lock_erasure(conn, practice, client_id).await? else { return Ok(false) };
    if !policy::retention_eligible(&row.facts(), days, now) {
        return Ok(false);
    }
    let reason = format!("retention policy: discharged or archived more than {days} days ago");
    let request = Schedule {
        reason: &reason,
        requested_by: RETENTION_SUBJECT,
        requested_by_actor: None,
        requested_at: now,
        scheduled_for: policy::scheduled_for(now, DEFAULT_GRACE_DAYS),
    };
    let row = store::schedule(conn, practice, client_id, &request).await?;
    let entry = Note::detached(JOB_SCHEDULE_ERASURE, &retention_principal(practice), client_id);
    let events = Outbox::with(practice, EventType::ClientUpdated, &EventData::client(client_id, &row.status))?;
    audit::record_with(conn, &entry, StatusCode::OK, events).await?;
    Ok(true)
}
