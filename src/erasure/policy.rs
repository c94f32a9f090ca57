//! The rules of erasure, legal hold and retention, with no database and no
//! HTTP: when a request may be made, when a scheduled erasure runs, what it
//! is waiting on, and whom a retention policy makes eligible. The store's
//! SQL mirrors [`retention_eligible`] (so that a list can be paged in the
//! database), and the job checks every candidate it finds against it again
//! under the row's lock before acting.

use chrono::{DateTime, Duration, Utc};

use super::model::{ErasureState, RetentionBasis, Waiting};

/// The grace period when a request names none: a week to notice a mistake.
pub const DEFAULT_GRACE_DAYS: i32 = 7;
/// The longest grace period a request may ask for.
pub const MAX_GRACE_DAYS: i32 = 30;
/// A retention period shorter than a year would erase clients still
/// plausibly in care; the laws retention serves ask for years.
pub const MIN_RETENTION_DAYS: i32 = 365;
/// A century: longer is no retention policy at all.
pub const MAX_RETENTION_DAYS: i32 = 36_500;
/// The longest reason an operator may give, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The subject recorded for erasures the retention policy schedules.
pub const RETENTION_SUBJECT: &str = "attune:retention-policy";
/// The subject recorded for the execution of an erasure.
pub const JOB_SUBJECT: &str = "attune:erasure-job";

/// What the rules need to know of a client.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFacts {
    pub legal_hold: bool,
    /// Set while the client is discharged.
    pub discharged_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// The latest erasure request's state, if one was ever made.
    pub state: Option<ErasureState>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// Why an erasure request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The record is already erased.
    Completed,
    /// A legal hold forbids erasure.
    LegalHold,
    /// An erasure is already scheduled, for this time.
    AlreadyScheduled(DateTime<Utc>),
}

/// Whether a new erasure request may be made. A cancelled one may be
/// requested again.
pub fn may_request(client: &ClientFacts) -> Result<(), Refusal> {
    match client.state {
        Some(ErasureState::Completed) => Err(Refusal::Completed),
        _ if client.legal_hold => Err(Refusal::LegalHold),
        Some(ErasureState::Scheduled) => Err(Refusal::AlreadyScheduled(client.scheduled_for.unwrap_or_default())),
        Some(ErasureState::Cancelled) | None => Ok(()),
    }
}

/// When an erasure requested at `requested_at` with `grace_days` is due.
pub fn scheduled_for(requested_at: DateTime<Utc>, grace_days: i32) -> DateTime<Utc> {
    requested_at + Duration::days(i64::from(grace_days))
}

/// Whether the job erases the client now: scheduled, due and not held. A
/// held client's erasure stays scheduled and runs once the hold is lifted.
pub fn may_execute(client: &ClientFacts, now: DateTime<Utc>) -> bool {
    client.state == Some(ErasureState::Scheduled)
        && !client.legal_hold
        && client.scheduled_for.is_some_and(|due| due <= now)
}

/// Whether an erasure the retention policy scheduled no longer has a
/// reason to run: the client is back in care (neither discharged nor
/// archived any more). The job cancels it instead of erasing a client the
/// practice treats again. Erasures a person asked for are not second-guessed.
pub fn retention_lapsed(client: &ClientFacts, requested_by: Option<&str>) -> bool {
    requested_by == Some(RETENTION_SUBJECT) && retention_basis(client).is_none()
}

/// What a scheduled erasure is waiting on; `None` unless it is scheduled.
/// A hold is named first: it is what an operator must act on.
pub fn waiting_on(client: &ClientFacts, now: DateTime<Utc>) -> Option<Waiting> {
    if client.state != Some(ErasureState::Scheduled) {
        return None;
    }
    if client.legal_hold {
        return Some(Waiting::LegalHold);
    }
    match client.scheduled_for {
        Some(due) if due > now => Some(Waiting::GracePeriod),
        _ => Some(Waiting::NextRun),
    }
}

/// What a retention period counts from: the earlier of the discharge and
/// the archiving (either ends the practice's care), `None` for a client in
/// care and not archived.
pub fn retention_basis(client: &ClientFacts) -> Option<(DateTime<Utc>, RetentionBasis)> {
    let discharged = client.discharged_at.map(|at| (at, RetentionBasis::Discharged));
    let archived = client.archived_at.map(|at| (at, RetentionBasis::Archived));
    match (discharged, archived) {
        (Some(d), Some(a)) => Some(if a.0 < d.0 { a } else { d }),
        (one, other) => one.or(other),
    }
}

/// The instant a basis must lie before for the client to be eligible:
/// "more than `days` days ago".
pub fn retention_cutoff(now: DateTime<Utc>, days: i32) -> DateTime<Utc> {
    now - Duration::days(i64::from(days))
}

/// When a retention period of `days` counted from `basis` runs out.
pub fn retention_ends(basis: DateTime<Utc>, days: i32) -> DateTime<Utc> {
    basis + Duration::days(i64::from(days))
}

/// Whether a retention policy of `days` schedules the client's erasure now:
/// discharged or archived more than `days` days ago, not held, not erased,
/// no erasure scheduled already, and none cancelled since that discharge or
/// archiving (a cancelled erasure exempts the client from the policy until
/// it is discharged or archived again: the policy does not overrule a
/// person's decision every minute; a legal hold is the lasting answer).
pub fn retention_eligible(client: &ClientFacts, days: i32, now: DateTime<Utc>) -> bool {
    let Some((basis, _)) = retention_basis(client) else { return false };
    let cancelled_since = client.cancelled_at.is_some_and(|cancelled| cancelled >= basis);
    !client.legal_hold
        && matches!(client.state, None | Some(ErasureState::Cancelled))
        && !cancelled_since
        && basis < retention_cutoff(now, days)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, day, hour, 0, 0).single().unwrap_or_default()
    }

    fn scheduled(due: DateTime<Utc>) -> ClientFacts {
        ClientFacts { state: Some(ErasureState::Scheduled), scheduled_for: Some(due), ..Default::default() }
    }

    #[test]
    fn a_request_is_refused_when_erased_held_or_already_scheduled() {
        assert_eq!(may_request(&ClientFacts::default()), Ok(()));
        let cancelled =
            ClientFacts { state: Some(ErasureState::Cancelled), cancelled_at: Some(at(2, 0)), ..Default::default() };
        assert_eq!(may_request(&cancelled), Ok(()), "a cancelled erasure may be requested again");
        assert_eq!(may_request(&scheduled(at(9, 12))), Err(Refusal::AlreadyScheduled(at(9, 12))));
        let held = ClientFacts { legal_hold: true, ..Default::default() };
        assert_eq!(may_request(&held), Err(Refusal::LegalHold));
        // A hold is named before the scheduled erasure it keeps waiting.
        assert_eq!(may_request(&ClientFacts { legal_hold: true, ..scheduled(at(9, 12)) }), Err(Refusal::LegalHold));
        let done = ClientFacts { state: Some(ErasureState::Completed), ..Default::default() };
        assert_eq!(may_request(&done), Err(Refusal::Completed));
    }

    #[test]
    fn the_grace_period_counts_whole_days_from_the_request() {
        assert_eq!(scheduled_for(at(1, 9), 7), at(8, 9));
        assert_eq!(scheduled_for(at(1, 9), 0), at(1, 9));
        assert_eq!(scheduled_for(at(1, 9), MAX_GRACE_DAYS), at(31, 9));
    }

    #[test]
    fn an_erasure_runs_once_due_and_not_held() {
        let due = at(8, 9);
        assert!(!may_execute(&scheduled(due), at(8, 8)), "in the grace period");
        assert!(may_execute(&scheduled(due), due), "due at the instant itself");
        assert!(may_execute(&scheduled(due), at(20, 0)), "late is still due");
        let held = ClientFacts { legal_hold: true, ..scheduled(due) };
        assert!(!may_execute(&held, at(20, 0)), "a hold stops it");
        let cancelled = ClientFacts { state: Some(ErasureState::Cancelled), ..scheduled(due) };
        assert!(!may_execute(&cancelled, at(20, 0)));
        let done = ClientFacts { state: Some(ErasureState::Completed), ..scheduled(due) };
        assert!(!may_execute(&done, at(20, 0)), "never twice");
    }

    #[test]
    fn a_retention_erasure_lapses_when_the_client_is_back_in_care() {
        let readmitted = scheduled(at(8, 9));
        assert!(retention_lapsed(&readmitted, Some(RETENTION_SUBJECT)));
        assert!(!retention_lapsed(&readmitted, Some("0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0099")), "a person asked");
        let still_discharged = ClientFacts { discharged_at: Some(at(1, 0)), ..scheduled(at(8, 9)) };
        assert!(!retention_lapsed(&still_discharged, Some(RETENTION_SUBJECT)));
        let archived = ClientFacts { archived_at: Some(at(1, 0)), ..scheduled(at(8, 9)) };
        assert!(!retention_lapsed(&archived, Some(RETENTION_SUBJECT)));
    }

    #[test]
    fn a_scheduled_erasure_names_what_it_waits_on() {
        let due = at(8, 9);
        assert_eq!(waiting_on(&scheduled(due), at(2, 0)), Some(Waiting::GracePeriod));
        assert_eq!(waiting_on(&scheduled(due), at(9, 0)), Some(Waiting::NextRun));
        let held = ClientFacts { legal_hold: true, ..scheduled(due) };
        assert_eq!(waiting_on(&held, at(2, 0)), Some(Waiting::LegalHold));
        assert_eq!(waiting_on(&held, at(9, 0)), Some(Waiting::LegalHold));
        assert_eq!(waiting_on(&ClientFacts { legal_hold: true, ..Default::default() }, at(9, 0)), None);
    }

    #[test]
    fn retention_counts_from_the_earlier_of_discharge_and_archiving() {
        let both = ClientFacts { discharged_at: Some(at(3, 0)), archived_at: Some(at(5, 0)), ..Default::default() };
        assert_eq!(retention_basis(&both), Some((at(3, 0), RetentionBasis::Discharged)));
        let archived_first =
            ClientFacts { discharged_at: Some(at(5, 0)), archived_at: Some(at(3, 0)), ..Default::default() };
        assert_eq!(retention_basis(&archived_first), Some((at(3, 0), RetentionBasis::Archived)));
        let archived = ClientFacts { archived_at: Some(at(4, 0)), ..Default::default() };
        assert_eq!(retention_basis(&archived), Some((at(4, 0), RetentionBasis::Archived)));
        assert_eq!(retention_basis(&ClientFacts::default()), None, "in care: never eligible");
    }

    #[test]
    fn retention_makes_eligible_only_more_than_n_days_after_the_basis() {
        let discharged = ClientFacts { discharged_at: Some(at(1, 0)), ..Default::default() };
        let year_later = at(1, 0) + Duration::days(365);
        assert!(!retention_eligible(&discharged, 365, year_later), "exactly N days is not more than N");
        assert!(retention_eligible(&discharged, 365, year_later + Duration::seconds(1)));
        assert!(!retention_eligible(&discharged, 400, year_later + Duration::days(1)));
        assert!(!retention_eligible(&ClientFacts::default(), 365, year_later + Duration::days(9000)));
    }

    #[test]
    fn retention_passes_over_held_scheduled_erased_and_cancelled_since() {
        let now = at(1, 0) + Duration::days(800);
        let base = ClientFacts { discharged_at: Some(at(1, 0)), ..Default::default() };
        assert!(retention_eligible(&base, 365, now));
        assert!(!retention_eligible(&ClientFacts { legal_hold: true, ..base.clone() }, 365, now));
        let scheduled = ClientFacts { state: Some(ErasureState::Scheduled), scheduled_for: Some(now), ..base.clone() };
        assert!(!retention_eligible(&scheduled, 365, now), "already on its way");
        let done = ClientFacts { state: Some(ErasureState::Completed), ..base.clone() };
        assert!(!retention_eligible(&done, 365, now));
        let cancelled_since = ClientFacts {
            state: Some(ErasureState::Cancelled),
            cancelled_at: Some(at(1, 0) + Duration::days(500)),
            ..base.clone()
        };
        assert!(!retention_eligible(&cancelled_since, 365, now), "an operator said no after the discharge");
        // A cancellation before the (latest) discharge does not exempt it.
        let cancelled_before = ClientFacts {
            state: Some(ErasureState::Cancelled),
            cancelled_at: Some(at(1, 0) - Duration::days(10)),
            ..base
        };
        assert!(retention_eligible(&cancelled_before, 365, now));
    }
}
