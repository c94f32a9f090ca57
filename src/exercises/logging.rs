//! Checking a homework log's fields against its exercise's definition. Pure.

use serde_json::{Map, Value};

use super::definition::{LogField, LogFieldKind};
use crate::http::FieldError;

/// Every problem with `values`, each naming `fields.<key>`. Required fields
/// are required only of a practice that was done.
pub fn check_fields(definition: &[LogField], values: &Map<String, Value>, done: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in values.keys() {
        if !definition.iter().any(|f| &f.key == key) {
            errors.push(FieldError::new(format!("fields.{key}"), "is not a field of this exercise"));
        }
    }
    for field in definition {
        let at = format!("fields.{}", field.key);
        let value = match values.get(&field.key) {
            None | Some(Value::Null) => {
                if field.required && done {
                    errors.push(FieldError::new(at, "is required when the practice was done"));
                }
                continue;
            }
            Some(value) => value,
        };
        let problem = match &field.kind {
            LogFieldKind::Integer { min, max } => match value.as_i64() {
                Some(n) if (*min..=*max).contains(&n) => None,
                _ => Some(format!("must be an integer from {min} to {max}")),
            },
            LogFieldKind::Minutes { max } => match value.as_i64() {
                Some(n) if (0..=i64::from(*max)).contains(&n) => None,
                _ => Some(format!("must be whole minutes from 0 to {max}")),
            },
            LogFieldKind::Text { max_length } => match value.as_str() {
                Some(text) if text.chars().count() <= *max_length as usize => None,
                _ => Some(format!("must be text of at most {max_length} characters")),
            },
            LogFieldKind::Boolean => (!value.is_boolean()).then(|| "must be true or false".to_owned()),
            LogFieldKind::Choice { options } => match value.as_str() {
                Some(choice) if options.iter().any(|o| o == choice) => None,
                _ => Some(format!("must be one of: {}", options.join(", "))),
            },
        };
        if let Some(message) = problem {
            errors.push(FieldError::new(at, message));
        }
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields() -> Vec<LogField> {
        serde_json::from_value(json!([
            {"key": "discomfort", "label": "Discomfort", "required": true, "type": "integer", "min": 0, "max": 10},
            {"key": "note", "label": "Note", "type": "text", "max_length": 5},
            {"key": "shared", "label": "Shared", "type": "boolean"},
            {"key": "decision", "label": "Decision", "type": "choice", "options": ["rely_fully", "plan_b_first"]},
            {"key": "duration", "label": "Duration", "type": "minutes", "max": 90}
        ]))
        .unwrap()
    }

    fn check(values: Value, done: bool) -> Vec<String> {
        let map = values.as_object().unwrap().clone();
        check_fields(&fields(), &map, done).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn accepts_values_at_their_limits() {
        let values =
            json!({"discomfort": 10, "note": "abcde", "shared": false, "decision": "plan_b_first", "duration": 0});
        assert!(check(values, true).is_empty());
        assert!(check(json!({"discomfort": 0, "duration": 90}), true).is_empty());
    }

    #[test]
    fn names_each_field_at_fault() {
        let values = json!({"discomfort": 11, "note": "abcdef", "shared": "yes", "decision": "maybe", "duration": 91, "mood": 3});
        assert_eq!(
            check(values, true),
            vec![
                "fields.decision",
                "fields.discomfort",
                "fields.duration",
                "fields.mood",
                "fields.note",
                "fields.shared"
            ]
        );
        assert_eq!(check(json!({"discomfort": 2.5}), true), vec!["fields.discomfort"]);
    }

    #[test]
    fn required_fields_bind_only_a_done_practice() {
        assert_eq!(check(json!({}), true), vec!["fields.discomfort"]);
        assert!(check(json!({}), false).is_empty());
        assert_eq!(check(json!({"discomfort": null}), true), vec!["fields.discomfort"]);
    }
}
