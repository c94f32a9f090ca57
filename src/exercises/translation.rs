//! Exercise text in other languages: title, summary, instructions and each
//! log field's label (and a choice's option labels). A choice's options stay
//! the values logs store; their translations are only what a client reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::definition::{ExerciseDefinition, LogField, LogFieldKind};
use crate::http::FieldError;
use crate::i18n::Language;
use crate::text::blank_or_longer;

/// A log field's text in one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFieldTranslation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub label: Option<String>,
    /// For a choice: what each option reads as, in the options' order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = option_labels)]
    pub options: Vec<String>,
}

/// An exercise's text in one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExerciseTranslation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub summary: Option<String>,
    /// Replaces the instructions whole when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = super::definition::instruction_steps)]
    pub instructions: Vec<String>,
    /// Log field text by field key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub log_fields: BTreeMap<String, LogFieldTranslation>,
}

fn option_labels() -> utoipa::openapi::schema::ArrayBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(100))
                .pattern(Some(r"\S")),
        )
        .description(Some("For a choice: what each option reads as, in the options' order."))
}

/// The checks of an exercise's translations, each naming its field.
pub fn validate(definition: &ExerciseDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (language, translation) in &definition.translations {
        let at = |field: &str| format!("translations.{}.{field}", language.as_str());
        if translation.title.as_deref().is_some_and(|t| blank_or_longer(t, 200)) {
            errors.push(FieldError::new(at("title"), "must be 1 to 200 characters"));
        }
        if translation.summary.as_deref().is_some_and(|t| blank_or_longer(t, 1000)) {
            errors.push(FieldError::new(at("summary"), "must be 1 to 1000 characters"));
        }
        if translation.instructions.len() > 30 {
            errors.push(FieldError::new(at("instructions"), "must hold at most 30 steps"));
        }
        for (i, step) in translation.instructions.iter().enumerate() {
            if blank_or_longer(step, 1000) {
                errors.push(FieldError::new(at(&format!("instructions[{i}]")), "must be 1 to 1000 characters"));
            }
        }
        for (key, field) in &translation.log_fields {
            let Some(own) = definition.log_fields.iter().find(|f| &f.key == key) else {
                errors.push(FieldError::new(at(&format!("log_fields.{key}")), "names no log field of this exercise"));
                continue;
            };
            if field.label.as_deref().is_some_and(|l| blank_or_longer(l, 200)) {
                errors.push(FieldError::new(at(&format!("log_fields.{key}.label")), "must be 1 to 200 characters"));
            }
            let own_options = match &own.kind {
                LogFieldKind::Choice { options } => options.len(),
                _ => 0,
            };
            if !field.options.is_empty() && field.options.len() != own_options {
                let message = format!("must give one label per option of the field ({own_options})");
                errors.push(FieldError::new(at(&format!("log_fields.{key}.options")), message));
            }
            for (i, option) in field.options.iter().enumerate() {
                if blank_or_longer(option, 100) {
                    errors.push(FieldError::new(
                        at(&format!("log_fields.{key}.options[{i}]")),
                        "must be 1 to 100 characters",
                    ));
                }
            }
        }
    }
    errors
}

impl ExerciseDefinition {
    /// Whether the exercise reads in `language`: its own (English) or a
    /// translation it carries.
    pub fn speaks(&self, language: Language) -> bool {
        language == Language::DEFAULT || self.translations.contains_key(&language)
    }

    /// The exercise as a reader of `language` sees it. Field labels are
    /// translated; a choice's options are values and stay as defined (see
    /// [`ExerciseDefinition::option_labels`]).
    pub fn localized(&self, language: Language) -> ExerciseDefinition {
        let mut shown = self.clone();
        let Some(translation) = self.translations.get(&language) else { return shown };
        if let Some(title) = &translation.title {
            shown.title.clone_from(title);
        }
        if let Some(summary) = &translation.summary {
            shown.summary.clone_from(summary);
        }
        if !translation.instructions.is_empty() {
            shown.instructions.clone_from(&translation.instructions);
        }
        for field in &mut shown.log_fields {
            if let Some(label) = translation.log_fields.get(&field.key).and_then(|f| f.label.as_ref()) {
                field.label.clone_from(label);
            }
        }
        shown
    }

    /// What a choice field's options read as in `language`, paired with the
    /// values they stand for.
    pub fn option_labels(&self, language: Language, field: &LogField) -> Vec<(String, String)> {
        let LogFieldKind::Choice { options } = &field.kind else { return Vec::new() };
        let translated = self
            .translations
            .get(&language)
            .and_then(|t| t.log_fields.get(&field.key))
            .map(|f| &f.options)
            .filter(|labels| labels.len() == options.len());
        options
            .iter()
            .enumerate()
            .map(|(i, value)| (value.clone(), translated.map_or_else(|| value.clone(), |labels| labels[i].clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active_listening() -> ExerciseDefinition {
        let mut definition: ExerciseDefinition =
            serde_json::from_str(include_str!("../../catalog/exercises/active_listening.json")).unwrap();
        definition.translations.clear();
        definition
    }

    fn choice_field(definition: &ExerciseDefinition) -> &LogField {
        definition.log_fields.iter().find(|f| matches!(f.kind, LogFieldKind::Choice { .. })).unwrap()
    }

    #[test]
    fn labels_translate_and_choice_values_stay() {
        let mut definition = active_listening();
        let choice = choice_field(&definition).clone();
        let LogFieldKind::Choice { options } = &choice.kind else { unreachable!() };
        let labels: Vec<String> = options.iter().map(|o| format!("es:{o}")).collect();
        definition.translations.insert(
            Language::Es,
            ExerciseTranslation {
                title: Some("Escucha activa".into()),
                log_fields: BTreeMap::from([(
                    choice.key.clone(),
                    LogFieldTranslation { label: Some("¿Cómo fue?".into()), options: labels.clone() },
                )]),
                ..ExerciseTranslation::default()
            },
        );
        assert!(validate(&definition).is_empty(), "{:?}", validate(&definition));
        let shown = definition.localized(Language::Es);
        assert_eq!(shown.title, "Escucha activa");
        assert_eq!(shown.instructions, definition.instructions, "no translated steps: the own ones stay");
        let shown_choice = shown.log_fields.iter().find(|f| f.key == choice.key).unwrap();
        assert_eq!(shown_choice.label, "¿Cómo fue?");
        assert_eq!(shown_choice.kind, choice.kind, "options are values and stay");
        let pairs = definition.option_labels(Language::Es, &choice);
        assert_eq!(pairs[0], (options[0].clone(), labels[0].clone()));
        assert_eq!(definition.option_labels(Language::En, &choice)[0], (options[0].clone(), options[0].clone()));
    }

    #[test]
    fn a_translation_may_only_name_the_exercises_fields_and_options() {
        let mut definition = active_listening();
        let choice = choice_field(&definition).key.clone();
        definition.translations.insert(
            Language::Es,
            ExerciseTranslation {
                log_fields: BTreeMap::from([
                    ("nope".to_owned(), LogFieldTranslation::default()),
                    (choice.clone(), LogFieldTranslation { label: None, options: vec!["solo una".into()] }),
                ]),
                ..ExerciseTranslation::default()
            },
        );
        let fields: Vec<String> = validate(&definition).into_iter().map(|e| e.field).collect();
        assert!(fields.contains(&"translations.es.log_fields.nope".to_owned()), "{fields:?}");
        assert!(fields.contains(&format!("translations.es.log_fields.{choice}.options")), "{fields:?}");
    }
}
