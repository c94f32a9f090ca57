//! OAuth scopes, and the marker types that make a handler's required scope
//! part of its signature (`Auth<ClientsRead>`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A permission an API client can be granted and a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "clients:read")]
    ClientsRead,
    #[serde(rename = "clients:write")]
    ClientsWrite,
    #[serde(rename = "assessments:read")]
    AssessmentsRead,
    #[serde(rename = "assessments:write")]
    AssessmentsWrite,
    #[serde(rename = "homework:read")]
    HomeworkRead,
    #[serde(rename = "homework:write")]
    HomeworkWrite,
    #[serde(rename = "progress:read")]
    ProgressRead,
    #[serde(rename = "events:read")]
    EventsRead,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::ClientsRead,
        Scope::ClientsWrite,
        Scope::AssessmentsRead,
        Scope::AssessmentsWrite,
        Scope::HomeworkRead,
        Scope::HomeworkWrite,
        Scope::ProgressRead,
        Scope::EventsRead,
        Scope::AuditRead,
        Scope::Admin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::ClientsRead => "clients:read",
            Scope::ClientsWrite => "clients:write",
            Scope::AssessmentsRead => "assessments:read",
            Scope::AssessmentsWrite => "assessments:write",
            Scope::HomeworkRead => "homework:read",
            Scope::HomeworkWrite => "homework:write",
            Scope::ProgressRead => "progress:read",
            Scope::EventsRead => "events:read",
            Scope::AuditRead => "audit:read",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token holding `self` may do what `needed` allows: a scope
    /// allows itself, and `admin` also allows reading the audit trail (an
    /// administrator answers for the practice's records).
    pub fn allows(self, needed: Scope) -> bool {
        self == needed || (self == Scope::Admin && needed == Scope::AuditRead)
    }

    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == value)
    }

    /// Parses a space-separated scope string (RFC 6749 3.3); unknown names are
    /// returned as the error.
    pub fn parse_list(value: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for name in value.split(' ').filter(|s| !s.is_empty()) {
            let scope = Scope::parse(name).ok_or_else(|| name.to_owned())?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(scopes)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

/// The scope a handler requires, named by a marker type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($marker:ident => $scope:ident),* $(,)?) => {
        $(
            #[doc = concat!("Requires the `", stringify!($scope), "` scope.")]
            pub struct $marker;
            impl RequiredScope for $marker {
                const SCOPE: Scope = Scope::$scope;
            }
        )*
    };
}

scope_markers! {
    ClientsRead => ClientsRead,
    ClientsWrite => ClientsWrite,
    AssessmentsRead => AssessmentsRead,
    AssessmentsWrite => AssessmentsWrite,
    HomeworkRead => HomeworkRead,
    HomeworkWrite => HomeworkWrite,
    ProgressRead => ProgressRead,
    EventsRead => EventsRead,
    AuditRead => AuditRead,
    Admin => Admin,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_joins_scope_lists() {
        let scopes = Scope::parse_list("clients:write  admin clients:write").unwrap_or_default();
        assert_eq!(scopes, vec![Scope::ClientsWrite, Scope::Admin]);
        assert_eq!(Scope::join(&scopes), "clients:write admin");
        assert_eq!(Scope::parse_list("clients:read bogus"), Err("bogus".to_owned()));
    }

    #[test]
    fn serde_names_match_wire_names() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
    }
}
