//! Instrument text in other languages: an optional translation per
//! language of the title, description, item texts and scale labels. Whatever
//! a translation leaves out is shown in the definition's own words.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::definition::{InstrumentDefinition, ScaleLabel};
use crate::http::FieldError;
use crate::i18n::Language;
use crate::text::blank_or_longer;

/// An instrument's text in one language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentTranslation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub instructions: Option<String>,
    /// Item texts by item id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(schema_with = item_texts)]
    pub items: BTreeMap<String, String>,
    /// Labels by scale value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_labels: Vec<ScaleLabel>,
}

fn item_texts() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(2000))
                .pattern(Some(r"\S")),
        ))
        .max_properties(Some(500))
        .description(Some("Item texts by item id."))
}

/// The checks of an instrument's translations, each naming its field.
pub fn validate(definition: &InstrumentDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (language, translation) in &definition.translations {
        let at = |field: &str| format!("translations.{}.{field}", language.as_str());
        if translation.title.as_deref().is_some_and(|t| blank_or_longer(t, 200)) {
            errors.push(FieldError::new(at("title"), "must be 1 to 200 characters"));
        }
        if translation.description.as_deref().is_some_and(|t| blank_or_longer(t, 2000)) {
            errors.push(FieldError::new(at("description"), "must be 1 to 2000 characters"));
        }
        if translation.instructions.as_deref().is_some_and(|t| blank_or_longer(t, 2000)) {
            errors.push(FieldError::new(at("instructions"), "must be 1 to 2000 characters"));
        }
        for (id, text) in &translation.items {
            if !definition.items.iter().any(|item| &item.id == id) {
                errors.push(FieldError::new(at(&format!("items.{id}")), "names no item of this instrument"));
            } else if blank_or_longer(text, 2000) {
                errors.push(FieldError::new(at(&format!("items.{id}")), "must be 1 to 2000 characters"));
            }
        }
        for (i, label) in translation.scale_labels.iter().enumerate() {
            if !definition.scale.labels.iter().any(|own| own.value == label.value) {
                errors.push(FieldError::new(
                    at(&format!("scale_labels[{i}].value")),
                    "names no labelled value of the scale",
                ));
            }
        }
    }
    errors
}

impl InstrumentDefinition {
    /// Whether the definition reads in `language`: its own (English) or a
    /// translation it carries.
    pub fn speaks(&self, language: Language) -> bool {
        language == Language::DEFAULT || self.translations.contains_key(&language)
    }

    /// The definition as a reader of `language` sees it: translated text
    /// where the translation has it, the definition's own elsewhere.
    pub fn localized(&self, language: Language) -> InstrumentDefinition {
        let mut shown = self.clone();
        let Some(translation) = self.translations.get(&language) else { return shown };
        if let Some(title) = &translation.title {
            shown.title.clone_from(title);
        }
        if let Some(description) = &translation.description {
            shown.description.clone_from(description);
        }
        if translation.instructions.is_some() {
            shown.instructions.clone_from(&translation.instructions);
        }
        for item in &mut shown.items {
            if let Some(text) = translation.items.get(&item.id) {
                item.text.clone_from(text);
            }
        }
        for label in &mut shown.scale.labels {
            if let Some(translated) = translation.scale_labels.iter().find(|l| l.value == label.value) {
                label.label.clone_from(&translated.label);
            }
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short_form() -> InstrumentDefinition {
        serde_json::from_str(include_str!("../../catalog/instruments/attachment_lean_short_form.json")).unwrap()
    }

    #[test]
    fn a_partial_translation_replaces_what_it_has_and_keeps_the_rest() {
        let mut definition = short_form();
        definition.translations.clear();
        definition.translations.insert(
            Language::Es,
            InstrumentTranslation {
                title: Some("Forma breve".into()),
                description: None,
                instructions: None,
                items: BTreeMap::from([("ax1".to_owned(), "Me preocupa...".to_owned())]),
                scale_labels: vec![ScaleLabel { value: 1, label: "Totalmente en desacuerdo".into() }],
            },
        );
        assert!(validate(&definition).is_empty());
        let shown = definition.localized(Language::Es);
        assert_eq!(shown.title, "Forma breve");
        assert_eq!(shown.description, definition.description);
        assert_eq!(shown.items[0].text, "Me preocupa...");
        assert_eq!(shown.items[1].text, definition.items[1].text);
        assert_eq!(shown.scale.labels[0].label, "Totalmente en desacuerdo");
        assert_eq!(shown.scale.labels[1].label, definition.scale.labels[1].label);
        // Scoring data is untouched.
        assert_eq!(shown.subscales, definition.subscales);
        assert!(definition.speaks(Language::Es) && definition.speaks(Language::En));
        assert_eq!(definition.localized(Language::En), definition);
    }

    #[test]
    fn a_translation_may_only_name_what_the_instrument_has() {
        let mut definition = short_form();
        definition.translations.clear();
        definition.translations.insert(
            Language::Es,
            InstrumentTranslation {
                title: Some("  ".into()),
                items: BTreeMap::from([("zz9".to_owned(), "¿?".to_owned())]),
                scale_labels: vec![ScaleLabel { value: 9, label: "x".into() }],
                ..InstrumentTranslation::default()
            },
        );
        let fields: Vec<String> = validate(&definition).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["translations.es.title", "translations.es.items.zz9", "translations.es.scale_labels[0].value"]
        );
    }

    #[test]
    fn without_a_translation_the_definition_does_not_claim_the_language() {
        let mut definition = short_form();
        definition.translations.clear();
        assert!(!definition.speaks(Language::Es));
        assert_eq!(definition.localized(Language::Es), definition);
    }
}
