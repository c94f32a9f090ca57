//! An instrument as a FHIR R4 `Questionnaire`. Pure.

use serde_json::{Value, json};

use super::definition::InstrumentDefinition;
use crate::fhir::{ANSWER_SYSTEM, INSTRUMENT_SYSTEM, ITEM_WEIGHT};

pub fn questionnaire(id: uuid::Uuid, version: i32, definition: &InstrumentDefinition) -> Value {
    let scale = &definition.scale;
    let label = |value: i32| scale.labels.iter().find(|l| l.value == value).map(|l| l.label.clone());
    let items: Vec<Value> = definition
        .items
        .iter()
        .map(|item| {
            let options: Vec<Value> = (scale.min..=scale.max)
                .map(|value| {
                    // A reverse-keyed item simply carries reversed weights.
                    let weight = if item.reverse { scale.min + scale.max - value } else { value };
                    let mut coding =
                        json!({"system": format!("{ANSWER_SYSTEM}:{}", definition.key), "code": value.to_string()});
                    if let Some(display) = label(value) {
                        coding["display"] = json!(display);
                    }
                    json!({
                        "extension": [{"url": ITEM_WEIGHT, "valueDecimal": weight}],
                        "valueCoding": coding
                    })
                })
                .collect();
            json!({
                "linkId": item.id,
                "text": item.text,
                "type": "choice",
                "code": [{"system": format!("{INSTRUMENT_SYSTEM}:{}:subscale", definition.key), "code": item.subscale}],
                "answerOption": options
            })
        })
        .collect();
    json!({
        "resourceType": "Questionnaire",
        "id": id.to_string(),
        "url": format!("{INSTRUMENT_SYSTEM}:{}", definition.key),
        "version": version.to_string(),
        "name": definition.key,
        "title": definition.title,
        "status": "active",
        "description": definition.description,
        "item": items
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::builtin_instruments;

    #[test]
    fn reverse_keyed_items_carry_reversed_weights() {
        let attachment =
            builtin_instruments().unwrap().into_iter().find(|i| i.key == "attachment_lean_short_form").unwrap();
        let q = questionnaire(uuid::Uuid::nil(), 1, &attachment);
        assert_eq!(q["resourceType"], "Questionnaire");
        assert_eq!(q["url"], "urn:attune:instrument:attachment_lean_short_form");
        let items = q["item"].as_array().unwrap();
        assert_eq!(items.len(), 12);
        let weights = |i: usize| -> Vec<f64> {
            items[i]["answerOption"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["extension"][0]["valueDecimal"].as_f64().unwrap())
                .collect()
        };
        // ax1 is forward-keyed, ax3 reverse-keyed (1..7 -> 7..1).
        assert_eq!(weights(0), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(items[2]["linkId"], "ax3");
        assert_eq!(weights(2), vec![7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        assert_eq!(items[0]["answerOption"][0]["valueCoding"]["display"], "Strongly disagree");
        assert_eq!(items[0]["answerOption"][0]["extension"][0]["url"], ITEM_WEIGHT);
    }
}
