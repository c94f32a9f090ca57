//! Progress API types: one response an integrator can render whole.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::stats::{ChangeCategory, CutoffKind};
use crate::homework::model::HomeworkStatus;
use crate::instruments::definition::{Band, Direction, ReliabilityKind};

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// Only administrations completed on or after this day (UTC); also bounds adherence.
    pub from: Option<NaiveDate>,
    /// Only administrations completed on or before this day (UTC); also bounds adherence.
    pub to: Option<NaiveDate>,
    /// Only this instrument (its key).
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub instrument: Option<String>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartQuery {
    /// The instrument's key.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub instrument: String,
    /// The subscale's key.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub subscale: String,
    /// Only administrations completed on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Only administrations completed on or before this day (UTC).
    pub to: Option<NaiveDate>,
}

/// A client's movement over time: score series with reliable change,
/// classifications, homework adherence and the flags a clinician should see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientProgress {
    pub client_id: Uuid,
    pub generated_at: DateTime<Utc>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// One entry per instrument the client completed in the period.
    pub instruments: Vec<InstrumentProgress>,
    pub adherence: Adherence,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstrumentProgress {
    pub instrument_key: String,
    /// The title of the most recent version administered.
    pub title: String,
    pub administrations: u32,
    pub subscales: Vec<SubscaleProgress>,
    /// The instrument's label at each administration, oldest first.
    pub classifications: Vec<ClassificationPoint>,
}

/// One score at one administration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScorePoint {
    pub assessment_id: Uuid,
    pub completed_at: DateTime<Utc>,
    pub score: f64,
    /// The band the score falls in, if the subscale has bands.
    pub band: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscaleProgress {
    pub key: String,
    pub title: String,
    pub direction: Direction,
    pub bands: Vec<Band>,
    /// Every score in the period, oldest first.
    pub series: Vec<ScorePoint>,
    /// The first score in the period.
    pub baseline: ScorePoint,
    /// The most recent score in the period.
    pub latest: ScorePoint,
    /// `latest - baseline`.
    pub change: f64,
    pub reliable_change: ReliableChangeReport,
}

/// Jacobson-Truax reliable change from baseline to latest. Without norms,
/// or with a single administration, `rci` and `category` are `null` and
/// `reason` says why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReliableChangeReport {
    pub rci: Option<f64>,
    pub category: Option<ChangeCategory>,
    /// SE = sd x sqrt(1 - r).
    pub standard_error: Option<f64>,
    /// Sdiff = sqrt(2) x SE.
    pub sdiff: Option<f64>,
    /// 1.96 x Sdiff: the smallest change that is reliable.
    pub minimal_reliable_change: Option<f64>,
    pub cutoff: Option<ClinicalCutoff>,
    /// The sd and reliability used.
    pub norms: Option<NormsUsed>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClinicalCutoff {
    pub kind: CutoffKind,
    pub value: f64,
}

/// Where the norms behind a change statistic come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NormsSource {
    /// Published with the instrument definition.
    Published,
    /// The practice's own administrations, frozen when it opted in.
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NormsUsed {
    pub source: NormsSource,
    pub sd: f64,
    pub reliability: f64,
    pub reliability_kind: ReliabilityKind,
    /// Administrations behind local norms.
    pub n: Option<i32>,
    /// When local norms were computed.
    pub computed_at: Option<DateTime<Utc>>,
    /// The citation of published norms.
    pub citation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassificationPoint {
    pub assessment_id: Uuid,
    pub completed_at: DateTime<Utc>,
    pub label: String,
}

/// Expected practices (cadence x active weeks, pro rata, paused time
/// excluded) against done ones.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct AdherenceFigures {
    pub expected: f64,
    pub logged: u32,
    /// `logged / expected`; may exceed 1; `null` when nothing was expected.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WeekAdherence {
    /// The Monday the ISO week starts on.
    pub week_start: NaiveDate,
    pub expected: f64,
    pub logged: u32,
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssignmentAdherence {
    pub homework_id: Uuid,
    pub exercise_key: String,
    pub exercise_title: String,
    pub status: HomeworkStatus,
    pub cadence_per_week: i32,
    /// The most recent log, done or not.
    pub last_logged_at: Option<DateTime<Utc>>,
    /// Over the assignment's life within the period.
    pub overall: AdherenceFigures,
    /// The last 12 ISO weeks of the period, oldest first.
    pub weeks: Vec<WeekAdherence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Adherence {
    /// All assignments together over the period.
    pub overall: AdherenceFigures,
    /// All assignments together, the last 12 ISO weeks of the period.
    pub weeks: Vec<WeekAdherence>,
    pub assignments: Vec<AssignmentAdherence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A subscale changed reliably for the worse since baseline.
    ReliableDeterioration,
    /// An active assignment has had no log for 14 days.
    NoRecentHomeworkLog,
    /// An assigned assessment is past its due date.
    AssessmentOverdue,
}

/// Something a clinician should look at, with what it is about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Flag {
    pub kind: FlagKind,
    pub message: String,
    pub instrument_key: Option<String>,
    pub subscale: Option<String>,
    pub assessment_id: Option<Uuid>,
    pub homework_id: Option<Uuid>,
}

/// An SVG 1.1 document with `role="img"`, a `<title>` and a `<desc>`.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, example = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" ...>...</svg>")]
pub struct SvgImage(pub String);
