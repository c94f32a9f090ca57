//! Which recommendation rules a client's latest results meet. Pure.

use super::definition::{ExerciseDefinition, RecommendationRule};
use crate::instruments::scoring::ScoreResult;

/// A client's latest completed result of one instrument.
pub struct LatestResult<'a> {
    pub instrument_key: &'a str,
    pub result: &'a ScoreResult,
}

/// One line per rule the results meet, saying which score or label met it.
pub fn reasons(exercise: &ExerciseDefinition, results: &[LatestResult<'_>]) -> Vec<String> {
    exercise.recommend_when.iter().filter_map(|rule| reason(rule, results)).collect()
}

fn reason(rule: &RecommendationRule, results: &[LatestResult<'_>]) -> Option<String> {
    let result_of = |key: &str| results.iter().find(|r| r.instrument_key == key).map(|r| r.result);
    let score_of = |instrument: &str, subscale: &str| {
        result_of(instrument)?.subscales.iter().find(|s| s.key == subscale).map(|s| s.score)
    };
    match rule {
        RecommendationRule::SubscaleAtLeast { instrument, subscale, at_least } => {
            let score = score_of(instrument, subscale)?;
            (score >= *at_least).then(|| format!("{instrument} {subscale} {} >= {at_least}", round2(score)))
        }
        RecommendationRule::SubscaleAtMost { instrument, subscale, at_most } => {
            let score = score_of(instrument, subscale)?;
            (score <= *at_most).then(|| format!("{instrument} {subscale} {} <= {at_most}", round2(score)))
        }
        RecommendationRule::ClassificationIs { instrument, label } => {
            let classification = result_of(instrument)?.classification.as_ref()?;
            (&classification.label == label).then(|| format!("{instrument} classification is {label}"))
        }
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercises::definition::Target;
    use crate::instruments::scoring::{ClassificationResult, SubscaleScore};

    fn exercise(rules: Vec<RecommendationRule>) -> ExerciseDefinition {
        ExerciseDefinition {
            key: "e".into(),
            title: "E".into(),
            summary: "S".into(),
            instructions: vec!["do".into()],
            target: Target::Both,
            suggested_cadence_per_week: 1,
            log_fields: vec![],
            recommend_when: rules,
            translations: Default::default(),
        }
    }

    fn result(score: f64, label: &str) -> ScoreResult {
        ScoreResult {
            subscales: vec![SubscaleScore {
                key: "sub".into(),
                score,
                raw: score,
                answered: 1,
                missing: 0,
                band: None,
            }],
            classification: Some(ClassificationResult { label: label.into(), explanation: String::new() }),
        }
    }

    #[test]
    fn thresholds_are_inclusive_and_labels_exact() {
        let rules = vec![
            RecommendationRule::SubscaleAtLeast { instrument: "i".into(), subscale: "sub".into(), at_least: 5.0 },
            RecommendationRule::SubscaleAtMost { instrument: "i".into(), subscale: "sub".into(), at_most: 5.0 },
            RecommendationRule::ClassificationIs { instrument: "i".into(), label: "anxious".into() },
        ];
        let on_threshold = result(5.0, "anxious");
        let found = reasons(&exercise(rules.clone()), &[LatestResult { instrument_key: "i", result: &on_threshold }]);
        assert_eq!(found, vec!["i sub 5 >= 5", "i sub 5 <= 5", "i classification is anxious"]);
        let above = result(5.01, "secure");
        let found = reasons(&exercise(rules.clone()), &[LatestResult { instrument_key: "i", result: &above }]);
        assert_eq!(found, vec!["i sub 5.01 >= 5"]);
        // Another instrument's results meet nothing.
        assert!(reasons(&exercise(rules), &[LatestResult { instrument_key: "other", result: &above }]).is_empty());
    }
}
