//! Clients API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError, ValidationErrors};

use super::store::ClientRow;
use crate::http::ApiError;
use crate::http::json::double_option;
use crate::http::pagination::Cursor;

/// Whether the practice is currently treating the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    #[default]
    Active,
    Discharged,
}

impl ClientStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Active => "active",
            ClientStatus::Discharged => "discharged",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "active" => Some(ClientStatus::Active),
            "discharged" => Some(ClientStatus::Discharged),
            _ => None,
        }
    }
}

/// A person the practice treats. Holds no clinical content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "external_id": "patient-1042",
    "display_name": "Alex R.",
    "status": "active",
    "created_at": "2026-11-22T09:30:00Z",
    "updated_at": "2026-11-22T09:30:00Z",
    "archived_at": null,
    "discharged_at": null,
    "legal_hold": false,
    "erasure_scheduled_for": null
}))]
pub struct Client {
    pub id: Uuid,
    /// The integrator's own id for this client, unique among the practice's
    /// live clients.
    pub external_id: Option<String>,
    /// How clinicians see the client named (initials or a first name suffice).
    pub display_name: String,
    pub status: ClientStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the client is archived (`DELETE`); archived clients are left
    /// out of lists unless `include_archived=true`.
    pub archived_at: Option<DateTime<Utc>>,
    /// When the client was last discharged (set while `status` is
    /// `discharged`): a retention policy counts from here or from
    /// `archived_at`, whichever came first.
    pub discharged_at: Option<DateTime<Utc>>,
    /// While `true`, the client's record is not erased: an erasure request
    /// answers 409 and a scheduled erasure waits. Set by an admin.
    pub legal_hold: bool,
    /// When a scheduled erasure of the client's record is due
    /// (`GET /v1/clients/{id}/erasure` for the detail); `null` when none is.
    pub erasure_scheduled_for: Option<DateTime<Utc>>,
}

impl TryFrom<ClientRow> for Client {
    type Error = ApiError;

    fn try_from(row: ClientRow) -> Result<Self, ApiError> {
        let status = ClientStatus::from_db(&row.status)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown client status in the database")))?;
        Ok(Client {
            id: row.id,
            external_id: row.external_id,
            display_name: row.display_name,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            archived_at: row.archived_at,
            discharged_at: row.discharged_at,
            legal_hold: row.legal_hold,
            erasure_scheduled_for: row
                .erasure_scheduled_for
                .filter(|_| row.erasure_state.as_deref() == Some("scheduled")),
        })
    }
}

fn not_blank(value: &str) -> Result<(), ValidationError> {
    if crate::text::is_blank(value) {
        return Err(ValidationError::new("blank").with_message("must not be blank".into()));
    }
    Ok(())
}

/// A new client.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"external_id": "patient-1042", "display_name": "Alex R."}))]
pub struct NewClient {
    /// The integrator's own id for the client (1 to 128 characters).
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"), custom(function = "not_blank"))]
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub external_id: Option<String>,
    /// 1 to 200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"), custom(function = "not_blank"))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: String,
    /// `active` unless given.
    #[serde(default)]
    pub status: ClientStatus,
}

/// Changes to a client (JSON merge patch: absent members stay as they are,
/// `external_id: null` clears it). `legal_hold` needs the scope `admin`;
/// the other members need `clients:write`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "discharged"}))]
pub struct ClientPatch {
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = true, min_length = 1, max_length = 128, pattern = r"\S")]
    pub external_id: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ClientStatus>,
    /// Place (`true`) or lift (`false`) a legal hold: while held, the
    /// client's record is not erased. Scope `admin` only; allowed on an
    /// archived client too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
}

impl ClientPatch {
    /// Whether the patch changes the client's own record (anything but the
    /// legal hold): what `clients:write` covers and an archived client refuses.
    pub fn changes_the_record(&self) -> bool {
        self.external_id.is_some() || self.display_name.is_some() || self.status.is_some()
    }
}

impl Validate for ClientPatch {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut check = |field: &'static str, value: &str, max: usize| {
            if crate::text::blank_or_longer(value, max) {
                let message = format!("must be 1 to {max} characters, not blank");
                errors.add(field, ValidationError::new("length").with_message(message.into()));
            }
        };
        if let Some(Some(external_id)) = &self.external_id {
            check("external_id", external_id, 128);
        }
        if let Some(display_name) = &self.display_name {
            check("display_name", display_name, 200);
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Filters and paging for `GET /v1/clients`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListClientsQuery {
    /// Only clients with this status.
    pub status: Option<ClientStatus>,
    /// Only the client with this integrator id.
    pub external_id: Option<String>,
    /// Only clients changed at or after this instant (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Include archived clients (default `false`).
    pub include_archived: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of clients, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientList {
    pub data: Vec<Client>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let patch: ClientPatch = serde_json::from_str(r#"{"external_id": null}"#).unwrap();
        assert_eq!(patch.external_id, Some(None));
        let patch: ClientPatch = serde_json::from_str(r#"{"display_name": "B."}"#).unwrap();
        assert_eq!(patch.external_id, None);
        assert!(patch.validate().is_ok());
        let patch: ClientPatch = serde_json::from_str(r#"{"display_name": "  "}"#).unwrap();
        assert!(patch.validate().is_err());
    }
}
