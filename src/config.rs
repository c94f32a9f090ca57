//! Command line and environment: every setting is a flag with an environment
//! variable behind it (`attune --help`, `attune serve --help`).

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "attune",
    version,
    about = "Attune: assessments, homework and client progress for therapy practice software",
    long_about = "Attune serves a REST/JSON API (see /docs and /openapi.json when serving). \
                  Every flag can also be set by the environment variable shown with it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database (unless told not to) and serve the API.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document (JSON) to standard output.
    Openapi,
    /// Create a practice and an API client holding every scope; print its credentials once.
    Bootstrap(BootstrapArgs),
    /// Run the background work alone (webhook delivery, purges, periodic
    /// checks), for deployments that keep it apart from the API instances
    /// (start those with ATTUNE_WEBHOOK_DISPATCH=false).
    Worker(Box<WorkerArgs>),
    /// Exit 0 when the service on ATTUNE_BIND answers `GET /healthz` with 200
    /// (for a container's HEALTHCHECK: it needs no curl in the image).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HealthcheckArgs {
    /// The address the service listens on; an unspecified host (0.0.0.0, [::]) is probed on loopback.
    #[arg(long, env = "ATTUNE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// How long to wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Maximum number of pooled database connections.
    #[arg(long, env = "ATTUNE_DB_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub db_pool_size: u16,
    /// How long a request may wait for a database connection, in milliseconds,
    /// before it answers 503.
    #[arg(long, env = "ATTUNE_DB_TIMEOUT_MS", default_value_t = 2000)]
    pub db_timeout_ms: u64,
}

/// External identity-provider key algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExternalAlgorithm {
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address and port to listen on.
    #[arg(long, env = "ATTUNE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "ATTUNE_WORKERS")]
    pub workers: Option<usize>,
    /// Threads of the runtime that drives database connections and
    /// background work (default: one per core).
    #[arg(long, env = "ATTUNE_RUNTIME_THREADS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub runtime_threads: Option<usize>,
    /// Secret (at least 32 bytes) that signs and checks this service's HS256
    /// access tokens. Required unless an external issuer's key is given.
    #[arg(long, env = "ATTUNE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// `iss` of the tokens this service issues.
    #[arg(long, env = "ATTUNE_JWT_ISSUER", default_value = "attune")]
    pub jwt_issuer: String,
    /// `aud` of the tokens this service issues and accepts.
    #[arg(long, env = "ATTUNE_JWT_AUDIENCE", default_value = "attune-api")]
    pub jwt_audience: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "ATTUNE_TOKEN_LIFETIME_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(i64).range(30..=86400))]
    pub token_lifetime_seconds: i64,
    /// PEM public key of an external token issuer (a practice's identity provider).
    #[arg(long, env = "ATTUNE_EXTERNAL_JWT_PUBLIC_KEY_FILE", requires_all = ["external_jwt_algorithm", "external_jwt_issuer", "external_jwt_audience"])]
    pub external_jwt_public_key_file: Option<PathBuf>,
    /// The external key's algorithm, pinned.
    #[arg(long, env = "ATTUNE_EXTERNAL_JWT_ALGORITHM")]
    pub external_jwt_algorithm: Option<ExternalAlgorithm>,
    /// `iss` of the external issuer's tokens.
    #[arg(long, env = "ATTUNE_EXTERNAL_JWT_ISSUER")]
    pub external_jwt_issuer: Option<String>,
    /// `aud` the external issuer's tokens must carry.
    #[arg(long, env = "ATTUNE_EXTERNAL_JWT_AUDIENCE")]
    pub external_jwt_audience: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ATTUNE_BODY_LIMIT_BYTES", default_value_t = 65536)]
    pub body_limit_bytes: usize,
    /// How often an instance re-reads whether an API client was revoked, in seconds.
    #[arg(long, env = "ATTUNE_REVOCATION_CHECK_SECONDS", default_value_t = 5)]
    pub revocation_check_seconds: u64,
    /// Whether reads, searches, exports and refused requests are recorded in
    /// the audit trail (`on`: committed before the answer; `durable`: also
    /// flushed to disk first; `off`: only writes, which always are).
    #[arg(long, env = "ATTUNE_AUDIT_READS", value_enum, default_value = "on")]
    pub audit_reads: crate::audit::writer::ReadAuditing,
    /// Seconds in-flight requests get to finish on SIGTERM.
    #[arg(long, env = "ATTUNE_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 30)]
    pub shutdown_timeout_seconds: u64,
    /// Do not apply migrations at start.
    #[arg(long, env = "ATTUNE_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,
    /// Log format.
    #[arg(long, env = "ATTUNE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The service's absolute base URL as clients reach it (client links
    /// point here), e.g. `https://attune.example.org`. Default: `http://` and
    /// the bound address.
    #[arg(long, env = "ATTUNE_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Where `/metrics` (Prometheus) is served: its own listener, so that
    /// route-level traffic is not visible on the API port. `off` serves none.
    #[arg(long, env = "ATTUNE_METRICS_BIND", default_value = "127.0.0.1:9464")]
    pub metrics_bind: String,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub erasure: ErasureArgs,
    #[command(flatten)]
    pub exports: ExportArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Log format.
    #[arg(long, env = "ATTUNE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds the round under way gets to finish on SIGTERM.
    #[arg(long, env = "ATTUNE_SHUTDOWN_TIMEOUT_SECONDS", default_value_t = 30)]
    pub shutdown_timeout_seconds: u64,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub erasure: ErasureArgs,
    #[command(flatten)]
    pub exports: ExportArgs,
}

/// Erasure of clients' records.
#[derive(Debug, Clone, Args)]
pub struct ErasureArgs {
    /// How often the erasure job runs, in seconds (1 to 60): it executes the
    /// erasures that are due and schedules those retention policies call for.
    /// One instance at a time does the work.
    #[arg(long, env = "ATTUNE_ERASURE_INTERVAL_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub erasure_interval_seconds: u64,
}

impl Default for ErasureArgs {
    fn default() -> Self {
        Self { erasure_interval_seconds: 60 }
    }
}

/// Practice-wide bulk exports (FHIR Bulk Data).
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Hours a finished export's files are kept; then they are removed and
    /// the export answers 410.
    #[arg(long, env = "ATTUNE_EXPORT_RETENTION_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub export_retention_hours: u64,
    /// Bulk exports this process runs at once (0: none here; other
    /// instances run them).
    #[arg(long, env = "ATTUNE_EXPORT_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=16))]
    pub export_concurrency: u16,
    /// Seconds a running export's claim lasts unless renewed; an instance
    /// that dies is taken over after this.
    #[arg(long, env = "ATTUNE_EXPORT_LEASE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub export_lease_seconds: u64,
    /// Resources per NDJSON file before the next part starts.
    #[arg(long, env = "ATTUNE_EXPORT_FILE_MAX_RESOURCES", default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(1..=100_000_000))]
    pub export_file_max_resources: i64,
    /// How often an idle process looks for a queued export, in milliseconds.
    #[arg(long, env = "ATTUNE_EXPORT_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub export_poll_ms: u64,
}

impl Default for ExportArgs {
    fn default() -> Self {
        Self {
            export_retention_hours: 24,
            export_concurrency: 1,
            export_lease_seconds: 60,
            export_file_max_resources: 100_000,
            export_poll_ms: 1000,
        }
    }
}

impl ExportArgs {
    pub fn settings(&self) -> crate::exports::ExportSettings {
        crate::exports::ExportSettings {
            retention: std::time::Duration::from_secs(self.export_retention_hours * 3600),
            lease: std::time::Duration::from_secs(self.export_lease_seconds),
            file_max_resources: self.export_file_max_resources,
            concurrency: usize::from(self.export_concurrency),
            poll: std::time::Duration::from_millis(self.export_poll_ms),
        }
    }
}

/// Webhook signing and delivery.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// 32 bytes as 64 hex digits (`openssl rand -hex 32`) that keep webhook
    /// signing secrets encrypted in the database. Without it, webhook
    /// endpoints cannot be registered (503) and nothing is delivered.
    #[arg(long, env = "ATTUNE_WEBHOOK_KEY", hide_env_values = true)]
    pub webhook_key: Option<String>,
    /// Deliver webhooks from this process (every instance shares the work).
    #[arg(long, env = "ATTUNE_WEBHOOK_DISPATCH", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_dispatch: bool,
    /// Allow receivers on loopback addresses (and plain http to them): for
    /// tests, or a receiver on the same host. Other internal addresses stay refused.
    #[arg(long, env = "ATTUNE_WEBHOOK_ALLOW_LOOPBACK")]
    pub webhook_allow_loopback: bool,
    /// How long a receiver has to answer, in milliseconds.
    #[arg(long, env = "ATTUNE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,
    /// How often an idle dispatcher looks for due deliveries, in milliseconds.
    #[arg(long, env = "ATTUNE_WEBHOOK_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub webhook_poll_ms: u64,
    /// Deliveries in flight at once to one endpoint, over all instances.
    #[arg(long, env = "ATTUNE_WEBHOOK_CONCURRENCY_PER_ENDPOINT", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub webhook_concurrency_per_endpoint: u16,
    /// The unit of the retry schedule, in milliseconds (1000: the schedule
    /// as documented; tests shrink it).
    #[arg(long, env = "ATTUNE_WEBHOOK_RETRY_UNIT_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub webhook_retry_unit_ms: u64,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        Self {
            webhook_key: None,
            webhook_dispatch: true,
            webhook_allow_loopback: false,
            webhook_timeout_ms: 10_000,
            webhook_poll_ms: 1000,
            webhook_concurrency_per_endpoint: 4,
            webhook_retry_unit_ms: 1000,
        }
    }
}

/// An absolute http(s) URL with no query or fragment, without its trailing `/`.
fn parse_public_url(value: &str) -> Result<String, String> {
    let uri: actix_web::http::Uri = value.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("must start with https:// (or http://)".to_owned()),
    }
    if uri.authority().is_none() || uri.query().is_some() || value.contains('#') {
        return Err("must be an absolute URL without a query or fragment".to_owned());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// Abuse resistance: rate limits and what a slow or greedy client may hold.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Failed token requests allowed per API client id, and per source
    /// address, in a burst; the budget refills over a minute. Past it, 429.
    #[arg(long, env = "ATTUNE_TOKEN_FAILURE_BURST", default_value_t = NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN))]
    pub token_failure_burst: NonZeroU32,
    /// Unknown client-link tokens allowed per source address in a burst; the
    /// budget refills over a minute. Each is also slowed; past it, 429.
    #[arg(long, env = "ATTUNE_LINK_FAILURE_BURST", default_value_t = NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN))]
    pub link_failure_burst: NonZeroU32,
    /// Requests a minute each practice may make (per instance); off when unset.
    #[arg(long, env = "ATTUNE_PRACTICE_RATE_LIMIT_PER_MINUTE")]
    pub practice_rate_limit_per_minute: Option<NonZeroU32>,
    /// Proxies in front of the service whose `X-Forwarded-For` entries name
    /// the source address (0: the peer is the source).
    #[arg(long, env = "ATTUNE_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,
    /// How long a client may take to send a request's headers, in
    /// milliseconds, before it is answered 408 and closed.
    #[arg(long, env = "ATTUNE_CLIENT_REQUEST_TIMEOUT_MS", default_value_t = 5000)]
    pub client_request_timeout_ms: u64,
    /// How long a client may take to send a request's body, in milliseconds,
    /// before it is answered 408.
    #[arg(long, env = "ATTUNE_CLIENT_BODY_TIMEOUT_MS", default_value_t = 10000)]
    pub client_body_timeout_ms: u64,
    /// How long an idle keep-alive connection is kept open, in seconds.
    #[arg(long, env = "ATTUNE_KEEP_ALIVE_SECONDS", default_value_t = 5)]
    pub keep_alive_seconds: u64,
    /// Open connections this instance accepts at once; past it, new ones wait in the backlog.
    #[arg(long, env = "ATTUNE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            token_failure_burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            link_failure_burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            practice_rate_limit_per_minute: None,
            trusted_proxy_hops: 0,
            client_request_timeout_ms: 5000,
            client_body_timeout_ms: 10000,
            keep_alive_seconds: 5,
            max_connections: 4096,
        }
    }
}

impl ServeArgs {
    /// Settings for a service on `database_url` with defaults elsewhere.
    pub fn with_database(database_url: &str) -> Self {
        Self {
            database: DatabaseArgs { database_url: database_url.to_owned(), db_pool_size: 16, db_timeout_ms: 2000 },
            bind: "127.0.0.1:8080".to_owned(),
            workers: None,
            runtime_threads: None,
            jwt_secret: None,
            jwt_issuer: "attune".to_owned(),
            jwt_audience: "attune-api".to_owned(),
            token_lifetime_seconds: 600,
            external_jwt_public_key_file: None,
            external_jwt_algorithm: None,
            external_jwt_issuer: None,
            external_jwt_audience: None,
            body_limit_bytes: 65536,
            revocation_check_seconds: 5,
            audit_reads: crate::audit::writer::ReadAuditing::On,
            shutdown_timeout_seconds: 30,
            skip_migrations: false,
            log_format: LogFormat::Text,
            public_url: None,
            metrics_bind: "127.0.0.1:9464".to_owned(),
            limits: LimitArgs::default(),
            webhooks: WebhookArgs::default(),
            erasure: ErasureArgs::default(),
            exports: ExportArgs::default(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The practice's name.
    #[arg(long)]
    pub practice: String,
    /// Name of the API client created with it.
    #[arg(long, default_value = "bootstrap")]
    pub client_name: String,
    /// Print one JSON object {"practice_id", "client_id", "client_secret"}.
    #[arg(long)]
    pub json: bool,
}
