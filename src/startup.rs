//! Builds the HTTP application: state, middleware, routes, explorer, metrics.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::audit::trail::Trail;
use crate::audit::writer::{AuditWriter, ReadAuditing};
use crate::auth::jwt::{ExternalIssuer, TokenKeys};
use crate::auth::revocation::RevocationCache;
use crate::auth::verified_tokens::VerifiedTokens;
use crate::config::{ExternalAlgorithm, ServeArgs};
use crate::db::worker::WorkerConnection;
use crate::db::{self, DbPool};
use crate::health::metrics::PoolCollector;
use crate::http::body::BodyLimit;
use crate::http::fallback::{self, KnownRoutes};
use crate::http::request_id;
use crate::jobs::Jobs;
use crate::rate_limits::{FailureLimiter, PracticeLimiter, TokenGuard};
use crate::routes::routes;
use crate::state::{AppState, RuntimeSettings};
use crate::{audit, background, client_links, openapi};

fn token_keys(args: &ServeArgs) -> anyhow::Result<TokenKeys> {
    let secret = args.jwt_secret.as_deref().filter(|s| !s.is_empty());
    if let Some(secret) = secret
        && secret.len() < 32
    {
        anyhow::bail!("ATTUNE_JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)");
    }
    let external = match &args.external_jwt_public_key_file {
        None => None,
        Some(path) => Some(ExternalIssuer {
            algorithm: match args.external_jwt_algorithm {
                Some(ExternalAlgorithm::EdDsa) => jsonwebtoken::Algorithm::EdDSA,
                Some(ExternalAlgorithm::Rs256) => jsonwebtoken::Algorithm::RS256,
                Some(ExternalAlgorithm::Es256) => jsonwebtoken::Algorithm::ES256,
                None => anyhow::bail!("--external-jwt-algorithm is required with an external key"),
            },
            public_key_pem: std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            issuer: args.external_jwt_issuer.clone().unwrap_or_default(),
            audience: args.external_jwt_audience.clone().unwrap_or_default(),
        }),
    };
    if secret.is_none() && external.is_none() {
        anyhow::bail!(
            "no token key: set ATTUNE_JWT_SECRET (or --jwt-secret) to a random string of at least 32 bytes, \
             or configure an external issuer with --external-jwt-public-key-file"
        );
    }
    TokenKeys::new(secret.map(str::as_bytes), &args.jwt_issuer, &args.jwt_audience, external)
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    /// The `/metrics` listener and its port, unless turned off.
    metrics: Option<(u16, Server)>,
    /// Background work; stops with the application.
    jobs: Jobs,
    shutdown_timeout: Duration,
}

impl Application {
    /// Checks the settings, applies migrations (unless skipped), binds (port 0
    /// picks a free port) and prepares the server.
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        let tokens = token_keys(args)?;
        if !args.skip_migrations {
            let applied = db::run_migrations(&args.database.database_url).context("applying migrations")?;
            tracing::info!(count = applied.len(), "migrations applied");
        }
        crate::catalog::load(&args.database.database_url).await.context("loading the built-in catalog")?;
        let pool = db::build_pool(
            &args.database.database_url,
            usize::from(args.database.db_pool_size),
            Duration::from_millis(args.database.db_timeout_ms),
        )?;
        let webhooks = background::webhooks_from(&args.webhooks)?;
        let listener = TcpListener::bind(&args.bind).with_context(|| format!("binding {}", args.bind))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            tokens,
            revocations: RevocationCache::new(Duration::from_secs(args.revocation_check_seconds)),
            token_guard: TokenGuard::new(args.limits.token_failure_burst),
            link_guard: FailureLimiter::per_minute(args.limits.link_failure_burst),
            practice_limiter: args.limits.practice_rate_limit_per_minute.map(PracticeLimiter::per_minute),
            settings: RuntimeSettings {
                token_lifetime_seconds: args.token_lifetime_seconds,
                trusted_proxy_hops: args.limits.trusted_proxy_hops,
                public_url: args.public_url.clone().unwrap_or_else(|| format!("http://{local}")),
            },
            webhooks: webhooks.clone(),
            runtime: tokio::runtime::Handle::current(),
            record_streams: std::sync::Arc::new(tokio::sync::Semaphore::new(
                (usize::from(args.database.db_pool_size) / 4).max(1),
            )),
            db_wait: Duration::from_millis(args.database.db_timeout_ms),
        });

        let registry = prometheus::Registry::new();
        registry.register(Box::new(PoolCollector::new(pool.clone())?))?;
        // The middleware counts on the API port; the registry is served on
        // the metrics listener only.
        let metrics = PrometheusMetricsBuilder::new("attune")
            .registry(registry.clone())
            .mask_unmatched_patterns("UNMATCHED")
            .build()
            .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        let metrics_server = metrics_server(&args.metrics_bind, registry)?;

        let doc = openapi::document();
        let known_routes = web::Data::new(KnownRoutes::from_openapi(&doc));
        let trail = web::Data::new(Trail::from_openapi(&doc, args.audit_reads, args.limits.trusted_proxy_hops));
        let audit_reads = args.audit_reads;
        let doc_json = web::Bytes::from(openapi::render_json(&doc)?);
        let body_limit = args.body_limit_bytes;
        let body_timeout = Duration::from_millis(args.limits.client_body_timeout_ms);
        let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));

        let state_for_jobs = state.clone();
        let database_url = args.database.database_url.clone();
        let db_timeout = Duration::from_millis(args.database.db_timeout_ms);
        let server = HttpServer::new(move || {
            // The worker's reads and its audit writer share a connection
            // unless the writer waits for the disk (see audit::writer).
            let audit_setup = Some(AuditWriter::session_setup(audit_reads));
            let worker_db = WorkerConnection::with_setup(&database_url, db_timeout, audit_setup);
            let audit_db = if audit_reads == ReadAuditing::Durable {
                WorkerConnection::with_setup(&database_url, db_timeout, audit_setup)
            } else {
                worker_db.clone()
            };
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                // Made here, so on the worker's own thread: see db::worker.
                .app_data(worker_db.clone())
                .app_data(VerifiedTokens::default())
                .app_data(AuditWriter::new(audit_db))
                .app_data(trail.clone())
                .app_data(known_routes.clone())
                .app_data(BodyLimit { bytes: body_limit, timeout: body_timeout })
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::PathConfig::default().error_handler(fallback::path_error))
                .configure(routes)
                .split_for_parts();
            app.configure(client_links::pages::routes::configure)
                .service(web::redirect("/docs", "/docs/"))
                .route("/openapi.json", web::get().to(serve_document))
                .app_data(web::Data::new(OpenApiDocument(doc_json.clone())))
                .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
                .default_service(web::to(fallback::no_route))
                .wrap(from_fn(audit::trail::middleware))
                .wrap(metrics.clone())
                .wrap(from_fn(request_id::middleware))
        })
        .shutdown_timeout(args.shutdown_timeout_seconds)
        .workers(workers)
        // Slow or greedy clients: headers must arrive in time, idle
        // keep-alives close, and the instance holds a bounded number of
        // connections (actix counts them per worker).
        .client_request_timeout(Duration::from_millis(args.limits.client_request_timeout_ms))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(args.limits.keep_alive_seconds))
        .max_connections(args.limits.max_connections.div_ceil(workers).max(1))
        .listen(listener)?;
        let server = server.run();
        let dispatch = webhooks.filter(|_| args.webhooks.webhook_dispatch);
        let jobs = background_jobs(state_for_jobs, &pool, dispatch, &args.erasure, args.exports.settings());
        Ok(Self {
            port,
            server,
            metrics: metrics_server,
            jobs,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, unless turned off.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests and the
    /// background round under way finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        self.jobs.stop(self.shutdown_timeout).await;
        served
    }
}

/// `/metrics` on its own listener (one worker; it follows the API
/// server's shutdown rather than catching signals itself).
fn metrics_server(bind: &str, registry: prometheus::Registry) -> anyhow::Result<Option<(u16, Server)>> {
    if bind == "off" {
        return Ok(None);
    }
    let listener = TcpListener::bind(bind).with_context(|| format!("binding the metrics listener {bind}"))?;
    let port = listener.local_addr()?.port();
    let registry = web::Data::new(registry);
    let server =
        HttpServer::new(move || App::new().app_data(registry.clone()).route("/metrics", web::get().to(render_metrics)))
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
    Ok(Some((port, server)))
}

async fn render_metrics(registry: web::Data<prometheus::Registry>) -> actix_web::HttpResponse {
    use prometheus::Encoder;
    let encoder = prometheus::TextEncoder::new();
    let mut body = Vec::new();
    if let Err(err) = encoder.encode(&registry.gather(), &mut body) {
        tracing::warn!(error = %err, "encoding metrics failed");
        return actix_web::HttpResponse::InternalServerError().finish();
    }
    actix_web::HttpResponse::Ok().content_type(encoder.format_type()).body(body)
}

/// The OpenAPI document, rendered once at start.
struct OpenApiDocument(web::Bytes);

async fn serve_document(doc: web::Data<OpenApiDocument>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().content_type("application/json").body(doc.0.clone())
}

/// The background work every instance starts, through the shared runner.
fn background_jobs(
    state: web::Data<AppState>,
    pool: &DbPool,
    dispatch: Option<std::sync::Arc<crate::webhooks::Webhooks>>,
    erasure: &crate::config::ErasureArgs,
    exports: crate::exports::ExportSettings,
) -> Jobs {
    let mut jobs = Jobs::new();
    jobs.local("forget idle rate-limit buckets", Duration::from_secs(60), move || {
        let state = state.clone();
        async move {
            state.token_guard.forget_idle();
            state.link_guard.forget_idle();
            if let Some(limiter) = &state.practice_limiter {
                limiter.forget_idle();
            }
        }
    });
    background::database_jobs(&mut jobs, pool, dispatch, erasure, exports);
    jobs
}
