//! Homework API types: assignments and their logs.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::store::{HomeworkRow, LogRow};
use crate::http::ApiError;
use crate::http::json::double_option;
use crate::http::pagination::Cursor;

/// Where an assignment stands. `completed` and `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HomeworkStatus {
    Active,
    Paused,
    Completed,
    Cancelled,
}

impl HomeworkStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            HomeworkStatus::Active => "active",
            HomeworkStatus::Paused => "paused",
            HomeworkStatus::Completed => "completed",
            HomeworkStatus::Cancelled => "cancelled",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        [HomeworkStatus::Active, HomeworkStatus::Paused, HomeworkStatus::Completed, HomeworkStatus::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == value)
    }

    pub fn is_final(self) -> bool {
        matches!(self, HomeworkStatus::Completed | HomeworkStatus::Cancelled)
    }
}

/// An exercise assigned to a client.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Homework {
    pub id: Uuid,
    pub client_id: Uuid,
    pub exercise_id: Uuid,
    pub exercise_key: String,
    pub exercise_version: i32,
    /// Practices expected per week.
    pub cadence_per_week: i32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// The clinician's note to the client.
    pub note: Option<String>,
    pub status: HomeworkStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<HomeworkRow> for Homework {
    type Error = ApiError;

    fn try_from(row: HomeworkRow) -> Result<Self, ApiError> {
        let status = HomeworkStatus::from_db(&row.status)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown homework status in the database")))?;
        Ok(Homework {
            id: row.id,
            client_id: row.client_id,
            exercise_id: row.exercise_id,
            exercise_key: row.exercise_key,
            exercise_version: row.exercise_version,
            cadence_per_week: row.cadence_per_week,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            note: row.note,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new assignment.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0001",
    "exercise_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f0003",
    "cadence_per_week": 3,
    "starts_on": "2026-11-23",
    "note": "Start with something small, like asking for a lift."
}))]
pub struct NewHomework {
    pub client_id: Uuid,
    pub exercise_id: Uuid,
    /// 1 to 14 practices a week.
    #[validate(range(min = 1, max = 14, message = "must be 1 to 14"))]
    #[schema(minimum = 1, maximum = 14)]
    pub cadence_per_week: i32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    #[validate(length(max = 4000, message = "must be at most 4000 characters"))]
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

/// Changes to an assignment (JSON merge patch). Status moves between
/// `active` and `paused`, or to `completed` or `cancelled`, which are final.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "paused"}))]
pub struct HomeworkPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HomeworkStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[validate(range(min = 1, max = 14, message = "must be 1 to 14"))]
    #[schema(minimum = 1, maximum = 14)]
    pub cadence_per_week: Option<i32>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<NaiveDate>, nullable = true)]
    pub ends_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 4000)]
    #[validate(length(max = 4000, message = "must be at most 4000 characters"))]
    pub note: Option<Option<String>>,
}

fn at_most_30_fields(fields: &Map<String, Value>) -> Result<(), validator::ValidationError> {
    if fields.len() > 30 {
        return Err(validator::ValidationError::new("length").with_message("at most 30 fields".into()));
    }
    Ok(())
}

/// Filters and paging for `GET /v1/homework`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListHomeworkQuery {
    pub client_id: Option<Uuid>,
    pub status: Option<HomeworkStatus>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of assignments, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HomeworkList {
    pub data: Vec<Homework>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A logged field's value, by the field's type: a whole number for
/// `integer` and `minutes`, true or false for `boolean`, text for `text` and
/// the chosen option's key for `choice`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LogFieldValue {
    Number(i64),
    Flag(bool),
    Text(String),
}

/// `fields` of a log: values by field key, at most 30.
fn log_field_values() -> ObjectBuilder {
    ObjectBuilder::new()
        .additional_properties(Some(LogFieldValue::schema()))
        .max_properties(Some(30))
        .description(Some("The exercise's log fields by key, each checked by type and range."))
}

/// One logged practice.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "occurred_at": "2026-11-20T18:30:00Z",
    "done": true,
    "fields": {"what_i_asked": "Asked my partner to pick the restaurant", "discomfort_before": 7, "discomfort_after": 3,
               "let_them_do_it_their_way": true},
    "reflection": "Easier than I expected."
}))]
pub struct NewHomeworkLog {
    /// When the practice happened; not in the future, not before the start.
    pub occurred_at: DateTime<Utc>,
    /// Whether the client did the practice.
    pub done: bool,
    /// The exercise's log fields by key, each checked by type and range.
    #[serde(default)]
    #[schema(schema_with = log_field_values)]
    #[validate(custom(function = "at_most_30_fields"))]
    pub fields: Map<String, Value>,
    /// The client's own words, up to 4000 characters.
    #[validate(length(max = 4000, message = "must be at most 4000 characters"))]
    #[schema(max_length = 4000)]
    pub reflection: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HomeworkLog {
    pub id: Uuid,
    pub homework_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub done: bool,
    #[schema(schema_with = log_field_values)]
    pub fields: Map<String, Value>,
    pub reflection: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<LogRow> for HomeworkLog {
    fn from(row: LogRow) -> Self {
        HomeworkLog {
            id: row.id,
            homework_id: row.homework_id,
            occurred_at: row.occurred_at,
            done: row.done,
            fields: match row.fields {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            reflection: row.reflection,
            created_at: row.created_at,
        }
    }
}

/// Range and paging for `GET /v1/homework/{id}/logs`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListLogsQuery {
    /// Only practices at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only practices before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of logs, in the order they were recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HomeworkLogList {
    pub data: Vec<HomeworkLog>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
