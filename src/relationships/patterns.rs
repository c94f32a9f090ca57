//! Patterns across partners' leans, pure. A lean is read from each latest
//! classification: `anxious` and `leans_dependent` lean toward dependence,
//! `avoidant` and `leans_independent` toward independence; `secure`,
//! `interdependent` and `fearful` lean neither way.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    /// One partner leans anxious or dependent, the other avoidant or
    /// independent: one pursues closeness, the other withdraws.
    PursueWithdraw,
    /// Both lean avoidant or independent.
    BothLeaningIndependent,
    /// Both lean anxious or dependent.
    BothLeaningDependent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Independent,
    Dependent,
}

fn side(label: &str) -> Option<Side> {
    match label {
        "avoidant" | "leans_independent" => Some(Side::Independent),
        "anxious" | "leans_dependent" => Some(Side::Dependent),
        _ => None,
    }
}

/// One member: the client and the labels of their latest results.
pub struct MemberLabels<'a> {
    pub client_id: Uuid,
    pub labels: Vec<&'a str>,
}

/// A pattern found, with the labels behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: PatternKind,
    pub client_ids: [Uuid; 2],
    pub explanation: String,
}

fn labels_on<'a>(member: &MemberLabels<'a>, wanted: Side) -> Vec<&'a str> {
    member.labels.iter().copied().filter(|label| side(label) == Some(wanted)).collect()
}

/// Every pattern between each pair of members.
pub fn find(members: &[MemberLabels<'_>]) -> Vec<Found> {
    let mut found = Vec::new();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            let (a_dep, a_ind) = (labels_on(a, Side::Dependent), labels_on(a, Side::Independent));
            let (b_dep, b_ind) = (labels_on(b, Side::Dependent), labels_on(b, Side::Independent));
            let pair = [a.client_id, b.client_id];
            let describe = |x: &[&str], y: &[&str]| format!("{} and {}", x.join(", "), y.join(", "));
            if !a_dep.is_empty() && !b_ind.is_empty() {
                found.push(Found {
                    kind: PatternKind::PursueWithdraw,
                    client_ids: pair,
                    explanation: format!("pursuing ({}) with withdrawing ({})", a_dep.join(", "), b_ind.join(", ")),
                });
            } else if !a_ind.is_empty() && !b_dep.is_empty() {
                found.push(Found {
                    kind: PatternKind::PursueWithdraw,
                    client_ids: [b.client_id, a.client_id],
                    explanation: format!("pursuing ({}) with withdrawing ({})", b_dep.join(", "), a_ind.join(", ")),
                });
            }
            if !a_ind.is_empty() && !b_ind.is_empty() {
                found.push(Found {
                    kind: PatternKind::BothLeaningIndependent,
                    client_ids: pair,
                    explanation: format!("both lean independent: {}", describe(&a_ind, &b_ind)),
                });
            }
            if !a_dep.is_empty() && !b_dep.is_empty() {
                found.push(Found {
                    kind: PatternKind::BothLeaningDependent,
                    client_ids: pair,
                    explanation: format!("both lean dependent: {}", describe(&a_dep, &b_dep)),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(n: u128, labels: &[&'static str]) -> MemberLabels<'static> {
        MemberLabels { client_id: Uuid::from_u128(n), labels: labels.to_vec() }
    }

    fn kinds(found: &[Found]) -> Vec<PatternKind> {
        found.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn anxious_with_avoidant_is_pursue_withdraw_pursuer_first() {
        let found = find(&[member(1, &["avoidant", "leans_independent"]), member(2, &["anxious", "leans_dependent"])]);
        assert_eq!(kinds(&found), vec![PatternKind::PursueWithdraw]);
        assert_eq!(found[0].client_ids, [Uuid::from_u128(2), Uuid::from_u128(1)]);
        assert_eq!(
            found[0].explanation,
            "pursuing (anxious, leans_dependent) with withdrawing (avoidant, leans_independent)"
        );
    }

    #[test]
    fn spectrum_labels_alone_are_enough() {
        let found = find(&[member(1, &["leans_dependent"]), member(2, &["leans_independent"])]);
        assert_eq!(kinds(&found), vec![PatternKind::PursueWithdraw]);
        assert_eq!(found[0].client_ids, [Uuid::from_u128(1), Uuid::from_u128(2)]);
    }

    #[test]
    fn same_side_pairs() {
        let independent = find(&[member(1, &["avoidant"]), member(2, &["leans_independent"])]);
        assert_eq!(kinds(&independent), vec![PatternKind::BothLeaningIndependent]);
        assert_eq!(independent[0].explanation, "both lean independent: avoidant and leans_independent");
        let dependent = find(&[member(1, &["anxious"]), member(2, &["anxious", "interdependent"])]);
        assert_eq!(kinds(&dependent), vec![PatternKind::BothLeaningDependent]);
    }

    #[test]
    fn secure_interdependent_fearful_or_missing_make_no_pattern() {
        assert!(find(&[member(1, &["secure", "interdependent"]), member(2, &["anxious"])]).is_empty());
        assert!(find(&[member(1, &["fearful"]), member(2, &["avoidant"])]).is_empty());
        assert!(find(&[member(1, &[]), member(2, &["avoidant"])]).is_empty());
    }

    #[test]
    fn every_pair_of_a_larger_group() {
        let found = find(&[member(1, &["anxious"]), member(2, &["avoidant"]), member(3, &["avoidant"])]);
        assert_eq!(
            kinds(&found),
            vec![PatternKind::PursueWithdraw, PatternKind::PursueWithdraw, PatternKind::BothLeaningIndependent]
        );
    }
}
