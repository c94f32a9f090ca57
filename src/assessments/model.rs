//! Assessment API types.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::store::AssessmentRow;
use crate::http::ApiError;
use crate::http::pagination::Cursor;
use crate::instruments::scoring::{Answer, ClassificationResult, ScoreResult, SubscaleScore};

/// Where an assessment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentStatus {
    Assigned,
    Completed,
    Cancelled,
}

impl AssessmentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            AssessmentStatus::Assigned => "assigned",
            AssessmentStatus::Completed => "completed",
            AssessmentStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [AssessmentStatus::Assigned, AssessmentStatus::Completed, AssessmentStatus::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// One administration of an instrument to one client, scored by the service.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001",
    "instrument_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0002",
    "instrument_key": "attachment_lean_short_form",
    "instrument_version": 1,
    "status": "completed",
    "due_on": "2026-12-01",
    "created_at": "2026-11-22T09:30:00Z",
    "completed_at": "2026-11-23T18:02:00Z",
    "cancelled_at": null,
    "answers": [{"item_id": "ax1", "value": 6}],
    "scores": [{"key": "anxiety", "score": 5.5, "raw": 33.0, "answered": 6, "missing": 0, "band": "high"},
               {"key": "avoidance", "score": 2.17, "raw": 13.0, "answered": 6, "missing": 0, "band": "low"}],
    "classification": {"label": "anxious", "explanation": "anxiety 5.5 >= 4 (high), avoidance 2.17 < 4 (low): anxious"}
}))]
pub struct Assessment {
    pub id: Uuid,
    pub client_id: Uuid,
    pub instrument_id: Uuid,
    pub instrument_key: String,
    pub instrument_version: i32,
    pub status: AssessmentStatus,
    /// The day it should be completed by.
    pub due_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The submitted answers, once completed.
    pub answers: Option<Vec<Answer>>,
    /// Per-subscale scores, once completed.
    pub scores: Option<Vec<SubscaleScore>>,
    /// The instrument's label for the scores, when it defines one.
    pub classification: Option<ClassificationResult>,
}

impl TryFrom<AssessmentRow> for Assessment {
    type Error = ApiError;

    fn try_from(row: AssessmentRow) -> Result<Self, ApiError> {
        let status = AssessmentStatus::from_db(&row.status)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown assessment status in the database")))?;
        let answers = row.answers.map(serde_json::from_value).transpose().map_err(ApiError::internal)?;
        let result: Option<ScoreResult> =
            row.result.map(serde_json::from_value).transpose().map_err(ApiError::internal)?;
        let (scores, classification) = match result {
            Some(result) => (Some(result.subscales), result.classification),
            None => (None, None),
        };
        Ok(Assessment {
            id: row.id,
            client_id: row.client_id,
            instrument_id: row.instrument_id,
            instrument_key: row.instrument_key,
            instrument_version: row.instrument_version,
            status,
            due_on: row.due_on,
            created_at: row.created_at,
            completed_at: row.completed_at,
            cancelled_at: row.cancelled_at,
            answers,
            scores,
            classification,
        })
    }
}

/// Assign an instrument to a client; with `answers`, it is scored at once.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001",
    "instrument_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0002",
    "due_on": "2026-12-01"
}))]
pub struct NewAssessment {
    pub client_id: Uuid,
    /// The instrument version to administer.
    pub instrument_id: Uuid,
    pub due_on: Option<NaiveDate>,
    /// Answers given already (e.g. on paper): the assessment is completed.
    #[validate(length(max = 500, message = "at most 500 answers"))]
    #[schema(max_items = 500)]
    pub answers: Option<Vec<Answer>>,
    /// When the answers were given, if not now (a form entered later); only
    /// with `answers`, never in the future.
    pub completed_at: Option<DateTime<Utc>>,
}

/// A client's answers.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answers": [{"item_id": "ax1", "value": 6}, {"item_id": "ax2", "value": 5}]}))]
pub struct AssessmentResponses {
    #[validate(length(min = 1, max = 500, message = "must hold 1 to 500 answers"))]
    #[schema(min_items = 1, max_items = 500)]
    pub answers: Vec<Answer>,
    /// When the answers were given, if not now (a form entered later); never
    /// in the future.
    pub completed_at: Option<DateTime<Utc>>,
}

/// Filters and paging for `GET /v1/assessments`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAssessmentsQuery {
    pub client_id: Option<Uuid>,
    pub instrument_key: Option<String>,
    pub status: Option<AssessmentStatus>,
    /// Only assessments completed at or after this instant (RFC 3339).
    pub completed_since: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of assessments, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AssessmentList {
    pub data: Vec<Assessment>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
