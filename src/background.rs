//! Every feature's background work on the shared database, registered with
//! the one job runner: `attune serve` starts it beside the API, and
//! `attune worker` starts it alone.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ErasureArgs, WebhookArgs};
use crate::db::DbPool;
use crate::exports::ExportSettings;
use crate::exports::job::ExportRunner;
use crate::http::idempotency;
use crate::jobs::Jobs;
use crate::webhooks::address::AddressPolicy;
use crate::webhooks::dispatcher::Dispatcher;
use crate::webhooks::sealing::SealingKey;
use crate::webhooks::{DispatchSettings, Webhooks};
use crate::{audit, client_links, erasure, events, exports, webhooks};

/// The webhook machinery the settings describe; `None` without a key.
pub fn webhooks_from(args: &WebhookArgs) -> anyhow::Result<Option<Arc<Webhooks>>> {
    let Some(key) = args.webhook_key.as_deref().filter(|k| !k.is_empty()) else { return Ok(None) };
    let timeout = Duration::from_millis(args.webhook_timeout_ms);
    let settings = DispatchSettings {
        retry_unit: Duration::from_millis(args.webhook_retry_unit_ms),
        poll: Duration::from_millis(args.webhook_poll_ms),
        per_endpoint: i64::from(args.webhook_concurrency_per_endpoint),
        batch: 64,
        lease: timeout * 6,
    };
    let policy = AddressPolicy { allow_loopback: args.webhook_allow_loopback };
    Ok(Some(Arc::new(Webhooks::new(SealingKey::from_hex(key)?, policy, timeout, settings)?)))
}

/// Purges, periodic checks, erasures, bulk exports and (when `dispatch`
/// names it) webhook delivery.
pub fn database_jobs(
    jobs: &mut Jobs,
    pool: &DbPool,
    dispatch: Option<Arc<Webhooks>>,
    erasure: &ErasureArgs,
    exports: ExportSettings,
) {
    jobs.led_paced("seal the audit trail", audit::SEAL_PERIOD, audit::SEAL_FOLLOW_UP, pool.clone(), |conn| {
        Box::pin(audit::seal_all(conn))
    });
    jobs.led("purge expired idempotency keys", Duration::from_secs(3600), pool.clone(), |conn| {
        Box::pin(async move { Ok(idempotency::purge_expired(conn).await? as u64) })
    });
    jobs.led("purge expired assessment drafts", Duration::from_secs(3600), pool.clone(), |conn| {
        Box::pin(async move { Ok(client_links::store::purge_expired_drafts(conn).await? as u64) })
    });
    jobs.led("purge events and deliveries past retention", Duration::from_secs(3600), pool.clone(), |conn| {
        Box::pin(async move {
            let cutoff = chrono::Utc::now() - chrono::Duration::days(events::store::RETENTION_DAYS);
            let events = events::store::purge_older_than(conn, cutoff).await?;
            let deliveries = webhooks::store::purge_created_before(conn, cutoff).await?;
            Ok((events + deliveries) as u64)
        })
    });
    jobs.led("raise progress flags", Duration::from_secs(300), pool.clone(), |conn| {
        Box::pin(events::flag_check::run(conn))
    });
    let every = Duration::from_secs(erasure.erasure_interval_seconds);
    jobs.led(erasure::job::NAME, every, pool.clone(), |conn| Box::pin(erasure::job::run(conn)));
    jobs.led("purge expired exports", Duration::from_secs(600), pool.clone(), exports::job::purge);
    if exports.concurrency > 0 {
        let poll = exports.poll;
        jobs.claimed("run bulk exports", poll, Arc::new(ExportRunner::new(pool.clone(), exports)));
    }
    if let Some(webhooks) = dispatch {
        let poll = webhooks.settings.poll;
        jobs.claimed("deliver webhooks", poll, Arc::new(Dispatcher::new(pool.clone(), webhooks)));
    }
}
