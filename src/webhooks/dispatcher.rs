//! One round of delivery: queue new events, claim what is due, send it,
//! record each attempt. The shared job runner calls it on every instance.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};

use super::Webhooks;
use super::schedule::{self, Answer};
use super::sender::{Attempt, Message};
use super::signing::SigningSecret;
use super::store::{self, Claimed};
use crate::db::DbPool;
use crate::jobs::Queue;

/// Events one endpoint's cursor moves over per round.
const FAN_OUT_PER_ENDPOINT: i64 = 1000;

/// Delivers webhooks from this instance: each claimed delivery runs as its
/// own task, so a slow receiver holds only its own deliveries (at most its
/// per-endpoint share) while the others go on; `batch` bounds what one
/// instance has in flight.
pub struct Dispatcher {
    pool: DbPool,
    webhooks: Arc<Webhooks>,
    in_flight: Arc<Semaphore>,
    /// Told each time a delivery finishes: the endpoint's share it held is
    /// free, so what waited behind it can be claimed at once.
    finished: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(pool: DbPool, webhooks: Arc<Webhooks>) -> Self {
        let permits = usize::try_from(webhooks.settings.batch).unwrap_or(1).max(1);
        Self { pool, webhooks, in_flight: Arc::new(Semaphore::new(permits)), finished: Arc::new(Notify::new()) }
    }

    /// Queues new events, claims what is due (as much as this instance has
    /// room for) and starts sending it; answers how many it started.
    async fn claim_and_start(&self) -> anyhow::Result<usize> {
        let room = self.in_flight.available_permits();
        if room == 0 {
            // Full: wait for a delivery to finish, then look again at once.
            drop(self.in_flight.acquire().await?);
            return Ok(1);
        }
        let claimed = {
            let mut conn = crate::db::connection(&self.pool).await?;
            crate::events::store::sequence_all(&mut conn).await?;
            store::fan_out(&mut conn, FAN_OUT_PER_ENDPOINT).await?;
            let settings = &self.webhooks.settings;
            let room = i64::try_from(room).unwrap_or(settings.batch);
            store::claim(&mut conn, room, settings.per_endpoint, settings.lease).await?
        };
        let started = claimed.len();
        let in_flight = self.in_flight.available_permits() < usize::try_from(self.webhooks.settings.batch).unwrap_or(1);
        if started == 0 && in_flight {
            // Everything due waits for an endpoint's share: look again as
            // soon as a delivery finishes (within a poll at most, since
            // another instance may be the one finishing).
            let _ = tokio::time::timeout(self.webhooks.settings.poll, self.finished.notified()).await;
            return Ok(1);
        }
        for delivery in claimed {
            let permit = self.in_flight.clone().acquire_owned().await?;
            let (pool, webhooks, finished) = (self.pool.clone(), self.webhooks.clone(), self.finished.clone());
            tokio::spawn(async move {
                if let Err(err) = deliver(&pool, &webhooks, delivery).await {
                    // Its lease runs out and it is sent again: at least once, never lost.
                    tracing::warn!(error = %err, "a webhook attempt could not be recorded");
                }
                drop(permit);
                finished.notify_one();
            });
        }
        Ok(started)
    }
}

impl Queue for Dispatcher {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<usize>> {
        Box::pin(self.claim_and_start())
    }

    fn drain(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let all = u32::try_from(self.webhooks.settings.batch).unwrap_or(1).max(1);
            let _ = self.in_flight.acquire_many(all).await;
        })
    }
}

async fn deliver(pool: &DbPool, webhooks: &Webhooks, delivery: Claimed) -> anyhow::Result<()> {
    let secrets = webhooks.key.signing_secrets(
        delivery.endpoint_id,
        &delivery.secret_sealed,
        delivery.previous_secret_sealed.as_deref(),
        delivery.previous_secret_expires_at,
    );
    let attempt = match secrets {
        Ok(secrets) => {
            let secrets: Vec<&SigningSecret> = secrets.iter().collect();
            let webhook_id = delivery.webhook_id.to_string();
            let message =
                Message { url: &delivery.url, webhook_id: &webhook_id, body: &delivery.body, secrets: &secrets };
            webhooks.sender.send(&message, chrono::Utc::now().timestamp()).await
        }
        Err(err) => {
            tracing::error!(error = %err, endpoint = %delivery.endpoint_id, "a signing secret does not open");
            Attempt {
                status: None,
                latency: std::time::Duration::ZERO,
                error: Some("the service could not sign the delivery".to_owned()),
                response: None,
            }
        }
    };
    let failing_for = delivery.failing_since.and_then(|since| (chrono::Utc::now() - since).to_std().ok());
    let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let verdict = schedule::decide(
        Answer::from_status(attempt.status),
        attempts,
        failing_for,
        rand::random::<f64>(),
        webhooks.settings.retry_unit,
    );
    tracing::debug!(
        delivery = %delivery.id,
        endpoint = %delivery.endpoint_id,
        attempt = delivery.attempts,
        status = attempt.status,
        latency_ms = attempt.latency.as_millis() as u64,
        ?verdict,
        "webhook attempt"
    );
    let mut conn = crate::db::connection(pool).await?;
    store::record_attempt(&mut conn, &delivery, &attempt, verdict).await?;
    Ok(())
}
