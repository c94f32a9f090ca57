//! The instrument definition format: a questionnaire as data. Practices
//! register their own; the built-in ones live in `catalog/`. Validation names
//! every field at fault.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::translation::InstrumentTranslation;
use crate::http::FieldError;
use crate::i18n::Language;
use crate::keys::is_key;
use crate::text::{blank_or_longer, longer_than};

/// The answer scale shared by every item: integers `min..=max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseScale {
    pub min: i32,
    pub max: i32,
    /// A label for each value that has one (e.g. 1 = "Strongly disagree").
    #[serde(default)]
    pub labels: Vec<ScaleLabel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleLabel {
    pub value: i32,
    pub label: String,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id; answers name items by it.
    #[schema(min_length = 1, max_length = 64)]
    pub id: String,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub text: String,
    /// The key of the subscale the item counts toward.
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub subscale: String,
    /// Reverse-keyed: scored as `min + max - answer`.
    #[serde(default)]
    pub reverse: bool,
}

/// How a subscale's items combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoringMethod {
    /// The mean of the answered items.
    Mean,
    /// The sum, prorated for tolerated missing items: `raw x items / answered`.
    Sum,
}

/// Which way is better, for reading change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// An interpretation range of subscale scores, inclusive at both ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub min: f64,
    pub max: f64,
    #[schema(pattern = r"\S")]
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReliabilityKind {
    CronbachAlpha,
    TestRetest,
}

/// Published norms that make change statistics meaningful.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Norms {
    /// Reference standard deviation of the subscale score.
    #[schema(exclusive_minimum = 0)]
    pub sd: f64,
    /// Reliability coefficient, strictly between 0 and 1.
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1)]
    pub reliability: f64,
    pub reliability_kind: ReliabilityKind,
    pub clinical_mean: Option<f64>,
    #[schema(exclusive_minimum = 0)]
    pub clinical_sd: Option<f64>,
    pub normal_mean: Option<f64>,
    #[schema(exclusive_minimum = 0)]
    pub normal_sd: Option<f64>,
    /// Where the norms come from (a citation).
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscale {
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub key: String,
    pub title: String,
    pub method: ScoringMethod,
    /// How many of its items may go unanswered (default 0).
    #[serde(default)]
    pub max_missing: u32,
    pub direction: Direction,
    #[serde(default)]
    pub bands: Vec<Band>,
    pub norms: Option<Norms>,
}

/// How subscale scores become one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Classification {
    /// Two dimensions each compared with a cut-off (a score equal to the
    /// cut-off counts as high): `secure` (both low), `anxious` (anxiety
    /// high), `avoidant` (avoidance high), `fearful` (both high).
    Quadrant {
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        anxiety: String,
        anxiety_cutoff: f64,
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        avoidance: String,
        avoidance_cutoff: f64,
    },
    /// A position between two opposing subscales: with
    /// `d = dependent - independent`, `|d| <= balanced_margin` is
    /// `interdependent`, below it `leans_independent`, above `leans_dependent`.
    Spectrum {
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        independent: String,
        #[schema(pattern = "^[a-z0-9_]{1,64}$")]
        dependent: String,
        #[schema(minimum = 0)]
        balanced_margin: f64,
    },
}

/// A questionnaire: scale, items, subscales and an optional classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentDefinition {
    /// Stable key (lowercase letters, digits, `_`); a new registration under
    /// an existing key is its next version.
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// For the clinician: what the instrument measures and how to read it.
    #[schema(max_length = 2000)]
    pub description: String,
    /// For the client: what to do, shown above the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub instructions: Option<String>,
    pub scale: ResponseScale,
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<Item>,
    #[schema(min_items = 1, max_items = 50)]
    pub subscales: Vec<Subscale>,
    pub classification: Option<Classification>,
    /// The instrument's text in other languages (`es`, ...); clients see it
    /// in their language where a translation has it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<Language, InstrumentTranslation>,
}

const MAX_ITEMS: usize = 500;
const MAX_SUBSCALES: usize = 50;
const MAX_TEXT: usize = 2000;

impl Subscale {
    /// The label of the band `score` falls in, if any.
    pub fn band_of(&self, score: f64) -> Option<&str> {
        self.bands.iter().find(|band| band.min <= score && score <= band.max).map(|band| band.label.as_str())
    }

    /// The range a score of this subscale can take with `items` items.
    pub fn score_range(&self, scale: &ResponseScale, items: usize) -> (f64, f64) {
        let (min, max) = (f64::from(scale.min), f64::from(scale.max));
        match self.method {
            ScoringMethod::Mean => (min, max),
            ScoringMethod::Sum => (min * items as f64, max * items as f64),
        }
    }
}

impl InstrumentDefinition {
    pub fn items_of<'a>(&'a self, subscale: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |item| item.subscale == subscale)
    }

    /// Every rule a definition must keep, each failure naming its field.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut fail = |field: String, message: &str| errors.push(FieldError::new(field, message));
        if !is_key(&self.key) {
            fail("key".into(), "must be 1 to 64 lowercase letters, digits or underscores");
        }
        if blank_or_longer(&self.title, 200) {
            fail("title".into(), "must be 1 to 200 characters");
        }
        if longer_than(&self.description, MAX_TEXT) {
            fail("description".into(), "must be at most 2000 characters");
        }
        if self.instructions.as_deref().is_some_and(|text| blank_or_longer(text, MAX_TEXT)) {
            fail("instructions".into(), "must be 1 to 2000 characters");
        }
        if self.scale.min >= self.scale.max {
            fail("scale.max".into(), "must be greater than scale.min");
        }
        for (i, label) in self.scale.labels.iter().enumerate() {
            if label.value < self.scale.min || label.value > self.scale.max {
                fail(format!("scale.labels[{i}].value"), "must lie on the scale");
            }
        }
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            fail("items".into(), "must hold 1 to 500 items");
        }
        if self.subscales.is_empty() || self.subscales.len() > MAX_SUBSCALES {
            fail("subscales".into(), "must hold 1 to 50 subscales");
        }
        let subscale_keys: HashSet<&str> = self.subscales.iter().map(|s| s.key.as_str()).collect();
        let mut item_ids = HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            if item.id.is_empty() || longer_than(&item.id, 64) {
                fail(format!("items[{i}].id"), "must be 1 to 64 characters");
            }
            if !item_ids.insert(item.id.as_str()) {
                fail(format!("items[{i}].id"), "duplicates another item's id");
            }
            if blank_or_longer(&item.text, MAX_TEXT) {
                fail(format!("items[{i}].text"), "must be 1 to 2000 characters");
            }
            if !subscale_keys.contains(item.subscale.as_str()) {
                fail(format!("items[{i}].subscale"), "names no subscale of this instrument");
            }
        }
        let mut seen_keys = HashSet::new();
        for (s, subscale) in self.subscales.iter().enumerate() {
            let at = |field: &str| format!("subscales[{s}].{field}");
            if !is_key(&subscale.key) {
                fail(at("key"), "must be 1 to 64 lowercase letters, digits or underscores");
            }
            if !seen_keys.insert(subscale.key.as_str()) {
                fail(at("key"), "duplicates another subscale's key");
            }
            let items = self.items_of(&subscale.key).count();
            if items == 0 {
                fail(at("key"), "no item belongs to this subscale");
            } else if subscale.max_missing as usize >= items {
                fail(at("max_missing"), "must leave at least one item to answer");
            }
            let (low, high) = subscale.score_range(&self.scale, items);
            let mut bands: Vec<(usize, &Band)> = subscale.bands.iter().enumerate().collect();
            bands.sort_by(|a, b| a.1.min.total_cmp(&b.1.min));
            for (b, band) in subscale.bands.iter().enumerate() {
                if band.min.is_nan() || band.max.is_nan() || band.min > band.max || band.min < low || band.max > high {
                    fail(at(&format!("bands[{b}]")), "must satisfy min <= max within the subscale's score range");
                }
                if crate::text::is_blank(&band.label) {
                    fail(at(&format!("bands[{b}].label")), "must not be blank");
                }
            }
            for pair in bands.windows(2) {
                if pair[1].1.min <= pair[0].1.max {
                    fail(at(&format!("bands[{}]", pair[1].0)), "overlaps another band");
                }
            }
            if let Some(norms) = &subscale.norms {
                if norms.sd.is_nan() || norms.sd <= 0.0 {
                    fail(at("norms.sd"), "must be positive");
                }
                if norms.reliability.is_nan() || norms.reliability <= 0.0 || norms.reliability >= 1.0 {
                    fail(at("norms.reliability"), "must lie strictly between 0 and 1");
                }
                for (name, sd) in [("clinical_sd", norms.clinical_sd), ("normal_sd", norms.normal_sd)] {
                    if sd.is_some_and(|sd| sd.is_nan() || sd <= 0.0) {
                        fail(at(&format!("norms.{name}")), "must be positive");
                    }
                }
                if norms.clinical_mean.is_some() != norms.clinical_sd.is_some() {
                    fail(at("norms.clinical_sd"), "give the clinical mean and sd together");
                }
                if norms.normal_mean.is_some() != norms.normal_sd.is_some() {
                    fail(at("norms.normal_sd"), "give the non-clinical mean and sd together");
                }
            }
        }
        match &self.classification {
            Some(Classification::Quadrant { anxiety, avoidance, .. }) => {
                for (field, key) in [("anxiety", anxiety), ("avoidance", avoidance)] {
                    if !subscale_keys.contains(key.as_str()) {
                        fail(format!("classification.{field}"), "names no subscale of this instrument");
                    }
                }
                if anxiety == avoidance {
                    fail("classification.avoidance".into(), "must differ from classification.anxiety");
                }
            }
            Some(Classification::Spectrum { independent, dependent, balanced_margin }) => {
                for (field, key) in [("independent", independent), ("dependent", dependent)] {
                    if !subscale_keys.contains(key.as_str()) {
                        fail(format!("classification.{field}"), "names no subscale of this instrument");
                    }
                }
                if independent == dependent {
                    fail("classification.dependent".into(), "must differ from classification.independent");
                }
                if balanced_margin.is_nan() || *balanced_margin < 0.0 {
                    fail("classification.balanced_margin".into(), "must be zero or more");
                }
            }
            None => {}
        }
        errors.extend(super::translation::validate(self));
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> InstrumentDefinition {
        serde_json::from_value(serde_json::json!({
            "key": "demo",
            "title": "Demo",
            "description": "",
            "scale": {"min": 1, "max": 5, "labels": [{"value": 1, "label": "Never"}]},
            "items": [
                {"id": "a1", "text": "One", "subscale": "a"},
                {"id": "a2", "text": "Two", "subscale": "a", "reverse": true},
                {"id": "b1", "text": "Three", "subscale": "b"}
            ],
            "subscales": [
                {"key": "a", "title": "A", "method": "sum", "max_missing": 1, "direction": "lower_is_better",
                 "bands": [{"min": 2, "max": 5, "label": "low"}, {"min": 6, "max": 10, "label": "high"}],
                 "norms": {"sd": 1.5, "reliability": 0.8, "reliability_kind": "cronbach_alpha",
                           "clinical_mean": 7.0, "clinical_sd": 2.0, "normal_mean": null, "normal_sd": null, "source": null}},
                {"key": "b", "title": "B", "method": "mean", "direction": "higher_is_better", "norms": null}
            ],
            "classification": {"kind": "quadrant", "anxiety": "a", "anxiety_cutoff": 3, "avoidance": "b", "avoidance_cutoff": 3}
        }))
        .unwrap()
    }

    fn fields_after(change: impl FnOnce(&mut InstrumentDefinition)) -> Vec<String> {
        let mut definition = valid();
        change(&mut definition);
        definition.validate().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_definition_passes() {
        assert!(valid().validate().is_empty(), "{:?}", valid().validate());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        assert_eq!(fields_after(|d| d.items[1].id = "a1".into()), vec!["items[1].id"]);
        assert_eq!(fields_after(|d| d.items[2].subscale = "zz".into()), vec!["items[2].subscale", "subscales[1].key"]);
        assert_eq!(fields_after(|d| d.scale.max = 1).first().map(String::as_str), Some("scale.max"));
        assert_eq!(fields_after(|d| d.subscales[0].bands[1].min = 5.0), vec!["subscales[0].bands[1]"]);
        assert_eq!(fields_after(|d| d.subscales[0].bands[1].max = 11.0), vec!["subscales[0].bands[1]"]);
        assert_eq!(
            fields_after(|d| d.subscales[0].norms.as_mut().unwrap().reliability = 1.0),
            vec!["subscales[0].norms.reliability"]
        );
        assert_eq!(fields_after(|d| d.subscales[0].norms.as_mut().unwrap().sd = 0.0), vec!["subscales[0].norms.sd"]);
        assert_eq!(
            fields_after(|d| d.subscales[0].norms.as_mut().unwrap().clinical_sd = Some(-1.0)),
            vec!["subscales[0].norms.clinical_sd"]
        );
        assert_eq!(fields_after(|d| d.subscales[0].max_missing = 2), vec!["subscales[0].max_missing"]);
        assert_eq!(fields_after(|d| d.key = "Bad Key".into()), vec!["key"]);
        assert_eq!(
            fields_after(|d| {
                d.classification = Some(Classification::Spectrum {
                    independent: "a".into(),
                    dependent: "nope".into(),
                    balanced_margin: 0.5,
                })
            }),
            vec!["classification.dependent"]
        );
    }

    #[test]
    fn an_empty_subscale_is_refused() {
        let fields = fields_after(|d| {
            d.subscales.push(Subscale {
                key: "c".into(),
                title: "C".into(),
                method: ScoringMethod::Mean,
                max_missing: 0,
                direction: Direction::LowerIsBetter,
                bands: vec![],
                norms: None,
            })
        });
        assert_eq!(fields, vec!["subscales[2].key"]);
    }
}
