//! What a client's record holds, which scope reads each part, and which
//! format the caller asked for. Pure: no database, no HTTP types.
//!
//! **The scope rule.** `clients:read` is always needed. Every other family
//! needs the scope that reads it elsewhere in the API. The record is refused
//! (403 naming the first missing scope) unless the token holds the scope of
//! every family asked for; `include` narrows what is asked for. So a
//! "whole record" is never silently partial: either it is whole, or the
//! caller said which parts it wanted and the answer's `included` repeats them.

use crate::auth::Scope;

/// A part of a client's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// The client itself (always included).
    Client,
    /// The relationships the client is a member of.
    Relationships,
    /// Assessments with answers and scores, and drafts saved through links.
    Assessments,
    /// Homework assignments with their pauses, logs and reflections.
    Homework,
    /// The links the client was sent, and what came through each.
    ClientLinks,
    /// The events about the client still in the feed (35 days).
    Events,
    /// The audit entries about the client and its resources.
    Audit,
}

/// The scopes a family needs: all of `all`, or one of `any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    All(&'static [Scope]),
    Any(&'static [Scope]),
}

/// How the record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`, the `ClientRecord` schema: every family.
    Json,
    /// `application/fhir+json`, a FHIR R4 `Bundle` of type `collection`.
    Fhir,
}

impl Family {
    pub const ALL: [Family; 7] = [
        Family::Client,
        Family::Relationships,
        Family::Assessments,
        Family::Homework,
        Family::ClientLinks,
        Family::Events,
        Family::Audit,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Client => "client",
            Family::Relationships => "relationships",
            Family::Assessments => "assessments",
            Family::Homework => "homework",
            Family::ClientLinks => "client_links",
            Family::Events => "events",
            Family::Audit => "audit",
        }
    }

    pub fn parse(value: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|family| family.as_str() == value)
    }

    /// The same scopes that read this data elsewhere in the API. Links are
    /// read by whoever may manage them (as `GET /v1/client-links`); the
    /// audit trail, which names API clients and clinicians, by an admin.
    pub const fn needs(self) -> Needs {
        match self {
            Family::Client | Family::Relationships => Needs::All(&[Scope::ClientsRead]),
            Family::Assessments => Needs::All(&[Scope::AssessmentsRead]),
            Family::Homework => Needs::All(&[Scope::HomeworkRead]),
            Family::ClientLinks => Needs::Any(&[Scope::AssessmentsWrite, Scope::HomeworkWrite]),
            Family::Events => Needs::All(&[Scope::EventsRead]),
            Family::Audit => Needs::All(&[Scope::Admin]),
        }
    }

    /// Whether the FHIR form carries the family: relationships between
    /// clients, events, links and drafts have no FHIR R4 resource that fits
    /// without inventing data, so they are in the JSON form only.
    pub const fn in_fhir(self) -> bool {
        matches!(self, Family::Client | Family::Assessments | Family::Homework | Family::Audit)
    }
}

/// The families asked for: every family of the format unless `include`
/// (comma-separated names) narrows them; the client is always in. An
/// unknown name is the error.
pub fn requested(include: Option<&str>, format: Format) -> Result<Vec<Family>, String> {
    let mut families = vec![Family::Client];
    match include {
        None => families.extend(Family::ALL.into_iter().filter(|f| *f != Family::Client)),
        Some(list) => {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let family = Family::parse(name).ok_or_else(|| name.to_owned())?;
                if !families.contains(&family) {
                    families.push(family);
                }
            }
        }
    }
    if format == Format::Fhir {
        families.retain(|family| family.in_fhir());
    }
    families.sort();
    Ok(families)
}

/// The first scope the token lacks for `families`, if any.
pub fn missing_scope(families: &[Family], held: &[Scope]) -> Option<Scope> {
    families.iter().find_map(|family| match family.needs() {
        Needs::All(scopes) => scopes.iter().find(|scope| !held.contains(scope)).copied(),
        Needs::Any(scopes) => {
            if scopes.iter().any(|scope| held.contains(scope)) {
                None
            } else {
                scopes.first().copied()
            }
        }
    })
}

/// The format `Accept` asks for: FHIR when it names `application/fhir+json`
/// (or `application/json+fhir`, the R3 spelling) with a non-zero quality,
/// JSON otherwise (no header, `*/*`, `application/json`, anything else).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else { return Format::Json };
    let wants_fhir = accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.split_once('=')
                .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("q") && v.trim().parse::<f32>() == Ok(0.0))
        });
        (media == "application/fhir+json" || media == "application/json+fhir") && !refused
    });
    if wants_fhir { Format::Fhir } else { Format::Json }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_unless_narrowed_and_the_client_always() {
        assert_eq!(requested(None, Format::Json), Ok(Family::ALL.to_vec()));
        assert_eq!(
            requested(Some("homework, assessments,homework"), Format::Json),
            Ok(vec![Family::Client, Family::Assessments, Family::Homework])
        );
        assert_eq!(requested(Some(""), Format::Json), Ok(vec![Family::Client]));
        assert_eq!(requested(Some("assessments,notes"), Format::Json), Err("notes".to_owned()));
    }

    #[test]
    fn fhir_asks_only_for_what_it_can_carry() {
        assert_eq!(
            requested(None, Format::Fhir),
            Ok(vec![Family::Client, Family::Assessments, Family::Homework, Family::Audit])
        );
        assert_eq!(requested(Some("events"), Format::Fhir), Ok(vec![Family::Client]));
    }

    #[test]
    fn names_the_first_missing_scope() {
        let reader = [Scope::ClientsRead, Scope::AssessmentsRead];
        let wanted = [Family::Client, Family::Assessments];
        assert_eq!(missing_scope(&wanted, &reader), None);
        assert_eq!(missing_scope(&Family::ALL, &reader), Some(Scope::HomeworkRead));
        assert_eq!(missing_scope(&[Family::Client], &[Scope::Admin]), Some(Scope::ClientsRead));
        // Links: either managing scope will do.
        assert_eq!(missing_scope(&[Family::ClientLinks], &[Scope::HomeworkWrite]), None);
        assert_eq!(missing_scope(&[Family::ClientLinks], &reader), Some(Scope::AssessmentsWrite));
    }

    #[test]
    fn negotiates_fhir_only_when_asked_for() {
        assert_eq!(negotiate(None), Format::Json);
        assert_eq!(negotiate(Some("*/*")), Format::Json);
        assert_eq!(negotiate(Some("application/json")), Format::Json);
        assert_eq!(negotiate(Some("application/fhir+json")), Format::Fhir);
        assert_eq!(negotiate(Some("application/json;q=0.5, application/FHIR+json")), Format::Fhir);
        assert_eq!(negotiate(Some("application/fhir+json;q=0")), Format::Json);
        assert_eq!(negotiate(Some("application/json+fhir; q=0.8")), Format::Fhir);
    }
}
