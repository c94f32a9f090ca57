//! Recommendation API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::exercises::definition::Target;

/// An assessment a recommendation rests on: the client's latest completed
/// one of its instrument.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BasedOn {
    pub assessment_id: Uuid,
    pub instrument_key: String,
    pub completed_at: DateTime<Utc>,
}

/// An exercise the client's latest scores point to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Recommendation {
    pub exercise_id: Uuid,
    pub exercise_key: String,
    pub title: String,
    pub target: Target,
    /// Each rule met, with the score or label that met it.
    pub reasons: Vec<String>,
    /// The client has an active or paused assignment of this exercise.
    pub already_assigned: bool,
}

/// Exercises recommended for a client, with the reasons.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001",
    "based_on": [{"assessment_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0009", "instrument_key": "attachment_lean_short_form",
                  "completed_at": "2026-11-23T18:02:00Z"}],
    "data": [{"exercise_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0003", "exercise_key": "delight_in_solo_time",
              "title": "Delight in solo time", "target": "over_dependence",
              "reasons": ["attachment_lean_short_form classification is anxious"], "already_assigned": false}],
    "note": null
}))]
pub struct RecommendationList {
    pub client_id: Uuid,
    pub based_on: Vec<BasedOn>,
    pub data: Vec<Recommendation>,
    /// Why the list is empty, when it is.
    pub note: Option<String>,
}
