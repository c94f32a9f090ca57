//! What a link covers at a visit, what is still to do, and the link's state.
//! Pure: the caller reads the client's open assessments, active assignments
//! and the link's submissions, and this decides.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::LinkState;

/// What a link was issued to cover.
#[derive(Debug, Clone, Copy)]
pub struct Coverage<'a> {
    pub all_open_assessments: bool,
    pub assessment_ids: &'a [Uuid],
    pub all_active_homework: bool,
    pub homework_ids: &'a [Uuid],
}

impl Coverage<'_> {
    pub fn covers_assessments(&self) -> bool {
        self.all_open_assessments || !self.assessment_ids.is_empty()
    }

    pub fn covers_homework(&self) -> bool {
        self.all_active_homework || !self.homework_ids.is_empty()
    }
}

/// The client's records as they stand at the visit.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    /// The client's assessments still open (assigned, not completed).
    pub open_assessments: &'a [Uuid],
    /// The client's homework assignments that are active.
    pub active_homework: &'a [Uuid],
    /// Assessments completed through this link.
    pub submitted_assessments: &'a [Uuid],
    /// Assignments logged through this link at least once.
    pub logged_homework: &'a [Uuid],
}

/// One thing on the client's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    pub id: Uuid,
    /// Still to do through this link; otherwise shown as done (or closed).
    pub open: bool,
}

/// The link's assessments, in the order they were listed or assigned.
pub fn assessments(coverage: &Coverage<'_>, standing: &Standing<'_>) -> Vec<Item> {
    let ids: Vec<Uuid> = if coverage.all_open_assessments {
        union(standing.submitted_assessments, standing.open_assessments)
    } else {
        coverage.assessment_ids.to_vec()
    };
    ids.into_iter().map(|id| Item { id, open: standing.open_assessments.contains(&id) }).collect()
}

/// The link's homework assignments. One logged through the link counts as
/// done for the list, and can still be logged again while the link lasts.
pub fn homework(coverage: &Coverage<'_>, standing: &Standing<'_>) -> Vec<Item> {
    let ids: Vec<Uuid> = if coverage.all_active_homework {
        union(standing.logged_homework, standing.active_homework)
    } else {
        coverage.homework_ids.to_vec()
    };
    ids.into_iter()
        .map(|id| Item { id, open: standing.active_homework.contains(&id) && !standing.logged_homework.contains(&id) })
        .collect()
}

/// Whether nothing is left to do: the link finishes at the submission that
/// makes this true.
pub fn all_done(coverage: &Coverage<'_>, standing: &Standing<'_>) -> bool {
    nothing_open(&assessments(coverage, standing), &homework(coverage, standing))
}

/// Whether none of a link's items is still to do.
pub fn nothing_open(assessments: &[Item], homework: &[Item]) -> bool {
    assessments.iter().chain(homework).all(|item| !item.open)
}

fn union(first: &[Uuid], then: &[Uuid]) -> Vec<Uuid> {
    let mut ids = first.to_vec();
    ids.extend(then.iter().filter(|id| !first.contains(id)));
    ids
}

/// Where a link stands at `now`. Revoked wins over everything; a finished
/// link stays finished after it would have expired.
pub fn state(
    revoked_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> LinkState {
    if revoked_at.is_some() {
        LinkState::Revoked
    } else if finished_at.is_some() {
        LinkState::Finished
    } else if expires_at <= now {
        LinkState::Expired
    } else {
        LinkState::Active
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn listed_assessments_stay_listed_and_close_when_no_longer_open() {
        let listed = ids(3);
        let coverage = Coverage {
            all_open_assessments: false,
            assessment_ids: &listed,
            all_active_homework: false,
            homework_ids: &[],
        };
        // The second was completed (here or elsewhere): no longer open.
        let open = [listed[0], listed[2], Uuid::from_u128(99)];
        let standing = Standing {
            open_assessments: &open,
            active_homework: &[],
            submitted_assessments: &[listed[1]],
            logged_homework: &[],
        };
        let items = assessments(&coverage, &standing);
        assert_eq!(
            items,
            vec![
                Item { id: listed[0], open: true },
                Item { id: listed[1], open: false },
                Item { id: listed[2], open: true }
            ]
        );
        assert!(!all_done(&coverage, &standing));
    }

    #[test]
    fn all_open_reads_the_client_at_each_visit_and_keeps_what_was_done_here() {
        let coverage =
            Coverage { all_open_assessments: true, assessment_ids: &[], all_active_homework: false, homework_ids: &[] };
        let (done_here, assigned_since) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let standing = Standing {
            open_assessments: &[assigned_since],
            active_homework: &[],
            submitted_assessments: &[done_here],
            logged_homework: &[],
        };
        let items = assessments(&coverage, &standing);
        assert_eq!(items, vec![Item { id: done_here, open: false }, Item { id: assigned_since, open: true }]);
        let later = Standing { open_assessments: &[], ..standing };
        assert!(all_done(&coverage, &later));
    }

    #[test]
    fn homework_is_done_once_logged_through_the_link_or_no_longer_active() {
        let listed = ids(3);
        let coverage = Coverage {
            all_open_assessments: false,
            assessment_ids: &[],
            all_active_homework: false,
            homework_ids: &listed,
        };
        // The first is logged here, the second paused since, the third untouched.
        let active = [listed[0], listed[2]];
        let standing = Standing {
            open_assessments: &[],
            active_homework: &active,
            submitted_assessments: &[],
            logged_homework: &[listed[0]],
        };
        let open: Vec<bool> = homework(&coverage, &standing).iter().map(|item| item.open).collect();
        assert_eq!(open, vec![false, false, true]);
        assert!(!all_done(&coverage, &standing));
        let logged = [listed[0], listed[2]];
        assert!(all_done(&coverage, &Standing { logged_homework: &logged, ..standing }));
    }

    #[test]
    fn a_link_over_both_kinds_is_done_only_when_both_are() {
        let (assessment, assignment) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let coverage =
            Coverage { all_open_assessments: true, assessment_ids: &[], all_active_homework: true, homework_ids: &[] };
        let standing = Standing {
            open_assessments: &[],
            active_homework: &[assignment],
            submitted_assessments: &[assessment],
            logged_homework: &[],
        };
        assert!(!all_done(&coverage, &standing));
        assert!(all_done(&coverage, &Standing { logged_homework: &[assignment], ..standing }));
    }

    #[test]
    fn revoked_beats_finished_beats_expired() {
        let now = Utc::now();
        let (past, future) = (now - Duration::hours(1), now + Duration::hours(1));
        assert_eq!(state(None, None, future, now), LinkState::Active);
        assert_eq!(state(None, None, now, now), LinkState::Expired);
        assert_eq!(state(None, Some(past), past, now), LinkState::Finished);
        assert_eq!(state(Some(past), Some(past), past, now), LinkState::Revoked);
        assert_eq!(state(Some(past), None, future, now), LinkState::Revoked);
    }
}
