//! Where the sealing job looks for queued entries on each tick.
//!
//! The queue (`audit_unsealed_batches`) keeps every batch the sealer has
//! released in its index until a vacuum removes it, and under load that is
//! hundreds of thousands of dead entries at the front of the index between
//! vacuums. A scan from the start walks all of them; done on every tick of
//! a busy sealer (every few milliseconds), that walk cost more than the
//! sealing: right after a burst of 150,000 queued entries, audited reads
//! had a p99 of 15.6 ms, against 4.3-4.9 ms with recent ticks.
//!
//! So most ticks are *recent*: they scan only batches whose ids (UUIDv7,
//! stamped when the entry is made, just before it is written) are at most
//! [`RECENT`] old, for the practices the last full tick found. Once every
//! [`super::SEAL_PERIOD`] a tick is *full*: every practice, from the start of
//! the queue, which links whatever a recent tick could miss (a practice
//! that just started, a batch whose commit took longer than the margin, an
//! instance whose clock runs behind). What this remembers is only a hint:
//! an instance that has not sealed for a while, or just started, does a
//! full tick first.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use uuid::Uuid;

use crate::practices::PracticeId;

/// How old a batch a recent tick still looks for.
pub const RECENT: Duration = Duration::from_secs(2);

/// What one tick scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Every practice with queued batches, from the start of the queue.
    Full,
    /// These practices' batches with ids after `from`.
    Recent { practices: Vec<PracticeId>, from: Uuid },
}

/// The last full tick on this instance: when it started and the practices
/// it found.
static LAST_FULL: Mutex<Option<(Instant, Vec<PracticeId>)>> = Mutex::new(None);

/// The scan for a tick starting at `now` (wall clock `wall`).
pub fn plan(now: Instant, wall: SystemTime) -> Scan {
    let last = LAST_FULL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match &*last {
        Some((at, practices)) if now.saturating_duration_since(*at) < super::SEAL_PERIOD => {
            Scan::Recent { practices: practices.clone(), from: id_floor(wall.checked_sub(RECENT).unwrap_or(wall)) }
        }
        _ => Scan::Full,
    }
}

/// Remembers a full tick that started at `started` and found `practices`.
pub fn full_tick_done(started: Instant, practices: Vec<PracticeId>) {
    *LAST_FULL.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((started, practices));
}

/// The smallest UUIDv7 stamped at `at` or later: its 48-bit millisecond
/// timestamp and nothing else (PostgreSQL orders uuids bytewise, so every
/// id made from that millisecond on sorts after it).
fn id_floor(at: SystemTime) -> Uuid {
    let millis = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let millis = millis.min((1 << 48) - 1);
    Uuid::from_u128(millis << 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_of_a_millisecond_sorts_before_its_ids_and_after_the_ones_before() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let floor = id_floor(at);
        let same_ms = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_796_000_000, 123_000_000));
        let before = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_796_000_000, 122_999_999));
        assert!(floor < same_ms, "an id of the same millisecond is after the floor");
        assert!(before < floor, "an id of the millisecond before is not");
        assert_eq!(floor.as_bytes()[..6], same_ms.as_bytes()[..6]);
        assert_eq!(floor.as_bytes()[6..], [0; 10]);
    }

    #[test]
    fn a_full_tick_comes_first_then_recent_ones_until_the_period_is_over() {
        let practice = PracticeId(Uuid::now_v7());
        let start = Instant::now();
        let wall = SystemTime::now();
        // Tests in this module share the one static; this is the only one
        // that writes it.
        *LAST_FULL.lock().unwrap() = None;
        assert_eq!(plan(start, wall), Scan::Full);
        full_tick_done(start, vec![practice]);
        let Scan::Recent { practices, from } = plan(start + Duration::from_millis(5), wall) else {
            panic!("a tick right after a full one is recent");
        };
        assert_eq!(practices, vec![practice]);
        assert_eq!(from, id_floor(wall - RECENT));
        assert_eq!(plan(start + super::super::SEAL_PERIOD, wall), Scan::Full);
    }
}
