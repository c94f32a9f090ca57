//! Webhook API types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::{Validate, ValidationError, ValidationErrors};

use crate::events::model::EventType;
use crate::http::pagination::Cursor;

/// Why an endpoint was disabled by the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for five days.
    Failing,
}

/// A receiver of the practice's events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "url": "https://ehr.example.org/attune/webhooks",
    "description": "EHR inbox",
    "event_types": ["assessment.completed", "progress.flag_raised"],
    "enabled": true,
    "disabled_reason": null,
    "disabled_at": null,
    "disabled_by_event_id": null,
    "failing_since": null,
    "previous_secret_expires_at": null,
    "created_at": "2026-12-02T09:30:00Z",
    "updated_at": "2026-12-02T09:30:00Z"
}))]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The events delivered here.
    pub event_types: Vec<EventType>,
    /// Whether events are delivered. Set it back to `true` after the
    /// service disabled the endpoint; events from the time it was disabled
    /// can be sent with `redeliver`.
    pub enabled: bool,
    /// Set when the service disabled the endpoint.
    pub disabled_reason: Option<DisabledReason>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// The event whose failed delivery disabled the endpoint.
    pub disabled_by_event_id: Option<Uuid>,
    /// Since when every attempt has failed; `null` while deliveries succeed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until then, the secret replaced by the last rotation signs as well.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its signing secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_` and the base64 of 32 random bytes: the key a Standard
    /// Webhooks library checks `webhook-signature` with. Shown this once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

fn event_types_listed(types: &[EventType]) -> Result<(), ValidationError> {
    if types.is_empty() {
        return Err(ValidationError::new("length").with_message("must name at least one event type".into()));
    }
    Ok(())
}

fn url_length(url: &str) -> Result<(), ValidationError> {
    if url.is_empty() || url.len() > 2048 {
        return Err(ValidationError::new("length").with_message("must be 1 to 2048 characters".into()));
    }
    Ok(())
}

/// A new endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://ehr.example.org/attune/webhooks",
    "event_types": ["assessment.completed", "progress.flag_raised"],
    "description": "EHR inbox"
}))]
pub struct NewWebhookEndpoint {
    /// An https URL on a public address (internal addresses are refused).
    #[validate(custom(function = "url_length"))]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// The events to deliver (at least one).
    #[validate(custom(function = "event_types_listed"))]
    #[schema(min_items = 1)]
    pub event_types: Vec<EventType>,
    /// Up to 500 characters, for the practice's admins.
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub description: String,
    /// `true` unless given.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Changes to an endpoint (JSON merge patch: absent members stay).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": true}))]
pub struct WebhookEndpointPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<EventType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl Validate for WebhookEndpointPatch {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(Err(err)) = self.url.as_deref().map(url_length) {
            errors.add("url", err);
        }
        if let Some(Err(err)) = self.event_types.as_deref().map(event_types_listed) {
            errors.add("event_types", err);
        }
        if self.description.as_deref().is_some_and(|d| d.chars().count() > 500) {
            errors.add(
                "description",
                ValidationError::new("length").with_message("must be at most 500 characters".into()),
            );
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A page of endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointList {
    pub data: Vec<WebhookEndpoint>,
    #[schema(value_type = Option<Cursor>)]
    pub next_cursor: Option<String>,
}

/// Paging for lists of endpoints and of attempts.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Cursor>)]
    pub cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    Succeeded,
    /// The schedule ran out, or the endpoint was disabled.
    Failed,
}

impl DeliveryState {
    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(DeliveryState::Pending),
            "succeeded" => Some(DeliveryState::Succeeded),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver one message, newest first in lists.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    /// The `webhook-id` header sent: the event's id, the same on every attempt.
    pub webhook_id: Uuid,
    /// An event type, or `webhook.test`.
    pub event_type: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; `null` when there was no answer.
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// Why it failed; `null` on a 2xx.
    pub error: Option<String>,
    /// The start of the receiver's answer (at most 512 bytes).
    pub response: Option<String>,
    /// Where the delivery stands now.
    pub delivery_state: DeliveryState,
    /// When the delivery is tried next, while it is pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A page of attempts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttemptList {
    pub data: Vec<DeliveryAttempt>,
    #[schema(value_type = Option<Cursor>)]
    pub next_cursor: Option<String>,
}

/// What to send again: one event, or every event of the endpoint's types
/// since a time (within the feed's 30 days).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-12-01T00:00:00Z"}))]
pub struct Redelivery {
    pub event_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

/// How many deliveries were queued.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedeliveryQueued {
    pub queued: i64,
}

/// The outcome of a test delivery (made at once, tried once).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestDelivery {
    pub delivery_id: Uuid,
    pub webhook_id: Uuid,
    /// Whether the receiver answered 2xx.
    pub delivered: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}
