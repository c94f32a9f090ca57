//! Erasure and retention API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use super::policy::{DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS};
use crate::clients::model::ClientStatus;
use crate::http::pagination::Cursor;

/// Where an erasure request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureState {
    /// Waiting for its time (and for no legal hold); `DELETE` cancels it.
    Scheduled,
    /// Cancelled before it ran; a new request may be made.
    Cancelled,
    /// Done: the client's record is gone and the client's routes answer 410.
    Completed,
}

impl ErasureState {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErasureState::Scheduled => "scheduled",
            ErasureState::Cancelled => "cancelled",
            ErasureState::Completed => "completed",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "scheduled" => Some(ErasureState::Scheduled),
            "cancelled" => Some(ErasureState::Cancelled),
            "completed" => Some(ErasureState::Completed),
            _ => None,
        }
    }
}

/// What a scheduled erasure is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// `scheduled_for` has not come yet.
    GracePeriod,
    /// The client is on legal hold: the erasure runs once the hold is lifted
    /// (and `scheduled_for` has passed).
    LegalHold,
    /// Due: the erasure job takes it on its next run (at least once a minute).
    NextRun,
}

/// The latest erasure request of a client and where it stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "state": "scheduled",
    "waiting_on": "grace_period",
    "reason": "Client asked for erasure by letter of 2027-01-02",
    "requested_at": "2027-01-04T09:30:00Z",
    "requested_by": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0099",
    "requested_by_actor": "clinician-4711",
    "scheduled_for": "2027-01-11T09:30:00Z",
    "cancelled_at": null,
    "completed_at": null,
    "legal_hold": false
}))]
pub struct Erasure {
    pub client_id: Uuid,
    pub state: ErasureState,
    /// While `scheduled`, what it waits on; `null` otherwise.
    pub waiting_on: Option<Waiting>,
    /// The operator's note given with the request (kept as the record of why).
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// Who asked: the requesting token's subject (an API client id), or
    /// `attune:retention-policy` for an erasure the practice's retention
    /// policy scheduled.
    pub requested_by: String,
    /// The clinician the requesting token acted for, when it named one.
    pub requested_by_actor: Option<String>,
    /// When the erasure runs: the request's time plus its grace period.
    pub scheduled_for: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When the record was erased.
    pub completed_at: Option<DateTime<Utc>>,
    /// Whether the client is on legal hold (a scheduled erasure then waits).
    pub legal_hold: bool,
}

fn not_blank(value: &str) -> Result<(), ValidationError> {
    if crate::text::is_blank(value) {
        return Err(ValidationError::new("blank").with_message("must not be blank".into()));
    }
    Ok(())
}

/// A request to erase a client's record.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Client asked for erasure by letter of 2027-01-02", "grace_period_days": 7}))]
pub struct NewErasure {
    /// Why, in the operator's words (1 to 500 characters): a note for the
    /// practice's records, kept after the erasure and never logged. Write no
    /// names or clinical content here.
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"), custom(function = "not_blank"))]
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
    /// Days before the erasure runs, 0 to 30 (default 7): during them it can
    /// be cancelled. 0 runs it on the job's next run.
    #[validate(range(min = 0, max = 30, message = "must be 0 to 30"))]
    #[schema(minimum = 0, maximum = 30, default = 7)]
    pub grace_period_days: Option<i32>,
}

impl NewErasure {
    pub fn grace_days(&self) -> i32 {
        self.grace_period_days.unwrap_or(DEFAULT_GRACE_DAYS).clamp(0, MAX_GRACE_DAYS)
    }
}

/// The practice's retention policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"erase_after_days": 2555, "grace_period_days": 7, "updated_at": "2027-01-04T09:30:00Z"}))]
pub struct RetentionPolicy {
    /// Clients discharged or archived more than this many days ago (counted
    /// from the earlier of the two) have their erasure scheduled; `null`:
    /// the policy is off (the default).
    pub erase_after_days: Option<i32>,
    /// The grace period of the erasures the policy schedules (they can be
    /// cancelled or held meanwhile).
    pub grace_period_days: i32,
    /// When the policy was last set; `null` if it never was.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A new retention policy (the whole policy: `PUT` replaces it).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"erase_after_days": 2555}))]
pub struct RetentionPolicyUpdate {
    /// 365 to 36500 days, or `null` (or absent) to turn the policy off.
    #[validate(range(min = 365, max = 36500, message = "must be 365 to 36500 days"))]
    #[schema(minimum = 365, maximum = 36500, nullable = true)]
    #[serde(default)]
    pub erase_after_days: Option<i32>,
}

// The attributes above need literals: they must say what the policy's constants say.
const _: () = assert!(MIN_RETENTION_DAYS == 365 && MAX_RETENTION_DAYS == 36_500 && MAX_GRACE_DAYS == 30);

/// Paging and an optional trial period for `GET /v1/retention/preview`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RetentionPreviewQuery {
    /// Preview this period (365 to 36500 days) instead of the stored policy:
    /// what a policy would do before you turn it on.
    #[param(minimum = 365, maximum = 36500)]
    #[validate(range(min = 365, max = 36500, message = "must be 365 to 36500 days"))]
    pub erase_after_days: Option<i32>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// What a retention period counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetentionBasis {
    Discharged,
    Archived,
}

/// A client the next run of the retention policy would schedule for erasure.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetentionCandidate {
    pub client_id: Uuid,
    pub status: ClientStatus,
    pub archived_at: Option<DateTime<Utc>>,
    /// What the period counts from: the earlier of discharge and archiving.
    pub basis: RetentionBasis,
    /// When the client was discharged or archived (`basis`).
    pub since: DateTime<Utc>,
    /// When the period ran out.
    pub eligible_since: DateTime<Utc>,
}

/// Whom the next run of the retention policy would schedule for erasure,
/// oldest client first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "erase_after_days": 2555,
    "data": [{
        "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
        "status": "discharged",
        "archived_at": null,
        "basis": "discharged",
        "since": "2019-10-01T09:30:00Z",
        "eligible_since": "2026-09-29T09:30:00Z"
    }],
    "next_cursor": null
}))]
pub struct RetentionPreview {
    /// The period previewed: the `erase_after_days` asked for, else the
    /// stored policy's; `null` (and no data) when the policy is off and none
    /// was asked for.
    pub erase_after_days: Option<i32>,
    pub data: Vec<RetentionCandidate>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_a_reason_and_a_grace_period_in_range() {
        let parse = |json: &str| serde_json::from_str::<NewErasure>(json);
        let request = parse(r#"{"reason": "asked by letter"}"#).unwrap();
        assert!(request.validate().is_ok());
        assert_eq!(request.grace_days(), DEFAULT_GRACE_DAYS);
        assert!(parse(r#"{"grace_period_days": 3}"#).is_err(), "reason is required");
        for bad in [
            r#"{"reason": " "}"#,
            r#"{"reason": "x", "grace_period_days": 31}"#,
            r#"{"reason": "x", "grace_period_days": -1}"#,
        ] {
            assert!(parse(bad).unwrap().validate().is_err(), "{bad}");
        }
        let long = format!(r#"{{"reason": "{}"}}"#, "é".repeat(501));
        assert!(parse(&long).unwrap().validate().is_err());
        assert_eq!(parse(r#"{"reason": "x", "grace_period_days": 0}"#).unwrap().grace_days(), 0);
    }

    #[test]
    fn a_retention_policy_is_a_year_or_more_or_off() {
        let parse = |json: &str| serde_json::from_str::<RetentionPolicyUpdate>(json).unwrap();
        assert!(parse(r#"{"erase_after_days": 365}"#).validate().is_ok());
        assert!(parse(r#"{"erase_after_days": 364}"#).validate().is_err());
        assert!(parse(r#"{"erase_after_days": 36501}"#).validate().is_err());
        assert_eq!(parse(r#"{"erase_after_days": null}"#).erase_after_days, None);
        assert_eq!(parse("{}").erase_after_days, None);
    }
}
