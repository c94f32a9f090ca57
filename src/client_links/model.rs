//! Client link API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::http::pagination::Cursor;
use crate::i18n::Language;

/// The default lifetime, in hours: four days, as practices expect of measures.
pub const DEFAULT_LIFETIME_HOURS: i64 = 96;
/// The longest lifetime, in hours: thirty days.
pub const MAX_LIFETIME_HOURS: i64 = 720;

/// A link to issue for one client.
///
/// It covers every open assessment (`all_open_assessments`) or the listed
/// ones (`assessment_ids`), and every active homework assignment
/// (`all_active_homework`) or the listed ones (`homework_ids`); "every" is
/// read again at each visit. It must cover something.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001", "all_open_assessments": true,
    "all_active_homework": true, "expires_in_hours": 96, "language": "es"}))]
pub struct NewClientLink {
    pub client_id: Uuid,
    /// Cover every assessment open at the time of each visit.
    #[serde(default)]
    pub all_open_assessments: bool,
    /// Cover these open assessments of the client (1 to 50, distinct).
    #[validate(length(min = 1, max = 50, message = "must list 1 to 50 assessments"))]
    #[schema(schema_with = distinct_ids)]
    pub assessment_ids: Option<Vec<Uuid>>,
    /// Cover every homework assignment active at the time of each visit.
    #[serde(default)]
    pub all_active_homework: bool,
    /// Cover these active homework assignments of the client (1 to 50, distinct).
    #[validate(length(min = 1, max = 50, message = "must list 1 to 50 assignments"))]
    #[schema(schema_with = distinct_ids)]
    pub homework_ids: Option<Vec<Uuid>>,
    /// Hours until the link stops working, 1 to 720 (default 96).
    #[validate(range(min = 1, max = 720, message = "must be from 1 to 720 hours"))]
    #[schema(minimum = 1, maximum = 720)]
    pub expires_in_hours: Option<i64>,
    /// The pages' language; without it, the browser's `Accept-Language` decides.
    pub language: Option<Language>,
}

fn distinct_ids() -> utoipa::openapi::schema::ArrayBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .min_items(Some(1))
        .max_items(Some(50))
        .unique_items(true)
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// It opens the client's pages.
    Active,
    /// Its lifetime ran out.
    Expired,
    /// The practice revoked it.
    Revoked,
    /// Everything it covered was submitted.
    Finished,
}

/// What a submission through a link made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionKind {
    /// A completed assessment (`resource_id` is the assessment).
    Assessment,
    /// A homework log (`resource_id` is the log, `item_id` its assignment).
    HomeworkLog,
}

/// One thing the client submitted through the link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkSubmission {
    pub kind: SubmissionKind,
    pub resource_id: Uuid,
    /// The assessment or homework assignment it belongs to.
    pub item_id: Uuid,
    pub submitted_at: DateTime<Utc>,
}

/// A link a client opens to complete assessments and log homework.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0009", "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001",
    "state": "active", "language": "es", "all_open_assessments": true, "assessment_ids": [],
    "all_active_homework": true, "homework_ids": [], "created_at": "2026-12-02T09:00:00Z",
    "expires_at": "2026-12-06T09:00:00Z", "revoked_at": null, "finished_at": null,
    "first_opened_at": null, "last_used_at": null, "submissions": []}))]
pub struct ClientLink {
    pub id: Uuid,
    pub client_id: Uuid,
    pub state: LinkState,
    /// The pages' language; `null`: the browser's choice.
    pub language: Option<Language>,
    pub all_open_assessments: bool,
    pub assessment_ids: Vec<Uuid>,
    pub all_active_homework: bool,
    pub homework_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When someone (or a mail scanner) first opened it.
    pub first_opened_at: Option<DateTime<Utc>>,
    /// When its pages were last used: opened, a draft saved, or a submission.
    pub last_used_at: Option<DateTime<Utc>>,
    /// What was submitted through it, oldest first.
    pub submissions: Vec<LinkSubmission>,
}

/// A new link and its URL. The URL holds the link's secret and is shown this
/// once: send it to the client through your own email or SMS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedClientLink {
    #[serde(flatten)]
    pub link: ClientLink,
    /// The absolute URL the client opens.
    pub url: String,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListClientLinksQuery {
    /// The client whose links to list.
    pub client_id: Uuid,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of a client's links, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientLinkList {
    pub data: Vec<ClientLink>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
