//! Subscale statistics over a practice's administrations, pure.

use std::collections::HashMap;

use super::model::SubscaleStatistics;
use crate::instruments::definition::InstrumentDefinition;
use crate::instruments::scoring::{self, Answer};
use crate::progress::stats::{cronbach_alpha, mean_sd};

/// Administrations needed before statistics are reported.
pub const MINIMUM_N: u32 = 30;

/// Per subscale: n, mean and sd of the scores, and Cronbach's alpha over the
/// administrations that answered every item (reverse keying applied).
/// Nothing but `n` is reported below `minimum_n`.
pub fn subscale_statistics(
    definition: &InstrumentDefinition,
    administrations: &[Vec<Answer>],
    minimum_n: u32,
) -> Vec<SubscaleStatistics> {
    let (low, high) = (f64::from(definition.scale.min), f64::from(definition.scale.max));
    let mut scores: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut complete_rows: HashMap<&str, Vec<Vec<f64>>> = HashMap::new();
    for answers in administrations {
        // Stored answers were valid when scored; one that no longer scores is skipped.
        let Ok(result) = scoring::score(definition, answers) else { continue };
        for score in &result.subscales {
            if let Some(subscale) = definition.subscales.iter().find(|s| s.key == score.key) {
                scores.entry(subscale.key.as_str()).or_default().push(score.score);
            }
        }
        let given: HashMap<&str, i64> = answers.iter().map(|a| (a.item_id.as_str(), a.value)).collect();
        for subscale in &definition.subscales {
            let row: Option<Vec<f64>> = definition
                .items_of(&subscale.key)
                .map(|item| {
                    let value = *given.get(item.id.as_str())? as f64;
                    Some(if item.reverse { low + high - value } else { value })
                })
                .collect();
            if let Some(row) = row {
                complete_rows.entry(subscale.key.as_str()).or_default().push(row);
            }
        }
    }
    definition
        .subscales
        .iter()
        .map(|subscale| {
            let values = scores.get(subscale.key.as_str()).map_or(&[][..], Vec::as_slice);
            let rows = complete_rows.get(subscale.key.as_str()).map_or(&[][..], Vec::as_slice);
            let n = values.len() as u32;
            let mut statistics = SubscaleStatistics {
                key: subscale.key.clone(),
                n,
                mean: None,
                sd: None,
                alpha: None,
                complete_n: rows.len() as u32,
                has_published_norms: subscale.norms.is_some(),
                reason: None,
            };
            if n < minimum_n {
                statistics.reason =
                    Some(format!("n = {n}: statistics are reported from {minimum_n} completed administrations"));
                return statistics;
            }
            if let Some((mean, sd)) = mean_sd(values) {
                statistics.mean = Some(mean);
                statistics.sd = Some(sd);
            }
            statistics.alpha = cronbach_alpha(rows);
            if statistics.alpha.is_none() {
                statistics.reason = Some(if definition.items_of(&subscale.key).count() < 2 {
                    "alpha needs at least two items".to_owned()
                } else {
                    "alpha is undefined: the totals do not vary".to_owned()
                });
            }
            statistics
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::definition::{Direction, Item, ResponseScale, ScoringMethod, Subscale};

    fn definition() -> InstrumentDefinition {
        let item = |id: &str, subscale: &str, reverse: bool| Item {
            id: id.into(),
            text: "Item".into(),
            subscale: subscale.into(),
            reverse,
        };
        let subscale = |key: &str| Subscale {
            key: key.into(),
            title: key.into(),
            method: ScoringMethod::Sum,
            max_missing: 0,
            direction: Direction::LowerIsBetter,
            bands: vec![],
            norms: None,
        };
        InstrumentDefinition {
            key: "t".into(),
            title: "T".into(),
            description: String::new(),
            instructions: None,
            scale: ResponseScale { min: 1, max: 5, labels: vec![] },
            items: vec![item("a", "pair", false), item("b", "pair", true), item("c", "single", false)],
            subscales: vec![subscale("pair"), subscale("single")],
            classification: None,
            translations: Default::default(),
        }
    }

    fn answers(a: i64, b: i64, c: i64) -> Vec<Answer> {
        [("a", a), ("b", b), ("c", c)].iter().map(|(id, v)| Answer { item_id: (*id).into(), value: *v }).collect()
    }

    #[test]
    fn mean_sd_and_alpha_by_hand() {
        // b is reverse-keyed on 1..5 (6 - b). Keyed pairs (1,2) (2,3) (3,3):
        // alpha 6/7 (worked in progress::stats). Pair sums 3, 5, 6: mean 14/3,
        // sd sqrt(7/3). Single item 2, 2, 5: mean 3, sd sqrt(3).
        let administrations = vec![answers(1, 4, 2), answers(2, 3, 2), answers(3, 3, 5)];
        let stats = subscale_statistics(&definition(), &administrations, 3);
        let pair = &stats[0];
        assert_eq!((pair.key.as_str(), pair.n, pair.complete_n), ("pair", 3, 3));
        assert!((pair.mean.unwrap_or_default() - 14.0 / 3.0).abs() < 1e-9);
        assert!((pair.sd.unwrap_or_default() - (7.0_f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!((pair.alpha.unwrap_or_default() - 6.0 / 7.0).abs() < 1e-9);
        assert_eq!(pair.reason, None);
        let single = &stats[1];
        assert!((single.sd.unwrap_or_default() - 3.0_f64.sqrt()).abs() < 1e-9);
        assert_eq!(single.alpha, None);
        assert_eq!(single.reason.as_deref(), Some("alpha needs at least two items"));
    }

    #[test]
    fn below_the_minimum_only_n_is_reported() {
        let stats = subscale_statistics(&definition(), &[answers(1, 4, 2), answers(2, 3, 2)], 3);
        assert_eq!(stats[0].n, 2);
        assert_eq!((stats[0].mean, stats[0].sd, stats[0].alpha), (None, None, None));
        assert_eq!(stats[0].reason.as_deref(), Some("n = 2: statistics are reported from 3 completed administrations"));
    }
}
