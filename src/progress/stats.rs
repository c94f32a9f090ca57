//! Change statistics and adherence, pure: numbers in, numbers out. No
//! database, no HTTP, no clock (callers pass `now`).
//!
//! Reliable change follows Jacobson & Truax (1991): SE = sd x sqrt(1 - r),
//! Sdiff = sqrt(2) x SE, RCI = (latest - baseline) / Sdiff, reliable when
//! |RCI| >= 1.96. The clinical cut-off is `c` when both populations are known,
//! otherwise `a` (two clinical sds past the clinical mean) or `b` (within two
//! non-clinical sds of the non-clinical mean).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::instruments::definition::Direction;

/// |RCI| at or beyond this is a reliable change (p < .05, two-sided).
pub const RELIABLE_Z: f64 = 1.96;
/// Absorbs binary rounding so an RCI of exactly 1.96 on paper counts as reliable.
const EPSILON: f64 = 1e-9;
const WEEK_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// The sd and reliability a change is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangeNorms {
    pub sd: f64,
    pub reliability: f64,
}

/// A reference population's mean and sd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Population {
    pub mean: f64,
    pub sd: f64,
}

/// Which Jacobson-Truax cut-off was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CutoffKind {
    /// Two clinical sds past the clinical mean, toward health.
    A,
    /// Two non-clinical sds from the non-clinical mean, toward dysfunction.
    B,
    /// The point between the two populations weighted by their sds.
    C,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cutoff {
    pub kind: CutoffKind,
    pub value: f64,
}

/// How a change reads, through the subscale's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeCategory {
    /// Reliable improvement that also crossed the clinical cut-off.
    Recovered,
    Improved,
    NoReliableChange,
    Deteriorated,
}

/// The Jacobson-Truax figures for one baseline-to-latest change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliableChange {
    pub standard_error: f64,
    pub sdiff: f64,
    /// The smallest change that would be reliable: 1.96 x Sdiff.
    pub minimal_reliable_change: f64,
    pub rci: f64,
    pub category: ChangeCategory,
}

/// The clinical cut-off from whichever populations the norms give.
pub fn clinical_cutoff(
    clinical: Option<Population>,
    normal: Option<Population>,
    direction: Direction,
) -> Option<Cutoff> {
    // `toward_health` is +1 when higher scores are better.
    let toward_health = match direction {
        Direction::HigherIsBetter => 1.0,
        Direction::LowerIsBetter => -1.0,
    };
    match (clinical, normal) {
        (Some(clin), Some(norm)) => Some(Cutoff {
            kind: CutoffKind::C,
            value: (clin.sd * norm.mean + norm.sd * clin.mean) / (clin.sd + norm.sd),
        }),
        (Some(clin), None) => Some(Cutoff { kind: CutoffKind::A, value: clin.mean + toward_health * 2.0 * clin.sd }),
        (None, Some(norm)) => Some(Cutoff { kind: CutoffKind::B, value: norm.mean - toward_health * 2.0 * norm.sd }),
        (None, None) => None,
    }
}

/// Whether a score lies on the healthy side of a cut-off (the cut-off itself
/// counts as healthy).
fn is_functional(score: f64, cutoff: f64, direction: Direction) -> bool {
    match direction {
        Direction::HigherIsBetter => score >= cutoff,
        Direction::LowerIsBetter => score <= cutoff,
    }
}

/// Judges the change from `baseline` to `latest`.
pub fn reliable_change(
    baseline: f64,
    latest: f64,
    norms: ChangeNorms,
    direction: Direction,
    cutoff: Option<Cutoff>,
) -> ReliableChange {
    let standard_error = norms.sd * (1.0 - norms.reliability).sqrt();
    // sqrt(2 (1 - r)) x sd is sqrt(2) x SE, written so that round numbers on
    // paper stay round in binary (sd 10, r .5 gives Sdiff exactly 10).
    let sdiff = norms.sd * (2.0 * (1.0 - norms.reliability)).sqrt();
    let change = latest - baseline;
    let rci = change / sdiff;
    let better = match direction {
        Direction::HigherIsBetter => change > 0.0,
        Direction::LowerIsBetter => change < 0.0,
    };
    let category = if rci.abs() + EPSILON < RELIABLE_Z {
        ChangeCategory::NoReliableChange
    } else if !better {
        ChangeCategory::Deteriorated
    } else if cutoff
        .is_some_and(|c| !is_functional(baseline, c.value, direction) && is_functional(latest, c.value, direction))
    {
        ChangeCategory::Recovered
    } else {
        ChangeCategory::Improved
    };
    ReliableChange { standard_error, sdiff, minimal_reliable_change: RELIABLE_Z * sdiff, rci, category }
}

/// Mean and sample standard deviation (n - 1); `None` below two values.
pub fn mean_sd(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, variance.sqrt()))
}

fn sample_variance(values: impl Iterator<Item = f64>) -> Option<f64> {
    mean_sd(&values.collect::<Vec<_>>()).map(|(_, sd)| sd * sd)
}

/// Cronbach's alpha over complete response rows (one row per respondent, one
/// column per item): k/(k-1) x (1 - sum of item variances / variance of
/// totals). `None` when it is undefined: fewer than two items or
/// respondents, ragged rows, or totals that never vary.
pub fn cronbach_alpha(rows: &[Vec<f64>]) -> Option<f64> {
    let k = rows.first()?.len();
    if k < 2 || rows.len() < 2 || rows.iter().any(|row| row.len() != k) {
        return None;
    }
    let item_variances: f64 =
        (0..k).map(|i| sample_variance(rows.iter().map(move |row| row[i]))).sum::<Option<f64>>()?;
    let total_variance = sample_variance(rows.iter().map(|row| row.iter().sum::<f64>()))?;
    if total_variance <= 0.0 {
        return None;
    }
    let k = k as f64;
    Some(k / (k - 1.0) * (1.0 - item_variances / total_variance))
}

/// A half-open time span `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    /// A span from `start` to `end`, empty if `end` comes first.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Span { start, end: end.max(start) }
    }

    fn intersect(self, other: Span) -> Option<Span> {
        let (start, end) = (self.start.max(other.start), self.end.min(other.end));
        (start < end).then_some(Span { start, end })
    }

    fn seconds(self) -> f64 {
        (self.end - self.start).num_milliseconds() as f64 / 1000.0
    }
}

/// Seconds of `window` not covered by any pause (pauses may overlap).
pub fn active_seconds(window: Span, pauses: &[Span]) -> f64 {
    let mut clipped: Vec<Span> = pauses.iter().filter_map(|p| p.intersect(window)).collect();
    clipped.sort_by_key(|p| p.start);
    let mut paused = 0.0;
    let mut covered_until = window.start;
    for pause in clipped {
        let start = pause.start.max(covered_until);
        if pause.end > start {
            paused += Span { start, end: pause.end }.seconds();
            covered_until = pause.end;
        }
    }
    window.seconds() - paused
}

/// Practices expected in `window` at `cadence` per week, pro rata, paused
/// time excluded.
pub fn expected_practices(cadence_per_week: i32, window: Span, pauses: &[Span]) -> f64 {
    f64::from(cadence_per_week) * active_seconds(window, pauses) / WEEK_SECONDS
}

/// Logged over expected; `None` when nothing was expected.
pub fn adherence_rate(logged: u32, expected: f64) -> Option<f64> {
    (expected > 0.0).then(|| f64::from(logged) / expected)
}

/// The Mondays starting the `count` ISO weeks up to and including the one
/// holding `today`, oldest first.
pub fn recent_week_starts(today: NaiveDate, count: u32) -> Vec<NaiveDate> {
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    (0..i64::from(count)).rev().map(|back| monday - Duration::weeks(back)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    const TEN_HALF: ChangeNorms = ChangeNorms { sd: 10.0, reliability: 0.5 };

    #[test]
    fn standard_error_sdiff_and_rci_by_hand() {
        // sd 7.5, r .84: SE = 7.5 x 0.4 = 3; Sdiff = 3 x 1.41421356 = 4.24264069;
        // RCI = -10 / 4.24264069 = -2.35702260.
        let rc =
            reliable_change(30.0, 20.0, ChangeNorms { sd: 7.5, reliability: 0.84 }, Direction::LowerIsBetter, None);
        close(rc.standard_error, 3.0);
        close(rc.sdiff, 4.242_640_687_119_285);
        close(rc.rci, -2.357_022_603_955_158);
        close(rc.minimal_reliable_change, 1.96 * 4.242_640_687_119_285);
        assert_eq!(rc.category, ChangeCategory::Improved);
    }

    #[test]
    fn direction_decides_improved_or_deteriorated() {
        // Sdiff = 10 x sqrt(2 x .5) = 10; a change of +25 is RCI 2.5.
        let up_good = reliable_change(40.0, 65.0, TEN_HALF, Direction::HigherIsBetter, None);
        assert_eq!(up_good.category, ChangeCategory::Improved);
        close(up_good.rci, 2.5);
        let up_bad = reliable_change(40.0, 65.0, TEN_HALF, Direction::LowerIsBetter, None);
        assert_eq!(up_bad.category, ChangeCategory::Deteriorated);
        let down_bad = reliable_change(65.0, 40.0, TEN_HALF, Direction::HigherIsBetter, None);
        assert_eq!(down_bad.category, ChangeCategory::Deteriorated);
        close(down_bad.rci, -2.5);
    }

    #[test]
    fn rci_of_exactly_1_96_is_reliable_and_just_below_is_not() {
        // Sdiff 10: a change of 19.6 is RCI 1.96 exactly on paper.
        let at = reliable_change(50.0, 69.6, TEN_HALF, Direction::HigherIsBetter, None);
        assert_eq!(at.category, ChangeCategory::Improved);
        let below = reliable_change(50.0, 69.5, TEN_HALF, Direction::HigherIsBetter, None);
        assert_eq!(below.category, ChangeCategory::NoReliableChange);
        close(below.rci, 1.95);
        let at_down = reliable_change(50.0, 30.4, TEN_HALF, Direction::HigherIsBetter, None);
        assert_eq!(at_down.category, ChangeCategory::Deteriorated);
    }

    #[test]
    fn no_change_is_no_reliable_change() {
        let rc = reliable_change(4.0, 4.0, TEN_HALF, Direction::LowerIsBetter, None);
        close(rc.rci, 0.0);
        assert_eq!(rc.category, ChangeCategory::NoReliableChange);
    }

    #[test]
    fn cutoff_c_weights_the_populations_by_their_sds() {
        // (6 x 15 + 4 x 30) / (6 + 4) = 210 / 10 = 21.
        let c = clinical_cutoff(
            Some(Population { mean: 30.0, sd: 6.0 }),
            Some(Population { mean: 15.0, sd: 4.0 }),
            Direction::LowerIsBetter,
        );
        assert_eq!(c.map(|c| c.kind), Some(CutoffKind::C));
        close(c.map_or(f64::NAN, |c| c.value), 21.0);
    }

    #[test]
    fn cutoff_a_and_b_point_toward_health() {
        let clin = Some(Population { mean: 30.0, sd: 6.0 });
        let norm = Some(Population { mean: 15.0, sd: 4.0 });
        // Lower is better: a = 30 - 2 x 6 = 18; b = 15 + 2 x 4 = 23.
        assert_eq!(
            clinical_cutoff(clin, None, Direction::LowerIsBetter),
            Some(Cutoff { kind: CutoffKind::A, value: 18.0 })
        );
        assert_eq!(
            clinical_cutoff(None, norm, Direction::LowerIsBetter),
            Some(Cutoff { kind: CutoffKind::B, value: 23.0 })
        );
        // Higher is better: a = 30 + 12 = 42; b = 15 - 8 = 7.
        assert_eq!(
            clinical_cutoff(clin, None, Direction::HigherIsBetter),
            Some(Cutoff { kind: CutoffKind::A, value: 42.0 })
        );
        assert_eq!(
            clinical_cutoff(None, norm, Direction::HigherIsBetter),
            Some(Cutoff { kind: CutoffKind::B, value: 7.0 })
        );
        assert_eq!(clinical_cutoff(None, None, Direction::HigherIsBetter), None);
    }

    #[test]
    fn recovered_needs_reliable_improvement_across_the_cutoff() {
        let c = Some(Cutoff { kind: CutoffKind::C, value: 21.0 });
        // 40 -> 20: RCI -2, reliable, and from above 21 to below: recovered.
        assert_eq!(
            reliable_change(40.0, 20.0, TEN_HALF, Direction::LowerIsBetter, c).category,
            ChangeCategory::Recovered
        );
        // Landing exactly on the cut-off counts as crossing it.
        assert_eq!(
            reliable_change(41.0, 21.0, TEN_HALF, Direction::LowerIsBetter, c).category,
            ChangeCategory::Recovered
        );
        // Reliable, but still above the cut-off: improved only.
        assert_eq!(
            reliable_change(50.0, 25.0, TEN_HALF, Direction::LowerIsBetter, c).category,
            ChangeCategory::Improved
        );
        // Crossed, but not reliably (RCI -1.5): no reliable change.
        assert_eq!(
            reliable_change(30.0, 15.0, TEN_HALF, Direction::LowerIsBetter, c).category,
            ChangeCategory::NoReliableChange
        );
        // Started already on the healthy side: improved, not recovered.
        assert_eq!(
            reliable_change(20.0, -5.0, TEN_HALF, Direction::LowerIsBetter, c).category,
            ChangeCategory::Improved
        );
    }

    #[test]
    fn mean_and_sample_sd_by_hand() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, / 7.
        let (mean, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap_or_default();
        close(mean, 5.0);
        close(sd, (32.0_f64 / 7.0).sqrt());
        assert_eq!(mean_sd(&[3.0]), None);
    }

    #[test]
    fn cronbach_alpha_by_hand() {
        // Items [1,2,3] and [2,3,3]: variances 1 and 1/3; totals 3, 5, 6 have
        // variance 7/3; alpha = 2 x (1 - (4/3) / (7/3)) = 6/7.
        let rows = vec![vec![1.0, 2.0], vec![2.0, 3.0], vec![3.0, 3.0]];
        close(cronbach_alpha(&rows).unwrap_or(f64::NAN), 6.0 / 7.0);
        // Perfectly parallel items: alpha 1.
        let parallel = vec![vec![1.0, 1.0], vec![4.0, 4.0], vec![6.0, 6.0]];
        close(cronbach_alpha(&parallel).unwrap_or(f64::NAN), 1.0);
    }

    #[test]
    fn cronbach_alpha_is_undefined_where_it_must_be() {
        assert_eq!(cronbach_alpha(&[vec![1.0], vec![2.0]]), None, "one item");
        assert_eq!(cronbach_alpha(&[vec![1.0, 2.0]]), None, "one respondent");
        assert_eq!(cronbach_alpha(&[vec![3.0, 3.0], vec![3.0, 3.0]]), None, "no variance");
        assert_eq!(cronbach_alpha(&[vec![1.0, 2.0], vec![3.0]]), None, "ragged");
        assert_eq!(cronbach_alpha(&[]), None);
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn expected_practices_pro_rata() {
        // Three a week over two weeks: 6. Over three and a half days: 1.5.
        close(expected_practices(3, Span::new(at(1, 0), at(15, 0)), &[]), 6.0);
        close(expected_practices(3, Span::new(at(1, 0), at(4, 12)), &[]), 1.5);
        close(expected_practices(3, Span::new(at(4, 0), at(4, 0)), &[]), 0.0);
    }

    #[test]
    fn paused_time_does_not_count() {
        let window = Span::new(at(1, 0), at(15, 0));
        // A week's pause halves a two-week window: 3 a week -> 3.
        close(expected_practices(3, window, &[Span::new(at(5, 0), at(12, 0))]), 3.0);
        // Overlapping pauses count once; pauses outside the window not at all.
        let pauses = [Span::new(at(5, 0), at(10, 0)), Span::new(at(8, 0), at(12, 0)), Span::new(at(20, 0), at(25, 0))];
        close(expected_practices(3, window, &pauses), 3.0);
        // A pause running past the window's end is clipped: 2 of 14 days active.
        close(expected_practices(7, window, &[Span::new(at(3, 0), at(28, 0))]), 2.0);
    }

    #[test]
    fn adherence_rate_over_expected() {
        assert_eq!(adherence_rate(3, 6.0), Some(0.5));
        assert_eq!(adherence_rate(8, 6.0), Some(8.0 / 6.0));
        assert_eq!(adherence_rate(2, 0.0), None);
    }

    #[test]
    fn recent_weeks_start_on_mondays_and_end_with_this_one() {
        // 2026-11-25 is a Wednesday; its week starts Monday 2026-11-23.
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let weeks = recent_week_starts(today, 3);
        let expected: Vec<NaiveDate> =
            [9, 16, 23].iter().filter_map(|d| NaiveDate::from_ymd_opt(2026, 11, *d)).collect();
        assert_eq!(weeks, expected);
        // A Monday is the start of its own week.
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        assert_eq!(recent_week_starts(monday, 1), vec![monday]);
    }
}
