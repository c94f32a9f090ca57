//! Scoring, pure: answers in, subscale scores and a classification out. No
//! database, no HTTP; the same answers always give the same scores.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::definition::{Classification, InstrumentDefinition, ScoringMethod};
use crate::http::FieldError;

/// One answer: an item and the chosen scale value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub item_id: String,
    /// An integer on the instrument's scale.
    pub value: i64,
}

/// A subscale's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscaleScore {
    pub key: String,
    /// The score: the mean of answered items, or the sum prorated for missing items.
    pub score: f64,
    /// The sum of the answered items after reverse keying.
    pub raw: f64,
    pub answered: u32,
    pub missing: u32,
    /// The label of the band the score falls in, if any.
    pub band: Option<String>,
}

/// The instrument's label for this set of scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClassificationResult {
    /// `secure`, `anxious`, `avoidant`, `fearful` (quadrant) or
    /// `leans_independent`, `interdependent`, `leans_dependent` (spectrum).
    pub label: String,
    /// One line saying why, with the scores behind it.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScoreResult {
    pub subscales: Vec<SubscaleScore>,
    pub classification: Option<ClassificationResult>,
}

/// Scores a full or partial answer set, or says, per answer, what is wrong.
/// Field paths are `answers[i]...` so they point into the request.
pub fn score(definition: &InstrumentDefinition, answers: &[Answer]) -> Result<ScoreResult, Vec<FieldError>> {
    let mut errors = Vec::new();
    let known: HashMap<&str, &super::definition::Item> =
        definition.items.iter().map(|item| (item.id.as_str(), item)).collect();
    let mut given: HashMap<&str, i64> = HashMap::new();
    let (min, max) = (i64::from(definition.scale.min), i64::from(definition.scale.max));
    for (i, answer) in answers.iter().enumerate() {
        if !known.contains_key(answer.item_id.as_str()) {
            errors.push(FieldError::new(format!("answers[{i}].item_id"), "names no item of this instrument"));
        } else if given.insert(answer.item_id.as_str(), answer.value).is_some() {
            errors.push(FieldError::new(format!("answers[{i}].item_id"), "answers this item a second time"));
        }
        if answer.value < min || answer.value > max {
            errors.push(FieldError::new(
                format!("answers[{i}].value"),
                format!("must be an integer from {min} to {max}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut subscales = Vec::with_capacity(definition.subscales.len());
    for subscale in &definition.subscales {
        let items: Vec<_> = definition.items_of(&subscale.key).collect();
        let keyed: Vec<f64> = items
            .iter()
            .filter_map(|item| {
                let value = *given.get(item.id.as_str())?;
                // Reverse keying: min + max - answer.
                Some(if item.reverse { (min + max - value) as f64 } else { value as f64 })
            })
            .collect();
        let answered = keyed.len() as u32;
        let missing = items.len() as u32 - answered;
        if missing > subscale.max_missing || answered == 0 {
            errors.push(FieldError::new(
                "answers",
                format!(
                    "subscale `{}` has {missing} unanswered items; at most {} may be missing",
                    subscale.key, subscale.max_missing
                ),
            ));
            continue;
        }
        let raw: f64 = keyed.iter().sum();
        let score = match subscale.method {
            ScoringMethod::Mean => raw / f64::from(answered),
            ScoringMethod::Sum => raw * items.len() as f64 / f64::from(answered),
        };
        let band = subscale.band_of(score).map(str::to_owned);
        subscales.push(SubscaleScore { key: subscale.key.clone(), score, raw, answered, missing, band });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let classification = definition.classification.as_ref().and_then(|rule| classify(rule, &subscales));
    Ok(ScoreResult { subscales, classification })
}

fn score_of(scores: &[SubscaleScore], key: &str) -> Option<f64> {
    scores.iter().find(|s| s.key == key).map(|s| s.score)
}

fn classify(rule: &Classification, scores: &[SubscaleScore]) -> Option<ClassificationResult> {
    match rule {
        Classification::Quadrant { anxiety, anxiety_cutoff, avoidance, avoidance_cutoff } => {
            let (anx, avo) = (score_of(scores, anxiety)?, score_of(scores, avoidance)?);
            // A score exactly on its cut-off counts as high.
            let (high_anx, high_avo) = (anx >= *anxiety_cutoff, avo >= *avoidance_cutoff);
            let label = match (high_anx, high_avo) {
                (false, false) => "secure",
                (true, false) => "anxious",
                (false, true) => "avoidant",
                (true, true) => "fearful",
            };
            let side = |high: bool| if high { "high" } else { "low" };
            let compare = |high: bool| if high { ">=" } else { "<" };
            Some(ClassificationResult {
                label: label.to_owned(),
                explanation: format!(
                    "{anxiety} {} {} {anxiety_cutoff} ({}), {avoidance} {} {} {avoidance_cutoff} ({}): {label}",
                    round2(anx),
                    compare(high_anx),
                    side(high_anx),
                    round2(avo),
                    compare(high_avo),
                    side(high_avo),
                ),
            })
        }
        Classification::Spectrum { independent, dependent, balanced_margin } => {
            let (ind, dep) = (score_of(scores, independent)?, score_of(scores, dependent)?);
            let difference = dep - ind;
            let label = if difference.abs() <= *balanced_margin {
                "interdependent"
            } else if difference < 0.0 {
                "leans_independent"
            } else {
                "leans_dependent"
            };
            Some(ClassificationResult {
                label: label.to_owned(),
                explanation: format!(
                    "{dependent} {} minus {independent} {} is {}; within +/-{balanced_margin} is balanced: {label}",
                    round2(dep),
                    round2(ind),
                    round2(difference),
                ),
            })
        }
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::definition::{Band, Direction, Item, ResponseScale, Subscale};

    fn item(id: &str, subscale: &str, reverse: bool) -> Item {
        Item { id: id.into(), text: format!("item {id}"), subscale: subscale.into(), reverse }
    }

    fn subscale(key: &str, method: ScoringMethod, max_missing: u32, bands: Vec<Band>) -> Subscale {
        Subscale {
            key: key.into(),
            title: key.into(),
            method,
            max_missing,
            direction: Direction::LowerIsBetter,
            bands,
            norms: None,
        }
    }

    fn band(min: f64, max: f64, label: &str) -> Band {
        Band { min, max, label: label.into() }
    }

    /// Scale 1..7; `anx` (mean, a3 reversed, 1 missing allowed) and `avo`
    /// (sum, v3 reversed, 1 missing allowed); quadrant at 4.0 / 12.0.
    fn attachment() -> InstrumentDefinition {
        InstrumentDefinition {
            key: "t".into(),
            title: "T".into(),
            description: String::new(),
            instructions: None,
            scale: ResponseScale { min: 1, max: 7, labels: vec![] },
            items: vec![
                item("a1", "anx", false),
                item("a2", "anx", false),
                item("a3", "anx", true),
                item("v1", "avo", false),
                item("v2", "avo", false),
                item("v3", "avo", true),
            ],
            subscales: vec![
                subscale("anx", ScoringMethod::Mean, 1, vec![band(1.0, 3.99, "low"), band(4.0, 7.0, "high")]),
                subscale("avo", ScoringMethod::Sum, 1, vec![]),
            ],
            classification: Some(Classification::Quadrant {
                anxiety: "anx".into(),
                anxiety_cutoff: 4.0,
                avoidance: "avo".into(),
                avoidance_cutoff: 12.0,
            }),
            translations: Default::default(),
        }
    }

    fn answers(pairs: &[(&str, i64)]) -> Vec<Answer> {
        pairs.iter().map(|(id, value)| Answer { item_id: (*id).into(), value: *value }).collect()
    }

    fn fields(err: Vec<FieldError>) -> Vec<String> {
        err.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn reverse_items_and_both_methods() {
        // anx: 6, 5, reversed 2 -> 1+7-2 = 6; raw 17, mean 17/3 = 5.6667.
        // avo: 2, 3, reversed 6 -> 2; raw 7, sum 7.
        let result =
            score(&attachment(), &answers(&[("a1", 6), ("a2", 5), ("a3", 2), ("v1", 2), ("v2", 3), ("v3", 6)]))
                .unwrap();
        let anx = &result.subscales[0];
        assert_eq!((anx.raw, anx.answered, anx.missing), (17.0, 3, 0));
        assert!((anx.score - 17.0 / 3.0).abs() < 1e-12);
        assert_eq!(anx.band.as_deref(), Some("high"));
        let avo = &result.subscales[1];
        assert_eq!((avo.raw, avo.score), (7.0, 7.0));
        let class = result.classification.unwrap();
        assert_eq!(class.label, "anxious");
        assert_eq!(class.explanation, "anx 5.67 >= 4 (high), avo 7 < 12 (low): anxious");
    }

    #[test]
    fn missing_items_within_tolerance_are_averaged_or_prorated() {
        // anx without a3: (4+4)/2 = 4.0 -> exactly on the cut-off: high, band "high".
        // avo without v2: 5 + (8-1)=7 -> raw 12 over 2 answered, prorated 12*3/2 = 18.
        let result = score(&attachment(), &answers(&[("a1", 4), ("a2", 4), ("v1", 5), ("v3", 1)])).unwrap();
        let anx = &result.subscales[0];
        assert_eq!((anx.score, anx.answered, anx.missing), (4.0, 2, 1));
        assert_eq!(anx.band.as_deref(), Some("high"));
        let avo = &result.subscales[1];
        assert_eq!((avo.raw, avo.score, avo.missing), (12.0, 18.0, 1));
        assert_eq!(result.classification.unwrap().label, "fearful");
    }

    #[test]
    fn too_many_missing_items_are_refused() {
        let err = score(&attachment(), &answers(&[("a1", 4), ("v1", 5), ("v2", 5), ("v3", 5)])).unwrap_err();
        assert_eq!(fields(err), vec!["answers"]);
    }

    #[test]
    fn unknown_duplicate_and_out_of_range_answers_name_their_index() {
        let err = score(&attachment(), &answers(&[("a1", 4), ("zz", 4), ("a1", 3), ("a2", 8), ("a3", 0)])).unwrap_err();
        assert_eq!(
            fields(err),
            vec!["answers[1].item_id", "answers[2].item_id", "answers[3].value", "answers[4].value"]
        );
    }

    #[test]
    fn quadrant_boundaries_count_the_cut_off_as_high() {
        // avo exactly 12 (4+4+reversed 4 = 4): high; anx 3.67 low -> avoidant.
        let result =
            score(&attachment(), &answers(&[("a1", 3), ("a2", 4), ("a3", 4), ("v1", 4), ("v2", 4), ("v3", 4)]))
                .unwrap();
        assert_eq!(result.subscales[1].score, 12.0);
        assert_eq!(result.classification.unwrap().label, "avoidant");
        // Just below both cut-offs: anx 11/3 = 3.67, avo 11 -> secure; band "low".
        let result =
            score(&attachment(), &answers(&[("a1", 3), ("a2", 4), ("a3", 4), ("v1", 3), ("v2", 4), ("v3", 4)]))
                .unwrap();
        assert_eq!(result.subscales[0].band.as_deref(), Some("low"));
        assert_eq!(result.classification.unwrap().label, "secure");
    }

    /// Scale 0..4 (not 1..7): `ind` and `dep` (means), spectrum margin 0.5.
    fn spectrum(margin: f64) -> InstrumentDefinition {
        InstrumentDefinition {
            key: "s".into(),
            title: "S".into(),
            description: String::new(),
            instructions: None,
            scale: ResponseScale { min: 0, max: 4, labels: vec![] },
            items: vec![
                item("i1", "ind", false),
                item("i2", "ind", true),
                item("d1", "dep", false),
                item("d2", "dep", false),
            ],
            subscales: vec![
                subscale("ind", ScoringMethod::Mean, 0, vec![]),
                subscale("dep", ScoringMethod::Mean, 0, vec![]),
            ],
            classification: Some(Classification::Spectrum {
                independent: "ind".into(),
                dependent: "dep".into(),
                balanced_margin: margin,
            }),
            translations: Default::default(),
        }
    }

    #[test]
    fn spectrum_positions_on_another_scale() {
        // ind: 3 and reversed 1 -> 0+4-1 = 3: mean 3. dep: 2, 3: mean 2.5. d = -0.5.
        let on_margin = answers(&[("i1", 3), ("i2", 1), ("d1", 2), ("d2", 3)]);
        let result = score(&spectrum(0.5), &on_margin).unwrap();
        assert_eq!((result.subscales[0].score, result.subscales[1].score), (3.0, 2.5));
        let class = result.classification.unwrap();
        assert_eq!(class.label, "interdependent", "exactly on the margin is balanced");
        assert_eq!(class.explanation, "dep 2.5 minus ind 3 is -0.5; within +/-0.5 is balanced: interdependent");
        assert_eq!(score(&spectrum(0.4), &on_margin).unwrap().classification.unwrap().label, "leans_independent");
        let dependent = answers(&[("i1", 1), ("i2", 3), ("d1", 4), ("d2", 3)]);
        assert_eq!(score(&spectrum(0.5), &dependent).unwrap().classification.unwrap().label, "leans_dependent");
        // 0 is on this scale; 5 is not.
        let err = score(&spectrum(0.5), &answers(&[("i1", 0), ("i2", 5), ("d1", 0), ("d2", 0)])).unwrap_err();
        assert_eq!(fields(err), vec!["answers[1].value"]);
    }
}
