//! Builds the progress view from rows already loaded: grouping, norms
//! choice, adherence and flags. No database, no clock (`now` is passed in).

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::model::{
    Adherence, AdherenceFigures, AssignmentAdherence, ClassificationPoint, ClinicalCutoff, Flag, FlagKind,
    InstrumentProgress, NormsSource, NormsUsed, ReliableChangeReport, ScorePoint, SubscaleProgress, WeekAdherence,
};
use super::stats::{self, ChangeCategory, ChangeNorms, Population, Span};
use super::store::{
    AssignmentRow, ClassificationRow, LocalNormRow, LogSummary, OverdueRow, PauseRow, Period, ScoreRow,
};
use crate::homework::model::HomeworkStatus;
use crate::instruments::definition::{InstrumentDefinition, ReliabilityKind, Subscale};

/// Weeks of adherence shown week by week.
pub const ADHERENCE_WEEKS: u32 = 12;
/// Days without a log on an active assignment before it is flagged.
pub const QUIET_DAYS: i64 = 14;

/// An instrument version as progress needs it.
pub struct InstrumentVersion {
    pub title: String,
    pub definition: InstrumentDefinition,
}

/// Local norms by (instrument version, subscale).
pub type LocalNorms = HashMap<(Uuid, String), LocalNormRow>;

/// Per instrument (by key) and subscale: the series and its change. `scores`
/// arrive ordered by instrument key, subscale and time.
pub fn instrument_progress(
    scores: &[ScoreRow],
    classifications: &[ClassificationRow],
    versions: &HashMap<Uuid, InstrumentVersion>,
    local: &LocalNorms,
) -> Vec<InstrumentProgress> {
    let mut out = Vec::new();
    for instrument_rows in scores.chunk_by(|a, b| a.instrument_key == b.instrument_key) {
        let Some(newest) = instrument_rows.iter().max_by_key(|row| row.completed_at) else { continue };
        let Some(current) = versions.get(&newest.instrument_id) else { continue };
        let mut subscales: Vec<SubscaleProgress> = instrument_rows
            .chunk_by(|a, b| a.subscale == b.subscale)
            .filter_map(|rows| subscale_progress(rows, versions, local))
            .collect();
        // The newest version's order, with subscales it dropped after.
        let position = |key: &str| current.definition.subscales.iter().position(|s| s.key == key).unwrap_or(usize::MAX);
        subscales.sort_by_key(|s| position(&s.key));
        let mut administrations: Vec<Uuid> = instrument_rows.iter().map(|row| row.assessment_id).collect();
        administrations.sort_unstable();
        administrations.dedup();
        out.push(InstrumentProgress {
            instrument_key: newest.instrument_key.clone(),
            title: current.title.clone(),
            administrations: administrations.len() as u32,
            subscales,
            classifications: classifications
                .iter()
                .filter(|c| c.instrument_key == newest.instrument_key)
                .filter_map(|c| {
                    Some(ClassificationPoint {
                        assessment_id: c.assessment_id,
                        completed_at: c.completed_at?,
                        label: c.label.clone()?,
                    })
                })
                .collect(),
        });
    }
    out
}

fn subscale_progress(
    rows: &[ScoreRow],
    versions: &HashMap<Uuid, InstrumentVersion>,
    local: &LocalNorms,
) -> Option<SubscaleProgress> {
    let (first, last) = (rows.first()?, rows.last()?);
    // The version of the latest administration says how to read the series.
    let subscale = versions.get(&last.instrument_id)?.definition.subscales.iter().find(|s| s.key == last.subscale)?;
    let point = |row: &ScoreRow| ScorePoint {
        assessment_id: row.assessment_id,
        completed_at: row.completed_at,
        score: row.score,
        band: subscale.band_of(row.score).map(str::to_owned),
    };
    let change = last.score - first.score;
    let norms = norms_for(subscale, local.get(&(last.instrument_id, last.subscale.clone())));
    let reliable_change = if rows.len() < 2 {
        ReliableChangeReport::without("one administration in the period; change needs two", norms.map(|n| n.0))
    } else {
        match norms {
            Some((used, change_norms, cutoff)) => {
                let rc = stats::reliable_change(first.score, last.score, change_norms, subscale.direction, cutoff);
                ReliableChangeReport {
                    rci: Some(rc.rci),
                    category: Some(rc.category),
                    standard_error: Some(rc.standard_error),
                    sdiff: Some(rc.sdiff),
                    minimal_reliable_change: Some(rc.minimal_reliable_change),
                    cutoff: cutoff.map(|c| ClinicalCutoff { kind: c.kind, value: c.value }),
                    norms: Some(used),
                    reason: None,
                }
            }
            None => ReliableChangeReport::without(
                "the subscale has no published norms and the practice has not opted in to local norms",
                None,
            ),
        }
    };
    Some(SubscaleProgress {
        key: subscale.key.clone(),
        title: subscale.title.clone(),
        direction: subscale.direction,
        bands: subscale.bands.clone(),
        series: rows.iter().map(point).collect(),
        baseline: point(first),
        latest: point(last),
        change,
        reliable_change,
    })
}

impl ReliableChangeReport {
    fn without(reason: &str, norms: Option<NormsUsed>) -> Self {
        ReliableChangeReport {
            rci: None,
            category: None,
            standard_error: None,
            sdiff: None,
            minimal_reliable_change: None,
            cutoff: None,
            norms,
            reason: Some(reason.to_owned()),
        }
    }
}

/// Published norms win; a practice's local norms stand in where there are none.
fn norms_for(
    subscale: &Subscale,
    local: Option<&LocalNormRow>,
) -> Option<(NormsUsed, ChangeNorms, Option<stats::Cutoff>)> {
    if let Some(published) = &subscale.norms {
        let population = |mean: Option<f64>, sd: Option<f64>| Some(Population { mean: mean?, sd: sd? });
        let cutoff = stats::clinical_cutoff(
            population(published.clinical_mean, published.clinical_sd),
            population(published.normal_mean, published.normal_sd),
            subscale.direction,
        );
        let used = NormsUsed {
            source: NormsSource::Published,
            sd: published.sd,
            reliability: published.reliability,
            reliability_kind: published.reliability_kind,
            n: None,
            computed_at: None,
            citation: published.source.clone(),
        };
        return Some((used, ChangeNorms { sd: published.sd, reliability: published.reliability }, cutoff));
    }
    let local = local?;
    let used = NormsUsed {
        source: NormsSource::Local,
        sd: local.sd,
        reliability: local.alpha,
        reliability_kind: ReliabilityKind::CronbachAlpha,
        n: Some(local.n),
        computed_at: Some(local.computed_at),
        citation: None,
    };
    Some((used, ChangeNorms { sd: local.sd, reliability: local.alpha }, None))
}

/// Midnight UTC starting `day`.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// What adherence reads about one client's homework.
pub struct HomeworkHistory {
    pub assignments: Vec<AssignmentRow>,
    pub pauses: Vec<PauseRow>,
    pub summaries: Vec<LogSummary>,
    /// Done practices since the first adherence week: (homework id, at).
    pub done_logs: Vec<(Uuid, DateTime<Utc>)>,
}

/// The span an assignment was expected to be practised in, within the period.
fn assignment_window(row: &AssignmentRow, period: Period, now: DateTime<Utc>) -> Span {
    let status = HomeworkStatus::from_db(&row.status);
    let mut end = period.end.map_or(now, |end| end.min(now));
    if let Some(ends_on) = row.ends_on {
        end = end.min(day_start(ends_on + Duration::days(1)));
    }
    // A completed or cancelled assignment stopped being expected when its
    // status last changed.
    if status.is_some_and(HomeworkStatus::is_final) {
        end = end.min(row.updated_at);
    }
    let start = day_start(row.starts_on).max(period.start.unwrap_or(DateTime::<Utc>::MIN_UTC));
    Span::new(start, end)
}

fn figures(expected: f64, logged: u32) -> AdherenceFigures {
    AdherenceFigures { expected, logged, rate: stats::adherence_rate(logged, expected) }
}

/// The Monday-started weeks shown, the last of them holding the period's end.
pub fn adherence_weeks(period: Period, now: DateTime<Utc>) -> Vec<NaiveDate> {
    let last_instant = period.end.map_or(now, |end| end.min(now)) - Duration::seconds(1);
    stats::recent_week_starts(last_instant.date_naive(), ADHERENCE_WEEKS)
}

pub fn adherence(history: &HomeworkHistory, period: Period, now: DateTime<Utc>, weeks: &[NaiveDate]) -> Adherence {
    let mut assignments = Vec::with_capacity(history.assignments.len());
    let mut week_totals: Vec<(f64, u32)> = vec![(0.0, 0); weeks.len()];
    for row in &history.assignments {
        let Some(status) = HomeworkStatus::from_db(&row.status) else { continue };
        let window = assignment_window(row, period, now);
        let pauses: Vec<Span> = history
            .pauses
            .iter()
            .filter(|pause| pause.homework_id == row.id)
            .map(|pause| Span::new(pause.paused_at, pause.resumed_at.unwrap_or(now)))
            .collect();
        let summary = history.summaries.iter().find(|s| s.homework_id == row.id);
        let logged = summary.map_or(0, |s| u32::try_from(s.done_in_period).unwrap_or(u32::MAX));
        let mut week_rows = Vec::with_capacity(weeks.len());
        for (i, monday) in weeks.iter().enumerate() {
            let start = day_start(*monday);
            let bucket = Span::new(start.max(window.start), (start + Duration::weeks(1)).min(window.end));
            let expected = if bucket.start < bucket.end {
                stats::expected_practices(row.cadence_per_week, bucket, &pauses)
            } else {
                0.0
            };
            let done = history
                .done_logs
                .iter()
                .filter(|(id, at)| *id == row.id && *at >= start && *at < start + Duration::weeks(1))
                .count() as u32;
            week_totals[i].0 += expected;
            week_totals[i].1 += done;
            week_rows.push(week(*monday, expected, done));
        }
        assignments.push(AssignmentAdherence {
            homework_id: row.id,
            exercise_key: row.exercise_key.clone(),
            exercise_title: row.exercise_title.clone(),
            status,
            cadence_per_week: row.cadence_per_week,
            last_logged_at: summary.and_then(|s| s.last_logged_at),
            overall: figures(stats::expected_practices(row.cadence_per_week, window, &pauses), logged),
            weeks: week_rows,
        });
    }
    // fold, not sum: an empty f64 sum is -0.0, which reads oddly in JSON.
    let expected = assignments.iter().fold(0.0, |total, a| total + a.overall.expected);
    let logged = assignments.iter().map(|a| a.overall.logged).sum();
    Adherence {
        overall: figures(expected, logged),
        weeks: weeks.iter().zip(week_totals).map(|(monday, (expected, done))| week(*monday, expected, done)).collect(),
        assignments,
    }
}

fn week(week_start: NaiveDate, expected: f64, logged: u32) -> WeekAdherence {
    WeekAdherence { week_start, expected, logged, rate: stats::adherence_rate(logged, expected) }
}

/// Reliable deterioration, quiet active assignments, overdue assessments.
pub fn flags(
    instruments: &[InstrumentProgress],
    history: &HomeworkHistory,
    overdue: &[OverdueRow],
    now: DateTime<Utc>,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    for instrument in instruments {
        for subscale in &instrument.subscales {
            if subscale.reliable_change.category == Some(ChangeCategory::Deteriorated) {
                flags.push(Flag {
                    kind: FlagKind::ReliableDeterioration,
                    message: format!(
                        "{} {} deteriorated reliably since baseline (RCI {:.2})",
                        instrument.instrument_key,
                        subscale.key,
                        subscale.reliable_change.rci.unwrap_or_default()
                    ),
                    instrument_key: Some(instrument.instrument_key.clone()),
                    subscale: Some(subscale.key.clone()),
                    assessment_id: Some(subscale.latest.assessment_id),
                    homework_id: None,
                });
            }
        }
    }
    for row in &history.assignments {
        if row.status != HomeworkStatus::Active.as_str() || day_start(row.starts_on) > now {
            continue;
        }
        let last_log = history.summaries.iter().find(|s| s.homework_id == row.id).and_then(|s| s.last_logged_at);
        let last_resume = history
            .pauses
            .iter()
            .filter(|pause| pause.homework_id == row.id)
            .filter_map(|pause| pause.resumed_at)
            .max();
        // Quiet time counts from the last log, the start, or the last resume.
        let since = [last_log, last_resume].into_iter().flatten().fold(day_start(row.starts_on), DateTime::max);
        let quiet_days = (now - since).num_days();
        if quiet_days >= QUIET_DAYS {
            flags.push(Flag {
                kind: FlagKind::NoRecentHomeworkLog,
                message: format!("{}: no log for {quiet_days} days", row.exercise_key),
                instrument_key: None,
                subscale: None,
                assessment_id: None,
                homework_id: Some(row.id),
            });
        }
    }
    for row in overdue {
        let due = row.due_on.map(|d| d.to_string()).unwrap_or_default();
        flags.push(Flag {
            kind: FlagKind::AssessmentOverdue,
            message: format!("{} was due on {due} and is not completed", row.instrument_key),
            instrument_key: Some(row.instrument_key.clone()),
            subscale: None,
            assessment_id: Some(row.assessment_id),
            homework_id: None,
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).single().unwrap_or_default()
    }

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap_or_default()
    }

    fn assignment(id: u128, cadence: i32, starts_on: NaiveDate, status: &str) -> AssignmentRow {
        AssignmentRow {
            id: Uuid::from_u128(id),
            exercise_key: format!("exercise_{id}"),
            exercise_title: "Exercise".into(),
            cadence_per_week: cadence,
            starts_on,
            ends_on: None,
            status: status.into(),
            updated_at: at(11, 1, 0),
        }
    }

    fn history(assignments: Vec<AssignmentRow>) -> HomeworkHistory {
        HomeworkHistory { assignments, pauses: vec![], summaries: vec![], done_logs: vec![] }
    }

    const OPEN: Period = Period { start: None, end: None };

    #[test]
    fn weekly_and_overall_adherence_by_hand() {
        // Now: Wednesday 2026-11-25 00:00. Assignment 3/week from Monday
        // 2026-11-09: 16 days = 16/7 weeks x 3 = 6.857 expected overall.
        // Weeks: 11-09 full (3), 11-16 full (3), 11-23 two days (6/7).
        let now = at(11, 25, 0);
        let mut h = history(vec![assignment(1, 3, date(11, 9), "active")]);
        h.summaries = vec![LogSummary {
            homework_id: Uuid::from_u128(1),
            done_in_period: 4,
            last_logged_at: Some(at(11, 24, 9)),
        }];
        h.done_logs = vec![
            (Uuid::from_u128(1), at(11, 10, 9)),
            (Uuid::from_u128(1), at(11, 12, 9)),
            (Uuid::from_u128(1), at(11, 13, 9)),
            (Uuid::from_u128(1), at(11, 24, 9)),
        ];
        let weeks = adherence_weeks(OPEN, now);
        assert_eq!(weeks.len(), 12);
        assert_eq!(weeks.last(), Some(&date(11, 23)));
        let adherence = adherence(&h, OPEN, now, &weeks);
        let a = &adherence.assignments[0];
        assert!((a.overall.expected - 48.0 / 7.0).abs() < 1e-9);
        assert_eq!(a.overall.logged, 4);
        assert!((a.overall.rate.unwrap_or_default() - 4.0 / (48.0 / 7.0)).abs() < 1e-9);
        let last3: Vec<(f64, u32)> = a.weeks[9..].iter().map(|w| (w.expected, w.logged)).collect();
        assert!((last3[0].0 - 3.0).abs() < 1e-9 && last3[0].1 == 3);
        assert!((last3[1].0 - 3.0).abs() < 1e-9 && last3[1].1 == 0, "a missed week shows");
        assert!((last3[2].0 - 6.0 / 7.0).abs() < 1e-9 && last3[2].1 == 1);
        // Weeks before the start expect nothing and have no rate.
        assert_eq!((a.weeks[0].expected, a.weeks[0].rate), (0.0, None));
        assert_eq!(adherence.weeks[10].logged, 0);
    }

    #[test]
    fn paused_days_are_not_expected() {
        // 2026-11-09 .. 11-23 (14 days) at 2/week, paused 11-12 to 11-19:
        // 7 active days, 2 expected.
        let now = at(11, 23, 0);
        let mut h = history(vec![assignment(1, 2, date(11, 9), "active")]);
        h.pauses = vec![PauseRow {
            homework_id: Uuid::from_u128(1),
            paused_at: at(11, 12, 0),
            resumed_at: Some(at(11, 19, 0)),
        }];
        let adherence = adherence(&h, OPEN, now, &[]);
        assert!((adherence.overall.expected - 2.0).abs() < 1e-9);
        // A pause still running counts up to now: from 11-16, 7 active days.
        h.pauses = vec![PauseRow { homework_id: Uuid::from_u128(1), paused_at: at(11, 16, 0), resumed_at: None }];
        assert!((adherence_of(&h, now) - 2.0).abs() < 1e-9);
    }

    fn adherence_of(h: &HomeworkHistory, now: DateTime<Utc>) -> f64 {
        adherence(h, OPEN, now, &[]).overall.expected
    }

    #[test]
    fn end_dates_final_status_and_period_bound_the_window() {
        let now = at(11, 23, 0);
        // Ends on 11-15 (inclusive): 11-09 .. 11-16 is 7 days at 1/week = 1.
        let mut ended = assignment(1, 1, date(11, 9), "active");
        ended.ends_on = Some(date(11, 15));
        assert!((adherence_of(&history(vec![ended]), now) - 1.0).abs() < 1e-9);
        // Completed on 11-12: three days at 7/week = 3.
        let mut done = assignment(2, 7, date(11, 9), "completed");
        done.updated_at = at(11, 12, 0);
        assert!((adherence_of(&history(vec![done]), now) - 3.0).abs() < 1e-9);
        // A period from 11-16: seven days at 7/week = 7.
        let period = Period { start: Some(at(11, 16, 0)), end: None };
        let h = history(vec![assignment(3, 7, date(11, 9), "active")]);
        assert!((adherence(&h, period, now, &[]).overall.expected - 7.0).abs() < 1e-9);
        // Two assignments add up: 1 + 7.
        let both = history(vec![assignment(4, 1, date(11, 16), "active"), assignment(5, 7, date(11, 16), "active")]);
        assert!((adherence_of(&both, now) - 8.0).abs() < 1e-9);
    }

    fn quiet_flags(h: &HomeworkHistory, now: DateTime<Utc>) -> Vec<Flag> {
        flags(&[], h, &[], now)
    }

    #[test]
    fn fourteen_quiet_days_flag_an_active_assignment_thirteen_do_not() {
        let mut h = history(vec![assignment(1, 3, date(10, 1), "active")]);
        h.summaries = vec![LogSummary {
            homework_id: Uuid::from_u128(1),
            done_in_period: 1,
            last_logged_at: Some(at(11, 9, 12)),
        }];
        assert!(quiet_flags(&h, at(11, 23, 11)).is_empty(), "13 days 23 hours");
        let found = quiet_flags(&h, at(11, 23, 12));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, FlagKind::NoRecentHomeworkLog);
        assert_eq!(found[0].homework_id, Some(Uuid::from_u128(1)));
        assert_eq!(found[0].message, "exercise_1: no log for 14 days");
        // Paused, or resumed less than 14 days ago: no flag.
        h.assignments[0].status = "paused".into();
        assert!(quiet_flags(&h, at(11, 30, 0)).is_empty());
        h.assignments[0].status = "active".into();
        h.pauses = vec![PauseRow {
            homework_id: Uuid::from_u128(1),
            paused_at: at(11, 10, 0),
            resumed_at: Some(at(11, 20, 0)),
        }];
        assert!(quiet_flags(&h, at(11, 30, 0)).is_empty());
        // Never logged: counts from the start date.
        let never = history(vec![assignment(2, 3, date(11, 9), "active")]);
        assert!(quiet_flags(&never, at(11, 22, 23)).is_empty());
        assert_eq!(quiet_flags(&never, at(11, 23, 0)).len(), 1);
    }

    #[test]
    fn overdue_assessments_are_flagged() {
        let overdue =
            [OverdueRow { assessment_id: Uuid::from_u128(9), instrument_key: "x".into(), due_on: Some(date(11, 20)) }];
        let found = flags(&[], &history(vec![]), &overdue, at(11, 23, 0));
        assert_eq!(found[0].kind, FlagKind::AssessmentOverdue);
        assert_eq!(found[0].message, "x was due on 2026-11-20 and is not completed");
    }
}
