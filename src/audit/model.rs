//! The trail as the API shows it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::operations::Action;
use super::store::EntryRow;
use crate::http::ApiError;

/// One access: who, what, when, how it ended. Ids only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    /// The entry's place in the practice's chain: 1, 2, 3, ... Entries are
    /// linked into the chain within seconds of being written; until then
    /// this and `hash` are `null`.
    pub sequence: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    /// The API client whose token made the request (the token's `sub`).
    pub api_client_id: String,
    /// The clinician the integration acted for, when its token named one;
    /// `client_link:{id}` for a client's own submission through a link.
    pub actor: Option<String>,
    pub action: Action,
    /// The API operation (its OpenAPI `operationId`), or the client page.
    pub operation: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    /// The client the access concerns, when it concerns one.
    pub client_id: Option<Uuid>,
    /// The HTTP status the request was answered with.
    #[schema(minimum = 100, maximum = 599)]
    pub outcome: i32,
    pub request_id: Option<String>,
    /// The source address (the peer, or `X-Forwarded-For` behind trusted proxies).
    pub source: Option<String>,
    /// A search's filters (never its results).
    pub query: Option<serde_json::Value>,
    /// How many a search found.
    pub result_count: Option<i32>,
    /// SHA-256 (hex) over this entry and the previous link's hash.
    pub hash: Option<String>,
}

impl TryFrom<EntryRow> for AuditEvent {
    type Error = ApiError;

    fn try_from(row: EntryRow) -> Result<Self, ApiError> {
        let entry = row.fields;
        let action = Action::parse(&entry.action)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an audit entry has an unknown action")))?;
        Ok(Self {
            id: entry.id,
            sequence: row.seq,
            occurred_at: entry.occurred_at,
            api_client_id: entry.api_client,
            actor: entry.actor,
            action,
            operation: entry.operation,
            resource_type: entry.resource_type,
            resource_id: entry.resource_id,
            client_id: entry.client_id,
            outcome: entry.outcome,
            request_id: entry.request_id,
            source: entry.source,
            query: entry.query,
            result_count: entry.result_count,
            hash: row.hash.map(hex::encode),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    pub data: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// Whether a request succeeded (2xx or 3xx) or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeClass {
    Success,
    Failure,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAuditEventsQuery {
    /// Entries about this client (for a relationship, the entries name it as
    /// the resource; look them up by `resource_type=relationship`).
    pub client_id: Option<Uuid>,
    /// The clinician (the token's `act.sub`), exactly.
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub actor: Option<String>,
    /// The API client (the token's `sub`), exactly.
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub api_client_id: Option<String>,
    #[param(inline)]
    pub action: Option<Action>,
    /// `client`, `assessment`, `homework`, `relationship`, `client_link`, ...
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub resource_type: Option<String>,
    #[param(inline)]
    pub outcome: Option<OutcomeClass>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<crate::http::pagination::Cursor>)]
    pub cursor: Option<String>,
}

/// The walk of the practice's chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainVerification {
    /// Whether every link holds and every entry is in the chain.
    pub ok: bool,
    /// How many links were checked (entries written until the walk began
    /// are linked first).
    pub checked: i64,
    /// Entries in the trail that are in no chain and were never queued for
    /// one: put there behind the service's back.
    pub outside_chain: i64,
    /// The first entry whose link is broken, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrokenLink {
    pub sequence: i64,
    /// The entry, when it is still there (not when entries were cut from the end).
    pub id: Option<Uuid>,
    pub reason: String,
}
