//! Signed webhooks (Standard Webhooks): endpoints a practice registers, and
//! the dispatcher that delivers its events to them.
//!
//! Events are written with the changes they tell of (`crate::events`). The
//! dispatcher, running in every instance through the shared job runner,
//! moves each endpoint's cursor over new events and queues a delivery per
//! wanted event, then claims due deliveries (`FOR UPDATE SKIP LOCKED` and a
//! lease), sends them, and records each attempt with what follows it.

pub mod address;
pub mod dispatcher;
pub mod model;
pub mod routes;
pub mod schedule;
pub mod sealing;
pub mod sender;
pub mod signing;
pub mod store;

use std::time::Duration;

use address::AddressPolicy;
use sealing::SealingKey;
use sender::Sender;

/// The `type` of the event `POST .../test` sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// How long the secret replaced by a rotation keeps signing.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// What webhooks need at run time; absent when no key is configured.
pub struct Webhooks {
    pub key: SealingKey,
    pub sender: Sender,
    pub settings: DispatchSettings,
}

#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// The unit the retry schedule counts in (a second, unless a test shrinks it).
    pub retry_unit: Duration,
    /// How often an idle dispatcher looks for work.
    pub poll: Duration,
    /// Deliveries in flight at once per endpoint, over every instance.
    pub per_endpoint: i64,
    /// Deliveries one instance claims at a time.
    pub batch: i64,
    /// How long a claimed delivery is held: well over the request timeout,
    /// so that only a crashed sender's deliveries are taken over.
    pub lease: Duration,
}

impl Webhooks {
    pub fn new(
        key: SealingKey,
        policy: AddressPolicy,
        timeout: Duration,
        settings: DispatchSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self { key, sender: Sender::new(policy, timeout)?, settings })
    }
}
