//! Exercise API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::definition::{ExerciseDefinition, Target};
use super::store::ExerciseRow;
use crate::http::ApiError;
use crate::http::pagination::Cursor;

/// One version of a homework exercise.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Exercise {
    pub id: Uuid,
    pub key: String,
    pub version: i32,
    /// Ships with the service rather than registered by your practice.
    pub builtin: bool,
    pub title: String,
    pub target: Target,
    pub created_at: DateTime<Utc>,
    pub definition: ExerciseDefinition,
}

impl Exercise {
    /// As a reader of `language` sees it: the definition's text (and the
    /// title) translated where a translation has it.
    pub fn localized(mut self, language: crate::i18n::Language) -> Self {
        self.definition = self.definition.localized(language);
        self.title.clone_from(&self.definition.title);
        self
    }
}

impl TryFrom<ExerciseRow> for Exercise {
    type Error = ApiError;

    fn try_from(row: ExerciseRow) -> Result<Self, ApiError> {
        let definition: ExerciseDefinition = serde_json::from_value(row.definition).map_err(ApiError::internal)?;
        Ok(Exercise {
            id: row.id,
            key: row.key,
            version: row.version,
            builtin: row.practice_id.is_none(),
            title: row.title,
            target: definition.target,
            created_at: row.created_at,
            definition,
        })
    }
}

/// Filters and paging for `GET /v1/exercises`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListExercisesQuery {
    /// Only exercises for this lean (`both` matches exercises for both).
    pub target: Option<Target>,
    /// Only versions of the exercise with this key.
    pub key: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of exercises, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExerciseList {
    pub data: Vec<Exercise>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
