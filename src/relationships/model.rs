//! Relationship API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::patterns::PatternKind;
use crate::http::pagination::Cursor;
use crate::instruments::scoring::SubscaleScore;
use crate::progress::model::AdherenceFigures;

/// Clients to link.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "couple", "client_ids": ["0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001", "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0002"]}))]
pub struct NewRelationship {
    /// What links them: `couple`, `family`, ... (lowercase letters, digits, `_`).
    #[validate(custom(function = "crate::keys::validate_key"))]
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub kind: String,
    /// Two to ten distinct live clients of your practice.
    #[validate(length(min = 2, max = 10, message = "must name 2 to 10 clients"))]
    #[schema(schema_with = distinct_client_ids)]
    pub client_ids: Vec<Uuid>,
}

fn distinct_client_ids() -> utoipa::openapi::schema::ArrayBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .min_items(Some(2))
        .max_items(Some(10))
        .unique_items(true)
        .description(Some("Two to ten distinct live clients of your practice."))
}

/// Clients linked for joint work.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0007", "kind": "couple",
    "client_ids": ["0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001", "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0002"],
    "created_at": "2026-11-22T09:30:00Z"}))]
pub struct Relationship {
    pub id: Uuid,
    pub kind: String,
    pub client_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRelationshipsQuery {
    /// Only relationships this client is a member of.
    pub client_id: Option<Uuid>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of relationships, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelationshipList {
    pub data: Vec<Relationship>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// A member's latest result on one instrument.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberLean {
    pub instrument_key: String,
    pub assessment_id: Uuid,
    pub completed_at: DateTime<Utc>,
    /// The classification label, if the instrument has a classification.
    pub label: Option<String>,
    pub explanation: Option<String>,
    pub scores: Vec<SubscaleScore>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberProfile {
    pub client_id: Uuid,
    pub display_name: String,
    /// Latest completed result per instrument, by instrument key.
    pub leans: Vec<MemberLean>,
    /// Homework adherence over all the member's assignments to date.
    pub adherence: AdherenceFigures,
}

/// A pattern across two members a clinician recognises.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Pattern {
    pub kind: PatternKind,
    pub client_ids: Vec<Uuid>,
    /// The labels behind it.
    pub explanation: String,
}

/// The members' latest leans side by side, with the patterns they form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RelationshipProfile {
    pub relationship_id: Uuid,
    pub kind: String,
    pub members: Vec<MemberProfile>,
    pub patterns: Vec<Pattern>,
}
