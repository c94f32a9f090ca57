//! `attune worker`: the background work without the API, until SIGTERM or
//! SIGINT; then the round under way finishes and the process exits.

use std::time::Duration;

use anyhow::Context;

use crate::background;
use crate::config::WorkerArgs;
use crate::db;
use crate::jobs::Jobs;

pub async fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let webhooks = background::webhooks_from(&args.webhooks)?;
    if webhooks.is_none() {
        tracing::warn!("ATTUNE_WEBHOOK_KEY is not set: no webhooks are delivered");
    }
    let pool = db::build_pool(
        &args.database.database_url,
        usize::from(args.database.db_pool_size),
        Duration::from_millis(args.database.db_timeout_ms),
    )?;
    let mut jobs = Jobs::new();
    background::database_jobs(&mut jobs, &pool, webhooks, &args.erasure, args.exports.settings());
    tracing::info!("worker running");
    shutdown_signal().await.context("waiting for a shutdown signal")?;
    tracing::info!("stopping: letting the round under way finish");
    jobs.stop(Duration::from_secs(args.shutdown_timeout_seconds)).await;
    Ok(())
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
