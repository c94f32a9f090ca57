//! Reading the pages' form posts into the API's own input types, and the
//! API's field errors back into words next to the control at fault. Pure:
//! no database, no HTTP.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::text::PageText;
use crate::exercises::definition::{LogField, LogFieldKind};
use crate::homework::model::NewHomeworkLog;
use crate::http::FieldError;
use crate::instruments::definition::InstrumentDefinition;
use crate::instruments::scoring::Answer;

/// A form post as name/value pairs (the last value of a repeated name wins).
pub fn pairs(body: &[u8]) -> Option<HashMap<String, String>> {
    let list: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    Some(list.into_iter().collect())
}

/// The control name of an item's radio group.
pub fn item_control(item_id: &str) -> String {
    format!("item.{item_id}")
}

/// The control name of a log field.
pub fn field_control(key: &str) -> String {
    format!("field.{key}")
}

/// The answers a form holds, in the instrument's item order. A value that is
/// not a number is kept as given, so the page can show it back, and answered
/// as off the scale.
pub fn answers(
    definition: &InstrumentDefinition,
    form: &HashMap<String, String>,
) -> (Vec<Answer>, HashMap<String, String>) {
    let mut answers = Vec::new();
    let mut typed = HashMap::new();
    for item in &definition.items {
        let Some(raw) = form.get(&item_control(&item.id)).map(|v| v.trim()) else { continue };
        if raw.is_empty() {
            continue;
        }
        typed.insert(item.id.clone(), raw.to_owned());
        // An unreadable value becomes one no scale holds, so scoring refuses it.
        let value = raw.parse::<i64>().unwrap_or(i64::MIN);
        answers.push(Answer { item_id: item.id.clone(), value });
    }
    (answers, typed)
}

/// Which items the scoring errors point at, with words for the client. An
/// error on the whole answer set (too many unanswered in a subscale) marks
/// that subscale's unanswered items.
pub fn item_errors(
    definition: &InstrumentDefinition,
    answers: &[Answer],
    errors: &[FieldError],
    text: &PageText,
) -> HashMap<String, String> {
    let mut by_item = HashMap::new();
    for error in errors {
        if let Some(index) = answer_index(&error.field) {
            if let Some(answer) = answers.get(index) {
                by_item.insert(answer.item_id.clone(), text.choose_a_listed_answer.to_owned());
            }
        } else if error.field == "answers" {
            let subscale = error.message.split('`').nth(1);
            for item in &definition.items {
                let answered = answers.iter().any(|a| a.item_id == item.id);
                if !answered && subscale.is_none_or(|key| key == item.subscale) {
                    by_item.insert(item.id.clone(), text.choose_an_answer.to_owned());
                }
            }
        }
    }
    by_item
}

fn answer_index(field: &str) -> Option<usize> {
    field.strip_prefix("answers[")?.split(']').next()?.parse().ok()
}

/// A log as the homework form holds it, and the values to show back.
pub struct LogForm {
    pub input: NewHomeworkLog,
    pub typed: HashMap<String, String>,
}

/// Reads a homework form into the API's log input. A date of today means
/// now; an earlier date means midday of it (UTC), so it is never "in the
/// future".
pub fn log(fields: &[LogField], form: &HashMap<String, String>, now: DateTime<Utc>) -> Result<LogForm, FieldError> {
    let mut typed = HashMap::new();
    let date_raw = form.get("date").map(|v| v.trim()).unwrap_or_default();
    typed.insert("date".to_owned(), date_raw.to_owned());
    let date =
        NaiveDate::parse_from_str(date_raw, "%Y-%m-%d").map_err(|_| FieldError::new("occurred_at", "not a date"))?;
    let occurred_at = if date >= now.date_naive() {
        now
    } else {
        date.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default()).and_utc()
    };
    let done = match form.get("done").map(String::as_str) {
        Some("yes") => true,
        Some("no") => false,
        _ => return Err(FieldError::new("done", "missing")),
    };
    typed.insert("done".to_owned(), if done { "yes" } else { "no" }.to_owned());
    let mut values = Map::new();
    for field in fields {
        let Some(raw) = form.get(&field_control(&field.key)) else { continue };
        typed.insert(field_control(&field.key), raw.clone());
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let value = match &field.kind {
            LogFieldKind::Integer { .. } | LogFieldKind::Minutes { .. } => {
                raw.parse::<i64>().map_or_else(|_| Value::String(raw.to_owned()), Value::from)
            }
            LogFieldKind::Boolean => match raw {
                "yes" => Value::Bool(true),
                "no" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            LogFieldKind::Text { .. } | LogFieldKind::Choice { .. } => Value::String(raw.to_owned()),
        };
        values.insert(field.key.clone(), value);
    }
    let reflection = form.get("reflection").map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(reflection) = &reflection {
        typed.insert("reflection".to_owned(), reflection.clone());
    }
    Ok(LogForm { input: NewHomeworkLog { occurred_at, done, fields: values, reflection }, typed })
}

/// Words for a log error, keyed by the control it belongs to.
pub fn log_errors(
    fields: &[LogField],
    errors: &[FieldError],
    starts_on: NaiveDate,
    text: &PageText,
) -> HashMap<String, String> {
    let mut by_control = HashMap::new();
    for error in errors {
        match error.field.as_str() {
            "occurred_at" => {
                by_control
                    .insert("date".to_owned(), PageText::fill(text.date_range, &[("start", &starts_on.to_string())]));
            }
            "done" => {
                by_control.insert("done".to_owned(), text.choose_one.to_owned());
            }
            "reflection" => {
                by_control.insert("reflection".to_owned(), PageText::fill(text.text_too_long, &[("max", "4000")]));
            }
            other => {
                let Some(key) = other.strip_prefix("fields.") else { continue };
                let Some(field) = fields.iter().find(|f| f.key == key) else { continue };
                by_control.insert(field_control(key), field_message(field, &error.message, text));
            }
        }
    }
    by_control
}

fn field_message(field: &LogField, api_message: &str, text: &PageText) -> String {
    if api_message.starts_with("is required") {
        return text.needed_when_done.to_owned();
    }
    match &field.kind {
        LogFieldKind::Integer { min, max } => {
            PageText::fill(text.whole_number_range, &[("min", &min.to_string()), ("max", &max.to_string())])
        }
        LogFieldKind::Minutes { max } => PageText::fill(text.minutes_range, &[("max", &max.to_string())]),
        LogFieldKind::Text { max_length } => PageText::fill(text.text_too_long, &[("max", &max_length.to_string())]),
        LogFieldKind::Boolean | LogFieldKind::Choice { .. } => text.choose_one.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::i18n::Language;

    fn short_form() -> InstrumentDefinition {
        serde_json::from_str(include_str!("../../../catalog/instruments/attachment_lean_short_form.json")).unwrap()
    }

    fn small_help() -> Vec<LogField> {
        let exercise: crate::exercises::definition::ExerciseDefinition =
            serde_json::from_str(include_str!("../../../catalog/exercises/ask_for_small_help.json")).unwrap();
        exercise.log_fields
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn radio_values_become_answers_in_item_order_and_blanks_are_skipped() {
        let definition = short_form();
        let posted = form(&[("item.av1", "3"), ("item.ax1", "6"), ("item.ax2", ""), ("csrf", "x"), ("item.zz", "4")]);
        let (answers, typed) = answers(&definition, &posted);
        let ids: Vec<&str> = answers.iter().map(|a| a.item_id.as_str()).collect();
        assert_eq!(ids, ["ax1", "av1"]);
        assert_eq!(answers[0].value, 6);
        assert_eq!(typed.len(), 2);
    }

    #[test]
    fn a_missing_subscale_marks_its_unanswered_items_and_a_bad_value_its_own_item() {
        let definition = short_form();
        let text = PageText::of(Language::En);
        let answers = vec![Answer { item_id: "ax1".into(), value: 99 }];
        let errors = vec![
            FieldError::new("answers[0].value", "must be an integer from 1 to 7"),
            FieldError::new("answers", "subscale `avoidance` has 6 unanswered items; at most 1 may be missing"),
        ];
        let marked = item_errors(&definition, &answers, &errors, text);
        assert_eq!(marked["ax1"], text.choose_a_listed_answer);
        for id in ["av1", "av2", "av3", "av4", "av5", "av6"] {
            assert_eq!(marked[id], text.choose_an_answer, "{id}");
        }
        assert!(!marked.contains_key("ax2"), "the anxiety items were not reported");
    }

    #[test]
    fn a_log_form_reads_typed_fields_and_dates_before_today_as_their_midday() {
        let now = Utc.with_ymd_and_hms(2026, 12, 2, 9, 30, 0).unwrap();
        let posted = form(&[
            ("date", "2026-11-30"),
            ("done", "yes"),
            ("field.what_i_asked", " A lift "),
            ("field.discomfort_before", "7"),
            ("field.discomfort_after", ""),
            ("field.let_them_do_it_their_way", "no"),
            ("reflection", "  "),
        ]);
        let read = log(&small_help(), &posted, now).unwrap();
        assert_eq!(read.input.occurred_at, Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap());
        assert!(read.input.done);
        assert_eq!(read.input.fields["what_i_asked"], "A lift");
        assert_eq!(read.input.fields["discomfort_before"], 7);
        assert!(!read.input.fields.contains_key("discomfort_after"));
        assert_eq!(read.input.fields["let_them_do_it_their_way"], false);
        assert_eq!(read.input.reflection, None);
        let today = log(&small_help(), &form(&[("date", "2026-12-02"), ("done", "no")]), now).unwrap();
        assert_eq!(today.input.occurred_at, now);
    }

    #[test]
    fn a_log_form_without_a_date_or_an_answer_to_done_is_refused_by_field() {
        let now = Utc::now();
        assert_eq!(log(&[], &form(&[("done", "yes")]), now).err().map(|e| e.field), Some("occurred_at".into()));
        assert_eq!(log(&[], &form(&[("date", "2026-11-30")]), now).err().map(|e| e.field), Some("done".into()));
    }

    #[test]
    fn log_errors_speak_of_the_field_in_the_clients_language() {
        let fields = small_help();
        let text = PageText::of(Language::Es);
        let errors = vec![
            FieldError::new("fields.discomfort_before", "must be an integer from 0 to 10"),
            FieldError::new("occurred_at", "is before the assignment starts"),
        ];
        let starts = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let words = log_errors(&fields, &errors, starts, text);
        assert_eq!(words["field.discomfort_before"], "Escriba un número entero del 0 al 10, por favor.");
        assert!(words["date"].contains("2026-11-01"));
    }
}
