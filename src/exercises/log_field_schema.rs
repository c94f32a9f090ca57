//! How [`LogField`] is written in the OpenAPI document.
//!
//! On the wire a log field is one flat object: the common `key`, `label` and
//! `required`, a `type`, and the members of that type (serde flattens
//! [`LogFieldKind`] into [`LogField`]). Left to the derive, that reads as
//! `allOf` over a `oneOf`, which code generators cannot turn into a class.
//! Here the same wire shape is described as a `oneOf` of complete objects
//! with a discriminator on `type`, which every common generator maps to one
//! type per kind. The types below exist only for the document; a test keeps
//! them in step with what serde writes.

use std::borrow::Cow;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::definition::{LogField, LogFieldKind};

macro_rules! type_tag {
    ($name:ident, $value:literal) => {
        #[derive(ToSchema)]
        #[allow(dead_code)]
        enum $name {
            #[schema(rename = $value)]
            Tag,
        }
    };
}

type_tag!(IntegerTag, "integer");
type_tag!(TextTag, "text");
type_tag!(BooleanTag, "boolean");
type_tag!(ChoiceTag, "choice");
type_tag!(MinutesTag, "minutes");

/// An integer from `min` to `max` (e.g. discomfort 0..10).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct IntegerLogField {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    key: String,
    /// The question shown to the client.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    label: String,
    #[serde(default)]
    required: bool,
    #[schema(inline)]
    r#type: IntegerTag,
    min: i64,
    /// Greater than `min`.
    max: i64,
}

/// Free text of at most `max_length` characters.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TextLogField {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    key: String,
    /// The question shown to the client.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    label: String,
    #[serde(default)]
    required: bool,
    #[schema(inline)]
    r#type: TextTag,
    #[schema(minimum = 1, maximum = 4000)]
    max_length: u32,
}

/// Yes or no.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BooleanLogField {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    key: String,
    /// The question shown to the client.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    label: String,
    #[serde(default)]
    required: bool,
    #[schema(inline)]
    r#type: BooleanTag,
}

/// One of `options`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ChoiceLogField {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    key: String,
    /// The question shown to the client.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    label: String,
    #[serde(default)]
    required: bool,
    #[schema(inline)]
    r#type: ChoiceTag,
    /// 2 to 30 distinct keys.
    #[schema(schema_with = choice_options)]
    options: Vec<String>,
}

fn choice_options() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z0-9_]{1,64}$")))
        .min_items(Some(2))
        .max_items(Some(30))
        .unique_items(true)
}

/// A duration in whole minutes, 0 to `max`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct MinutesLogField {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    key: String,
    /// The question shown to the client.
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    label: String,
    #[serde(default)]
    required: bool,
    #[schema(inline)]
    r#type: MinutesTag,
    #[schema(minimum = 1, maximum = 1440)]
    max: u32,
}

/// A field the client fills in each time they log the exercise.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "type", mapping(
    ("integer" = "#/components/schemas/IntegerLogField"),
    ("text" = "#/components/schemas/TextLogField"),
    ("boolean" = "#/components/schemas/BooleanLogField"),
    ("choice" = "#/components/schemas/ChoiceLogField"),
    ("minutes" = "#/components/schemas/MinutesLogField"),
)))]
#[allow(dead_code)]
enum LogFieldDocument {
    Integer(IntegerLogField),
    Text(TextLogField),
    Boolean(BooleanLogField),
    Choice(ChoiceLogField),
    Minutes(MinutesLogField),
}

impl PartialSchema for LogField {
    fn schema() -> RefOr<Schema> {
        LogFieldDocument::schema()
    }
}

impl ToSchema for LogField {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LogField")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        LogFieldDocument::schemas(schemas);
    }
}

/// The document's name for a kind's schema (for the test below and errors).
pub fn schema_name(kind: &LogFieldKind) -> &'static str {
    match kind {
        LogFieldKind::Integer { .. } => "IntegerLogField",
        LogFieldKind::Text { .. } => "TextLogField",
        LogFieldKind::Boolean => "BooleanLogField",
        LogFieldKind::Choice { .. } => "ChoiceLogField",
        LogFieldKind::Minutes { .. } => "MinutesLogField",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn component(name: &str) -> Value {
        let mut schemas = Vec::new();
        LogField::schemas(&mut schemas);
        let (_, schema) = schemas.into_iter().find(|(n, _)| n == name).unwrap();
        serde_json::to_value(schema).unwrap()
    }

    /// Every kind serde writes has a schema naming exactly its members, the
    /// discriminator's value among them.
    #[test]
    fn the_document_describes_what_serde_writes() {
        let kinds = [
            LogFieldKind::Integer { min: 0, max: 10 },
            LogFieldKind::Text { max_length: 200 },
            LogFieldKind::Boolean,
            LogFieldKind::Choice { options: vec!["a".into(), "b".into()] },
            LogFieldKind::Minutes { max: 60 },
        ];
        for kind in kinds {
            let field = LogField { key: "k".into(), label: "L".into(), required: true, kind: kind.clone() };
            let written = serde_json::to_value(&field).unwrap();
            let schema = component(schema_name(&kind));
            let mut documented: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
            let mut members: Vec<&String> = written.as_object().unwrap().keys().collect();
            documented.sort();
            members.sort();
            assert_eq!(documented, members, "{}", schema_name(&kind));
            assert_eq!(schema["properties"]["type"]["enum"], json!([written["type"]]));
            let required = schema["required"].as_array().unwrap();
            assert!(required.contains(&json!("type")) && !required.contains(&json!("required")));
        }
    }

    #[test]
    fn a_field_reads_back_what_it_writes_and_refuses_unknown_members() {
        let field = LogField {
            key: "k".into(),
            label: "L".into(),
            required: false,
            kind: LogFieldKind::Choice { options: vec!["a".into(), "b".into()] },
        };
        let written = serde_json::to_value(&field).unwrap();
        assert_eq!(serde_json::from_value::<LogField>(written.clone()).unwrap(), field);
        let mut misspelt = written;
        misspelt["requried"] = json!(true);
        assert!(serde_json::from_value::<LogField>(misspelt).is_err());
        let schema = component("ChoiceLogField");
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn log_field_is_a_one_of_with_a_discriminator_on_type() {
        let schema = serde_json::to_value(LogField::schema()).unwrap();
        assert_eq!(schema["oneOf"].as_array().unwrap().len(), 5);
        assert_eq!(schema["discriminator"]["propertyName"], "type");
        assert_eq!(schema["discriminator"]["mapping"]["minutes"], "#/components/schemas/MinutesLogField");
    }
}
