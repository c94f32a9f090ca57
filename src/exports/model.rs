//! API types of the client record and the bulk export.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::assessments::model::Assessment;
use crate::clients::model::Client;
use crate::events::model::Event;
use crate::homework::model::{Homework, HomeworkLog};
use crate::instruments::scoring::Answer;
use crate::relationships::model::Relationship;

/// The published description of the record's JSON form, under the served
/// document (prefixed with the service's public URL).
pub const RECORD_SCHEMA_PATH: &str = "/openapi.json#/components/schemas/ClientRecord";

/// Which parts of the record to include.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Comma-separated families to include (the client is always in):
    /// `relationships`, `assessments`, `homework`, `client_links`, `events`,
    /// `audit`. Default: every family the format carries. The token needs the
    /// read scope of each family asked for.
    #[param(
        max_length = 200,
        pattern = r"^((client|relationships|assessments|homework|client_links|events|audit)(,(client|relationships|assessments|homework|client_links|events|audit))*)?$",
        example = "assessments,homework"
    )]
    pub include: Option<String>,
}

/// A homework assignment with everything logged against it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HomeworkRecord {
    #[serde(flatten)]
    pub assignment: Homework,
    /// When it was paused and resumed (`resumed_at` null while paused).
    pub pauses: Vec<HomeworkPause>,
    /// Every logged practice, oldest first, with the client's reflections.
    pub logs: Vec<HomeworkLog>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HomeworkPause {
    pub paused_at: DateTime<Utc>,
    pub resumed_at: Option<DateTime<Utc>>,
}

/// Answers a client saved through a link without submitting them yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssessmentDraft {
    pub assessment_id: Uuid,
    /// The link they were saved through.
    pub link_id: Uuid,
    /// The saved answers.
    #[schema(value_type = Vec<Answer>)]
    pub answers: Value,
    pub updated_at: DateTime<Utc>,
    /// When the draft is discarded.
    pub expires_at: DateTime<Utc>,
}

/// A link the client was sent (never its URL or token).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordClientLink {
    pub id: Uuid,
    pub all_open_assessments: bool,
    pub assessment_ids: Vec<Uuid>,
    pub all_active_homework: bool,
    pub homework_ids: Vec<Uuid>,
    pub language: Option<String>,
    /// The API client (and clinician) that issued it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub first_opened_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// What the client submitted through it, oldest first.
    pub submissions: Vec<LinkSubmission>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkSubmission {
    /// `assessment` or `homework_log`.
    pub resource_type: String,
    pub resource_id: Uuid,
    /// The assessment, or the assignment a log belongs to.
    pub item_id: Uuid,
    pub submitted_at: DateTime<Utc>,
}

/// One entry of the audit trail: who did what to which resource, when.
/// Everything Attune holds about one client, as of `generated_at` (one
/// consistent snapshot). Families left out by `include` are absent (not
/// empty). Arrays are oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientRecord {
    /// Where this format is described (this schema in the served document).
    pub described_by: String,
    /// The instant the record is consistent as of.
    pub generated_at: DateTime<Utc>,
    /// The families this record holds.
    #[schema(value_type = Vec<String>, example = json!(["client", "assessments", "homework"]))]
    pub included: Vec<String>,
    pub client: Client,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Vec<Relationship>>,
    /// Every assessment: assigned, completed (answers and scores) and cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessments: Option<Vec<Assessment>>,
    /// Answers saved through links and not submitted yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_drafts: Option<Vec<AssessmentDraft>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homework: Option<Vec<HomeworkRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_links: Option<Vec<RecordClientLink>>,
    /// The events about the client still kept in the feed (35 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    /// The audit entries about the client (and its relationships).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_events: Option<Vec<crate::audit::model::AuditEvent>>,
}

/// A FHIR resource type a bulk export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum ExportType {
    /// Each client (archived ones included).
    Patient,
    /// The instruments the practice can administer (built-in and its own).
    Questionnaire,
    /// Each completed assessment's answers.
    QuestionnaireResponse,
    /// Each subscale score of a completed assessment.
    Observation,
    /// Each homework assignment, its logs as outputs.
    Task,
    /// Each audit entry.
    AuditEvent,
}

impl ExportType {
    pub const ALL: [ExportType; 6] = [
        ExportType::Patient,
        ExportType::Questionnaire,
        ExportType::QuestionnaireResponse,
        ExportType::Observation,
        ExportType::Task,
        ExportType::AuditEvent,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ExportType::Patient => "Patient",
            ExportType::Questionnaire => "Questionnaire",
            ExportType::QuestionnaireResponse => "QuestionnaireResponse",
            ExportType::Observation => "Observation",
            ExportType::Task => "Task",
            ExportType::AuditEvent => "AuditEvent",
        }
    }

    pub fn parse(value: &str) -> Option<ExportType> {
        ExportType::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

fn distinct_types(types: &[ExportType]) -> Result<(), ValidationError> {
    let mut seen = types.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != types.len() {
        return Err(ValidationError::new("unique").with_message("names a type twice".into()));
    }
    Ok(())
}

/// What to export; an empty body exports everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"types": ["Patient", "QuestionnaireResponse", "Observation"], "since": "2026-11-01T00:00:00Z"}))]
pub struct NewExport {
    /// The resource types to export (FHIR's `_type`); all when absent.
    #[validate(length(min = 1, max = 6, message = "must name 1 to 6 types"), custom(function = "distinct_types"))]
    #[schema(min_items = 1, max_items = 6)]
    pub types: Option<Vec<ExportType>>,
    /// Only resources changed at or after this instant (FHIR's `_since`).
    pub since: Option<DateTime<Utc>>,
}

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Pending,
    Running,
    Completed,
    Failed,
    Expired,
}

impl ExportState {
    pub const fn as_str(self) -> &'static str {
        match self {
            ExportState::Pending => "pending",
            ExportState::Running => "running",
            ExportState::Completed => "completed",
            ExportState::Failed => "failed",
            ExportState::Expired => "expired",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [ExportState::Pending, ExportState::Running, ExportState::Completed, ExportState::Failed, ExportState::Expired]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// An export under way (the kick-off's and a poll's 202 body).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "state": "running",
    "types": ["Patient", "QuestionnaireResponse", "Observation"], "since": null,
    "created_at": "2026-12-04T09:30:00Z", "progress": "42% (12345 of 29000 resources)"
}))]
pub struct ExportStatus {
    pub id: Uuid,
    /// `pending` (queued or waiting to be tried again) or `running`.
    pub state: ExportState,
    pub types: Vec<ExportType>,
    pub since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The same text as `X-Progress`.
    pub progress: String,
}

/// One NDJSON file of a finished export.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestFile {
    /// The FHIR resource type of every line.
    #[serde(rename = "type")]
    pub resource_type: ExportType,
    /// Where to fetch it, with a token of the same practice (scope `admin`).
    pub url: String,
    /// Resources (lines) in the file.
    pub count: i64,
}

/// Links a Bulk Data manifest carries under `extension` (the spec reserves
/// that name for servers).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestExtension {
    /// The format of every file: FHIR R4 resources, one per line.
    #[serde(rename = "describedBy")]
    pub described_by: String,
    /// When the files are removed.
    #[serde(rename = "expiresAt")]
    pub expires_at: DateTime<Utc>,
}

/// An NDJSON file of an export: one FHIR R4 resource (JSON, one line) per
/// line, each line ended by `\n`.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, example = "{\"resourceType\":\"Patient\",\"id\":\"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\",\"active\":true}\n")]
#[allow(dead_code)]
pub struct NdjsonFile(pub String);

/// A finished export: the FHIR Bulk Data Access manifest (its member names
/// are the spec's, in camelCase).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "transactionTime": "2026-12-04T09:30:01.123Z",
    "request": "https://attune.example.org/v1/exports",
    "requiresAccessToken": true,
    "output": [{"type": "Patient", "url": "https://attune.example.org/v1/exports/0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b/files/Patient-1.ndjson", "count": 120}],
    "error": [],
    "extension": {"describedBy": "https://hl7.org/fhir/R4/", "expiresAt": "2026-12-05T09:31:00Z"}
}))]
pub struct ExportManifest {
    /// The instant the files are consistent as of: no file holds a change
    /// made after it. Pass it as the next export's `since`.
    #[serde(rename = "transactionTime")]
    pub transaction_time: DateTime<Utc>,
    /// The kick-off request.
    pub request: String,
    /// Always true: fetch each file with a bearer token of the same practice.
    #[serde(rename = "requiresAccessToken")]
    pub requires_access_token: bool,
    pub output: Vec<ManifestFile>,
    /// Always empty: a resource that cannot be exported fails the export
    /// (the Bulk Data shape would list OperationOutcome files here).
    #[schema(max_items = 0)]
    pub error: Vec<ManifestFile>,
    pub extension: ManifestExtension,
}
