//! When a failed delivery is tried again, and when an endpoint is given up on.
//!
//! Ten attempts: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
//! 14 h, 20 h and 24 h, each stretched by up to a fifth at random so that
//! receivers coming back from an outage are not hit by every sender at the
//! same instant. The waits add up to 75.6 h before jitter, so a delivery is
//! tried for more than three days. An endpoint that answers 410 Gone, or has
//! failed every attempt for five days, is disabled.

use std::time::Duration;

/// The waits before attempts 2, 3, ..., in units (a second, unless a test
/// shrinks the unit).
pub const RETRY_WAITS: [u64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// How long an endpoint may fail every attempt before it is disabled, in units.
pub const DISABLE_AFTER_FAILING: u64 = 5 * 86_400;

/// The wait after attempt number `attempts` failed, or `None` when that was
/// the last. `jitter` is drawn from `[0, 1)`.
pub fn wait_after(attempts: u32, jitter: f64, unit: Duration) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let units = *RETRY_WAITS.get(index)?;
    Some(unit.mul_f64(units as f64 * (1.0 + jitter.clamp(0.0, 1.0) / 5.0)))
}

/// How one attempt went, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Success,
    /// 410: the receiver says the endpoint is gone for good.
    Gone,
    /// Any other status, a timeout, or no connection.
    Failure,
}

impl Answer {
    pub fn from_status(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Answer::Success,
            Some(410) => Answer::Gone,
            _ => Answer::Failure,
        }
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    RetryAfter(Duration),
    /// The schedule is spent: the delivery failed; the endpoint stays.
    GiveUp,
    /// The endpoint is disabled (gone, or failing too long); so is the delivery.
    Disable(DisableReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableReason {
    Gone,
    Failing,
}

impl DisableReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
            DisableReason::Failing => "failing",
        }
    }
}

/// Decides what follows attempt number `attempts` of a delivery, given how
/// long its endpoint has been failing (`None`: it succeeded last time).
pub fn decide(answer: Answer, attempts: u32, failing_for: Option<Duration>, jitter: f64, unit: Duration) -> Verdict {
    match answer {
        Answer::Success => Verdict::Delivered,
        Answer::Gone => Verdict::Disable(DisableReason::Gone),
        Answer::Failure => {
            if failing_for.is_some_and(|failing| failing >= unit * DISABLE_AFTER_FAILING as u32) {
                return Verdict::Disable(DisableReason::Failing);
            }
            wait_after(attempts, jitter, unit).map_or(Verdict::GiveUp, Verdict::RetryAfter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_schedule_spans_more_than_three_days_even_without_jitter() {
        let total: u64 = RETRY_WAITS.iter().sum();
        assert_eq!(total, 272_105);
        assert!(total > 3 * 86_400);
        let shortest: Duration = (1..=9).map(|n| wait_after(n, 0.0, SECOND).unwrap()).sum();
        assert_eq!(shortest, Duration::from_secs(272_105));
    }

    #[test]
    fn waits_follow_the_table_and_jitter_only_stretches_them() {
        assert_eq!(wait_after(1, 0.0, SECOND), Some(Duration::from_secs(5)));
        assert_eq!(wait_after(2, 0.0, SECOND), Some(Duration::from_secs(300)));
        assert_eq!(wait_after(1, 0.5, SECOND), Some(Duration::from_secs(5).mul_f64(1.1)));
        let most = wait_after(9, 0.999_999, SECOND).unwrap();
        assert!(most < Duration::from_secs(86_400).mul_f64(1.2) && most > Duration::from_secs(86_400));
        assert_eq!(wait_after(10, 0.0, SECOND), None);
        assert_eq!(wait_after(0, 0.0, SECOND), None);
        // A test's unit shrinks every wait alike.
        assert_eq!(wait_after(2, 0.0, Duration::from_millis(10)), Some(Duration::from_secs(3)));
    }

    #[test]
    fn answers_map_to_verdicts() {
        assert_eq!(Answer::from_status(Some(204)), Answer::Success);
        assert_eq!(Answer::from_status(Some(410)), Answer::Gone);
        assert_eq!(Answer::from_status(Some(301)), Answer::Failure);
        assert_eq!(Answer::from_status(Some(500)), Answer::Failure);
        assert_eq!(Answer::from_status(None), Answer::Failure);
        assert_eq!(decide(Answer::Success, 3, Some(SECOND * 86_400 * 6), 0.0, SECOND), Verdict::Delivered);
        assert_eq!(decide(Answer::Gone, 1, None, 0.0, SECOND), Verdict::Disable(DisableReason::Gone));
        assert_eq!(decide(Answer::Failure, 1, None, 0.0, SECOND), Verdict::RetryAfter(Duration::from_secs(5)));
        assert_eq!(decide(Answer::Failure, 10, Some(SECOND), 0.0, SECOND), Verdict::GiveUp);
    }

    #[test]
    fn five_days_of_failure_disables_the_endpoint() {
        let almost = Some(SECOND * (DISABLE_AFTER_FAILING as u32 - 1));
        assert!(matches!(decide(Answer::Failure, 2, almost, 0.0, SECOND), Verdict::RetryAfter(_)));
        let five_days = Some(SECOND * DISABLE_AFTER_FAILING as u32);
        assert_eq!(decide(Answer::Failure, 2, five_days, 0.0, SECOND), Verdict::Disable(DisableReason::Failing));
    }
}
