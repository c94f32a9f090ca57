//! What every handler may reach. It sits below the routes: handlers import
//! it from here, and startup builds it, so nothing imports startup but main.

use crate::auth::jwt::TokenKeys;
use crate::auth::revocation::RevocationCache;
use crate::db::DbPool;
use std::net::IpAddr;

use crate::rate_limits::{FailureLimiter, PracticeLimiter, TokenGuard};

/// What every handler may reach.
pub struct AppState {
    pub pool: DbPool,
    pub tokens: TokenKeys,
    pub revocations: RevocationCache,
    /// Failed token requests, per client id and per source address.
    pub token_guard: TokenGuard,
    /// Unknown client-link tokens, per source address.
    pub link_guard: FailureLimiter<IpAddr>,
    /// The optional request rate per practice.
    pub practice_limiter: Option<PracticeLimiter>,
    pub settings: RuntimeSettings,
    /// Signing and delivery; `None` when no webhook key is configured.
    pub webhooks: Option<std::sync::Arc<crate::webhooks::Webhooks>>,
    /// The service's multi-threaded runtime (the one driving pooled
    /// connections and background jobs): long work a request starts, such
    /// as writing a client's record, runs there rather than on the HTTP
    /// worker's thread.
    pub runtime: tokio::runtime::Handle,
    /// Client records being written at once on this instance: each holds a
    /// pooled connection for as long as its reader takes, so they get a
    /// quarter of the pool and the other requests keep the rest.
    pub record_streams: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long a request waits for a connection (or a record stream).
    pub db_wait: std::time::Duration,
}

pub struct RuntimeSettings {
    pub token_lifetime_seconds: i64,
    /// Proxies in front of the service whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: usize,
    /// The absolute base URL clients reach the service at, without a trailing `/`.
    pub public_url: String,
}
