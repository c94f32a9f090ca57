//! Practice norms API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One subscale over the practice's completed administrations. `mean`, `sd`
/// and `alpha` are reported from `minimum_n` administrations on; below that,
/// or where alpha is undefined, `reason` says why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscaleStatistics {
    pub key: String,
    /// Completed administrations with a score on this subscale.
    pub n: u32,
    pub mean: Option<f64>,
    /// Sample standard deviation (n - 1).
    pub sd: Option<f64>,
    /// Cronbach's alpha over administrations that answered every item of the subscale.
    pub alpha: Option<f64>,
    /// Administrations that answered every item (alpha's n).
    pub complete_n: u32,
    /// Whether the instrument publishes norms for this subscale (they take precedence).
    pub has_published_norms: bool,
    pub reason: Option<String>,
}

/// A subscale's frozen local norms.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LocalSubscaleNorms {
    pub key: String,
    pub n: i32,
    pub mean: f64,
    pub sd: f64,
    /// Used as the reliability in reliable change.
    pub alpha: f64,
}

/// The norms a practice opted in to for an instrument version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LocalNorms {
    pub instrument_id: Uuid,
    pub computed_at: DateTime<Utc>,
    pub subscales: Vec<LocalSubscaleNorms>,
}

/// An instrument version's statistics in your practice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstrumentStatistics {
    pub instrument_id: Uuid,
    pub instrument_key: String,
    pub version: i32,
    /// Administrations needed before statistics are reported.
    pub minimum_n: u32,
    pub subscales: Vec<SubscaleStatistics>,
    /// The local norms in use for change statistics, if you opted in.
    pub local_norms: Option<LocalNorms>,
}
