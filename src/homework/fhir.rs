//! A homework assignment as a FHIR R4 `Task`, its logs as outputs. Pure.

use serde_json::{Value, json};

use super::model::{Homework, HomeworkLog, HomeworkStatus};
use crate::fhir::{EXERCISE_SYSTEM, HOMEWORK_LOG_SYSTEM, subject};

fn task_status(status: HomeworkStatus) -> &'static str {
    match status {
        HomeworkStatus::Active => "in-progress",
        HomeworkStatus::Paused => "on-hold",
        HomeworkStatus::Completed => "completed",
        HomeworkStatus::Cancelled => "cancelled",
    }
}

pub fn task(homework: &Homework, exercise_title: &str, external_id: Option<&str>, logs: &[HomeworkLog]) -> Value {
    let mut period = json!({"start": homework.starts_on.to_string()});
    if let Some(end) = homework.ends_on {
        period["end"] = json!(end.to_string());
    }
    let outputs: Vec<Value> = logs
        .iter()
        .map(|log| {
            let record = json!({
                "occurred_at": log.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "done": log.done,
                "fields": log.fields,
                "reflection": log.reflection,
            });
            json!({
                "type": {
                    "coding": [{"system": HOMEWORK_LOG_SYSTEM, "code": if log.done { "done" } else { "not-done" }}],
                    "text": format!("Practice logged for {}", log.occurred_at.date_naive())
                },
                "valueString": record.to_string()
            })
        })
        .collect();
    let mut task = json!({
        "resourceType": "Task",
        "id": homework.id.to_string(),
        "status": task_status(homework.status),
        "intent": "order",
        "code": {"coding": [{"system": EXERCISE_SYSTEM, "code": homework.exercise_key, "display": exercise_title}],
                 "text": exercise_title},
        "description": format!("{exercise_title}, {} times a week", homework.cadence_per_week),
        "for": subject(homework.client_id, external_id),
        "authoredOn": homework.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "lastModified": homework.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "executionPeriod": period,
        // The cadence: this many repetitions in each week of the period.
        "restriction": {"repetitions": homework.cadence_per_week, "period": period},
        "output": outputs
    });
    if let Some(note) = &homework.note {
        task["note"] = json!([{"text": note}]);
    }
    task
}
