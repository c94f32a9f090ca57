//! A completed assessment as a FHIR R4 `Bundle`: the `QuestionnaireResponse`
//! and one `Observation` per subscale, derived from it. Pure.

use serde_json::{Value, json};
use uuid::Uuid;

use super::model::Assessment;
use crate::fhir::{ANSWER_SYSTEM, OBSERVATION_CATEGORY, SUBSCALE_SYSTEM, questionnaire_canonical, subject};
use crate::instruments::definition::InstrumentDefinition;

/// `None` when the assessment is not completed.
pub fn bundle(assessment: &Assessment, definition: &InstrumentDefinition, external_id: Option<&str>) -> Option<Value> {
    let response_url = format!("urn:uuid:{}", assessment.id);
    let (response, observations) = resources(assessment, definition, external_id, &response_url)?;
    let authored = response["authored"].clone();
    let mut entries = vec![json!({"fullUrl": response_url, "resource": response})];
    for observation in observations {
        let full_url = format!("urn:uuid:{}", observation["id"].as_str().unwrap_or_default());
        entries.push(json!({"fullUrl": full_url, "resource": observation}));
    }
    Some(json!({
        "resourceType": "Bundle",
        "id": Uuid::new_v5(&assessment.id, b"bundle").to_string(),
        "type": "collection",
        "timestamp": authored,
        "entry": entries
    }))
}

/// The `QuestionnaireResponse` and its `Observation`s (one per subscale),
/// each observation `derivedFrom` `response_reference`: `urn:uuid:<id>`
/// inside a Bundle, `QuestionnaireResponse/<id>` where each resource stands
/// alone (a bulk export's NDJSON). `None` when the assessment is not completed.
pub fn resources(
    assessment: &Assessment,
    definition: &InstrumentDefinition,
    external_id: Option<&str>,
    response_reference: &str,
) -> Option<(Value, Vec<Value>)> {
    let (answers, scores, completed_at) =
        (assessment.answers.as_ref()?, assessment.scores.as_ref()?, assessment.completed_at?);
    let authored = completed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let subject = subject(assessment.client_id, external_id);
    let label =
        |value: i64| definition.scale.labels.iter().find(|l| i64::from(l.value) == value).map(|l| l.label.clone());
    let items: Vec<Value> = answers
        .iter()
        .map(|answer| {
            let mut coding = json!({
                "system": format!("{ANSWER_SYSTEM}:{}", definition.key),
                "code": answer.value.to_string()
            });
            if let Some(display) = label(answer.value) {
                coding["display"] = json!(display);
            }
            json!({"linkId": answer.item_id, "answer": [{"valueCoding": coding}]})
        })
        .collect();
    let response = json!({
        "resourceType": "QuestionnaireResponse",
        "id": assessment.id.to_string(),
        "questionnaire": questionnaire_canonical(&assessment.instrument_key, assessment.instrument_version),
        "status": "completed",
        "subject": subject,
        "authored": authored,
        "item": items
    });
    let mut observations = Vec::with_capacity(scores.len());
    for score in scores {
        // Stable ids: the same export twice names the same observations.
        let id = Uuid::new_v5(&assessment.id, score.key.as_bytes());
        let title = definition.subscales.iter().find(|s| s.key == score.key).map_or(score.key.as_str(), |s| &s.title);
        let mut observation = json!({
            "resourceType": "Observation",
            "id": id.to_string(),
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": {
                "coding": [{"system": SUBSCALE_SYSTEM, "code": format!("{}.{}", assessment.instrument_key, score.key), "display": title}],
                "text": title
            },
            "subject": subject,
            "effectiveDateTime": authored,
            "valueQuantity": {"value": score.score, "unit": "score"},
            "derivedFrom": [{"reference": response_reference}]
        });
        if let Some(band) = &score.band {
            observation["interpretation"] = json!([{"text": band}]);
        }
        observations.push(observation);
    }
    Some((response, observations))
}
