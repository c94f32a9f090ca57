//! The exercise definition format: a homework practice as data, with the
//! fields a client logs each time and the rules that recommend it.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use super::translation::ExerciseTranslation;
use crate::http::FieldError;
use crate::i18n::Language;
use crate::keys::is_key;
use crate::text::blank_or_longer;

/// Which lean an exercise works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    OverIndependence,
    OverDependence,
    Both,
}

impl Target {
    pub const fn as_str(self) -> &'static str {
        match self {
            Target::OverIndependence => "over_independence",
            Target::OverDependence => "over_dependence",
            Target::Both => "both",
        }
    }
}

/// The type of a logged field, with its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogFieldKind {
    /// An integer from `min` to `max` (e.g. discomfort 0..10).
    Integer {
        min: i64,
        max: i64,
    },
    /// Free text of at most `max_length` characters.
    Text {
        max_length: u32,
    },
    Boolean,
    /// One of `options`.
    Choice {
        options: Vec<String>,
    },
    /// A duration in whole minutes, 0 to `max`.
    Minutes {
        max: u32,
    },
}

/// A field the client fills in each time they log the exercise. Its
/// document schema is written in [`super::log_field_schema`]; it is read
/// through [`WireLogField`], which refuses unknown members (serde cannot
/// refuse them across a flattened enum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireLogField")]
pub struct LogField {
    pub key: String,
    /// The question shown to the client.
    pub label: String,
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub kind: LogFieldKind,
}

/// A log field as written, one variant per type, so that a misspelt member
/// (`requried`, `max_len`) is refused rather than ignored.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireLogField {
    Integer {
        key: String,
        label: String,
        #[serde(default)]
        required: bool,
        min: i64,
        max: i64,
    },
    Text {
        key: String,
        label: String,
        #[serde(default)]
        required: bool,
        max_length: u32,
    },
    Boolean {
        key: String,
        label: String,
        #[serde(default)]
        required: bool,
    },
    Choice {
        key: String,
        label: String,
        #[serde(default)]
        required: bool,
        options: Vec<String>,
    },
    Minutes {
        key: String,
        label: String,
        #[serde(default)]
        required: bool,
        max: u32,
    },
}

impl From<WireLogField> for LogField {
    fn from(wire: WireLogField) -> Self {
        let (key, label, required, kind) = match wire {
            WireLogField::Integer { key, label, required, min, max } => {
                (key, label, required, LogFieldKind::Integer { min, max })
            }
            WireLogField::Text { key, label, required, max_length } => {
                (key, label, required, LogFieldKind::Text { max_length })
            }
            WireLogField::Boolean { key, label, required } => (key, label, required, LogFieldKind::Boolean),
            WireLogField::Choice { key, label, required, options } => {
                (key, label, required, LogFieldKind::Choice { options })
            }
            WireLogField::Minutes { key, label, required, max } => {
                (key, label, required, LogFieldKind::Minutes { max })
            }
        };
        LogField { key, label, required, kind }
    }
}

/// When a client's latest scores recommend the exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecommendationRule {
    /// A subscale of an instrument scored at or above a threshold.
    SubscaleAtLeast {
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        instrument: String,
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        subscale: String,
        at_least: f64,
    },
    /// A subscale of an instrument scored at or below a threshold (for
    /// subscales where higher is better, such as mutuality).
    SubscaleAtMost {
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        instrument: String,
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        subscale: String,
        at_most: f64,
    },
    /// An instrument's classification came out as `label`.
    ClassificationIs {
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        instrument: String,
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        label: String,
    },
}

/// A homework exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExerciseDefinition {
    /// Stable key (lowercase letters, digits, `_`); registering it again
    /// makes its next version.
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// One or two sentences for the clinician.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub summary: String,
    /// Step-by-step instructions for the client: 1 to 30 steps of 1 to 1000 characters.
    #[schema(schema_with = instruction_steps)]
    pub instructions: Vec<String>,
    pub target: Target,
    /// How many times a week it is usually practised (1 to 14).
    #[schema(minimum = 1, maximum = 14)]
    pub suggested_cadence_per_week: u32,
    #[schema(max_items = 30)]
    pub log_fields: Vec<LogField>,
    #[serde(default)]
    pub recommend_when: Vec<RecommendationRule>,
    /// The exercise's text in other languages (`es`, ...); clients see it in
    /// their language where a translation has it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<Language, ExerciseTranslation>,
}

pub(crate) fn instruction_steps() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(1000))
                .pattern(Some(r"\S")),
        )
        .min_items(Some(1))
        .max_items(Some(30))
}

impl ExerciseDefinition {
    /// Every rule a definition must keep, each failure naming its field.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, message: &str| errors.push(FieldError::new(field, message));
        if !is_key(&self.key) {
            fail("key".into(), "must be 1 to 64 lowercase letters, digits or underscores");
        }
        if blank_or_longer(&self.title, 200) {
            fail("title".into(), "must be 1 to 200 characters");
        }
        if blank_or_longer(&self.summary, 1000) {
            fail("summary".into(), "must be 1 to 1000 characters");
        }
        if self.instructions.is_empty() || self.instructions.len() > 30 {
            fail("instructions".into(), "must hold 1 to 30 steps");
        }
        for (i, step) in self.instructions.iter().enumerate() {
            if blank_or_longer(step, 1000) {
                fail(format!("instructions[{i}]"), "must be 1 to 1000 characters");
            }
        }
        if !(1..=14).contains(&self.suggested_cadence_per_week) {
            fail("suggested_cadence_per_week".into(), "must be 1 to 14");
        }
        if self.log_fields.len() > 30 {
            fail("log_fields".into(), "must hold at most 30 fields");
        }
        let mut keys = HashSet::new();
        for (i, field) in self.log_fields.iter().enumerate() {
            let at = |name: &str| format!("log_fields[{i}].{name}");
            if !is_key(&field.key) {
                fail(at("key"), "must be 1 to 64 lowercase letters, digits or underscores");
            }
            if !keys.insert(field.key.as_str()) {
                fail(at("key"), "duplicates another field's key");
            }
            if blank_or_longer(&field.label, 300) {
                fail(at("label"), "must be 1 to 300 characters");
            }
            match &field.kind {
                LogFieldKind::Integer { min, max } if min >= max => fail(at("max"), "must be greater than min"),
                LogFieldKind::Text { max_length } if !(1..=4000).contains(max_length) => {
                    fail(at("max_length"), "must be 1 to 4000")
                }
                LogFieldKind::Choice { options } => {
                    let distinct: HashSet<&str> = options.iter().map(String::as_str).collect();
                    if options.len() < 2 || options.len() > 30 || distinct.len() != options.len() {
                        fail(at("options"), "must hold 2 to 30 distinct options");
                    }
                    if options.iter().any(|o| !is_key(o)) {
                        fail(at("options"), "each option must be lowercase letters, digits or underscores");
                    }
                }
                LogFieldKind::Minutes { max } if !(1..=1440).contains(max) => fail(at("max"), "must be 1 to 1440"),
                _ => {}
            }
        }
        for (i, rule) in self.recommend_when.iter().enumerate() {
            match rule {
                RecommendationRule::SubscaleAtLeast { instrument, subscale, at_least: threshold }
                | RecommendationRule::SubscaleAtMost { instrument, subscale, at_most: threshold } => {
                    if !is_key(instrument) {
                        fail(format!("recommend_when[{i}].instrument"), "must be an instrument key");
                    }
                    if !is_key(subscale) {
                        fail(format!("recommend_when[{i}].subscale"), "must be a subscale key");
                    }
                    if !threshold.is_finite() {
                        fail(format!("recommend_when[{i}]"), "the threshold must be a number");
                    }
                }
                RecommendationRule::ClassificationIs { instrument, label } => {
                    if !is_key(instrument) {
                        fail(format!("recommend_when[{i}].instrument"), "must be an instrument key");
                    }
                    if !is_key(label) {
                        fail(format!("recommend_when[{i}].label"), "must be a classification label");
                    }
                }
            }
        }
        errors.extend(super::translation::validate(self));
        errors
    }
}
