//! API client (integration credential) types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::store::ApiClientRow;
use crate::auth::Scope;
use crate::http::pagination::Cursor;

/// An integration's credentials (the secret is never shown again after
/// creation or rotation).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "name": "Reporting job",
    "scopes": ["progress:read"],
    "created_at": "2026-11-22T09:30:00Z",
    "secret_rotated_at": null,
    "revoked_at": null
}))]
pub struct ApiClient {
    /// The OAuth `client_id`.
    pub id: Uuid,
    pub name: String,
    /// The scopes tokens of this client may carry.
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub secret_rotated_at: Option<DateTime<Utc>>,
    /// Set once revoked: the client gets no tokens and its tokens stop working.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiClientRow> for ApiClient {
    fn from(row: ApiClientRow) -> Self {
        ApiClient {
            id: row.id,
            name: row.name,
            scopes: row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            created_at: row.created_at,
            secret_rotated_at: row.secret_rotated_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// Credentials with their secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiClientCredentials {
    #[serde(flatten)]
    pub client: ApiClient,
    /// Store it now: it cannot be shown again.
    #[schema(example = "atn_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5")]
    pub client_secret: String,
}

/// New integration credentials.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Reporting job", "scopes": ["progress:read"]}))]
pub struct NewApiClient {
    /// What the credentials are for (1 to 200 characters).
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// At least one scope.
    #[validate(length(min = 1, max = 8, message = "must name 1 to 8 scopes"))]
    #[schema(min_items = 1, max_items = 8)]
    pub scopes: Vec<Scope>,
}

/// Paging for `GET /v1/api-clients`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiClientsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>, inline)]
    pub cursor: Option<String>,
}

/// A page of API clients, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiClientList {
    pub data: Vec<ApiClient>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
