//! The built-in instruments and exercises, embedded from `catalog/` and
//! loaded into the database when the service starts. Written by this
//! project; a changed definition becomes its next version.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::de::DeserializeOwned;

use crate::exercises::definition::ExerciseDefinition;
use crate::http::FieldError;
use crate::instruments::definition::InstrumentDefinition;

macro_rules! embed {
    ($dir:literal: $($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../catalog/", $dir, "/", $name)))),*]
    };
}

const INSTRUMENTS: [(&str, &str); 2] =
    embed!("instruments": "interdependence_balance.json", "attachment_lean_short_form.json");

const EXERCISES: [(&str, &str); 8] = embed!("exercises":
    "ask_for_small_help.json",
    "delight_in_solo_time.json",
    "time_with_friends.json",
    "build_a_fuller_life.json",
    "weekly_check_in.json",
    "active_listening.json",
    "needs_as_requests.json",
    "reliance_check.json",
);

fn parse<T: DeserializeOwned>(
    dir: &str,
    files: &[(&str, &str)],
    validate: impl Fn(&T) -> Vec<FieldError>,
) -> anyhow::Result<Vec<T>> {
    files
        .iter()
        .map(|(name, json)| {
            let definition: T = serde_json::from_str(json).map_err(|e| anyhow::anyhow!("catalog/{dir}/{name}: {e}"))?;
            if let Some(first) = validate(&definition).first() {
                anyhow::bail!("catalog/{dir}/{name}: {}: {}", first.field, first.message);
            }
            Ok(definition)
        })
        .collect()
}

pub fn builtin_instruments() -> anyhow::Result<Vec<InstrumentDefinition>> {
    parse("instruments", &INSTRUMENTS, InstrumentDefinition::validate)
}

pub fn builtin_exercises() -> anyhow::Result<Vec<ExerciseDefinition>> {
    parse("exercises", &EXERCISES, ExerciseDefinition::validate)
}

/// Stores any built-in definition that is new or changed.
pub async fn load(database_url: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    for definition in builtin_instruments()? {
        crate::instruments::store::ensure_builtin(&mut conn, &definition).await?;
    }
    for definition in builtin_exercises()? {
        crate::exercises::store::ensure_builtin(&mut conn, &definition).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exercises::definition::{LogFieldKind, RecommendationRule, Target};

    #[test]
    fn the_builtin_instruments_are_valid_and_carry_no_norms() {
        let instruments = builtin_instruments().unwrap();
        assert_eq!(instruments.len(), 2);
        for instrument in &instruments {
            assert!(instrument.description.contains("screening and conversation aid"), "{}", instrument.key);
            for subscale in &instrument.subscales {
                assert!(subscale.norms.is_none(), "{} invents norms", instrument.key);
                let items: Vec<_> = instrument.items_of(&subscale.key).collect();
                assert!(items.len() >= 6, "{}.{} has too few items", instrument.key, subscale.key);
                assert!(items.iter().any(|i| i.reverse), "{}.{} has no reverse item", instrument.key, subscale.key);
            }
        }
    }

    /// Every rule names a built-in instrument, one of its subscales, and a
    /// label its classification can produce.
    #[test]
    fn the_builtin_exercises_are_valid_and_their_rules_resolve() {
        let instruments = builtin_instruments().unwrap();
        let exercises = builtin_exercises().unwrap();
        assert_eq!(exercises.len(), 8);
        let labels =
            ["secure", "anxious", "avoidant", "fearful", "leans_independent", "interdependent", "leans_dependent"];
        for exercise in &exercises {
            assert!(!exercise.log_fields.is_empty(), "{} logs nothing", exercise.key);
            assert!(!exercise.recommend_when.is_empty(), "{} is never recommended", exercise.key);
            for rule in &exercise.recommend_when {
                let (instrument, subscale, label) = match rule {
                    RecommendationRule::SubscaleAtLeast { instrument, subscale, .. }
                    | RecommendationRule::SubscaleAtMost { instrument, subscale, .. } => {
                        (instrument, Some(subscale), None)
                    }
                    RecommendationRule::ClassificationIs { instrument, label } => (instrument, None, Some(label)),
                };
                let found = instruments.iter().find(|i| &i.key == instrument).unwrap();
                if let Some(subscale) = subscale {
                    assert!(found.subscales.iter().any(|s| &s.key == subscale), "{}: {subscale}", exercise.key);
                }
                if let Some(label) = label {
                    assert!(labels.contains(&label.as_str()), "{}: {label}", exercise.key);
                }
            }
        }
        let keys: Vec<&str> = exercises.iter().map(|e| e.key.as_str()).collect();
        for required in ["ask_for_small_help", "delight_in_solo_time", "weekly_check_in", "reliance_check"] {
            assert!(keys.contains(&required));
        }
        let reliance = exercises.iter().find(|e| e.key == "reliance_check").unwrap();
        assert_eq!(reliance.target, Target::Both);
        assert!(reliance.log_fields.iter().any(|f| matches!(&f.kind, LogFieldKind::Choice { options }
            if options == &["rely_fully", "keep_plan_b_ready", "plan_b_first"])));
    }
}
