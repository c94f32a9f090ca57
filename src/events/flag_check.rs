//! The periodic check that raises `progress.flag_raised` where no request
//! does: an active assignment quiet for 14 days, and an assessment past its
//! due date. It runs as a led job (one instance at a time) and raises each
//! flag once: an overdue assessment once, a quiet assignment once per quiet
//! spell (a log or a resume starts a new spell).

use diesel::QueryableByName;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{EventData, EventType};
use super::store;
use crate::practices::PracticeId;
use crate::progress::model::FlagKind;
use crate::progress::report::QUIET_DAYS;

/// Flags raised per tick at most; the rest wait for the next tick, so that a
/// backlog never holds the practices' event counters for long.
const BATCH: i64 = 500;

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    client_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    subject_id: Uuid,
    #[diesel(sql_type = Text)]
    dedupe_key: String,
}

// Quiet time counts from the start, the last log or the last resume, as the
// progress view's flags do. The latest log and resume are sub-selects in
// the select list of a derived table, each correlated on practice and
// assignment: Citus pushes that down to every shard, where a sub-select
// inside a FROM-less LATERAL was refused.
const QUIET: &str = "\
    SELECT k.practice_id, k.client_id, k.subject_id, k.dedupe_key \
    FROM ( \
        SELECT q.practice_id, q.client_id, q.subject_id, q.since, \
               'no_recent_homework_log:' || q.subject_id || ':' || floor(extract(epoch FROM q.since))::bigint \
                 AS dedupe_key \
        FROM ( \
            SELECT h.practice_id, h.client_id, h.id AS subject_id, \
                   greatest( \
                       (h.starts_on::timestamp AT TIME ZONE 'UTC'), \
                       (SELECT max(l.occurred_at) FROM homework_logs l \
                         WHERE l.practice_id = h.practice_id AND l.homework_id = h.id), \
                       (SELECT max(p.resumed_at) FROM homework_pauses p \
                         WHERE p.practice_id = h.practice_id AND p.homework_id = h.id)) AS since \
            FROM homework h \
            WHERE h.status = 'active') q) k \
    WHERE k.since <= now() - make_interval(days => $1) \
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.practice_id = k.practice_id AND e.dedupe_key = k.dedupe_key) \
    LIMIT $2";

const OVERDUE: &str = "\
    SELECT a.practice_id, a.client_id, a.id AS subject_id, 'assessment_overdue:' || a.id AS dedupe_key \
    FROM assessments a \
    WHERE a.status = 'assigned' AND a.due_on < (now() AT TIME ZONE 'UTC')::date \
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.practice_id = a.practice_id \
                        AND e.dedupe_key = 'assessment_overdue:' || a.id) \
    LIMIT $1";

/// One tick: raises what is due and returns how many flags it raised.
pub async fn run(conn: &mut AsyncPgConnection) -> anyhow::Result<u64> {
    let quiet: Vec<Candidate> = diesel::sql_query(QUIET)
        .bind::<diesel::sql_types::Integer, _>(QUIET_DAYS as i32)
        .bind::<diesel::sql_types::BigInt, _>(BATCH)
        .load(conn)
        .await?;
    let overdue: Vec<Candidate> =
        diesel::sql_query(OVERDUE).bind::<diesel::sql_types::BigInt, _>(BATCH).load(conn).await?;
    let mut raised = 0;
    for (candidates, flag) in [(quiet, FlagKind::NoRecentHomeworkLog), (overdue, FlagKind::AssessmentOverdue)] {
        for candidate in candidates {
            let mut data = EventData { client_id: Some(candidate.client_id), flag: Some(flag), ..Default::default() };
            match flag {
                FlagKind::NoRecentHomeworkLog => data.homework_id = Some(candidate.subject_id),
                _ => data.assessment_id = Some(candidate.subject_id),
            }
            let practice = PracticeId(candidate.practice_id);
            store::append_once(conn, practice, EventType::ProgressFlagRaised, &data, &candidate.dedupe_key).await?;
            raised += 1;
        }
    }
    Ok(raised)
}
