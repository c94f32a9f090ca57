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

use crate::auth::jwt::{ExternalIssuer, TokenKeys};
use crate::auth::revocation::RevocationCache;
use crate::config::{ExternalAlgorithm, ServeArgs};
use crate::db::{self, DbPool};
use crate::health::metrics::PoolCollector;
use crate::http::fallback::{self, KnownRoutes};
use crate::http::json::BodyLimit;
use crate::http::{idempotency, request_id};
use crate::openapi;
use crate::routes::routes;
use crate::state::{AppState, RuntimeSettings};

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
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            tokens,
            revocations: RevocationCache::new(Duration::from_secs(args.revocation_check_seconds)),
            settings: RuntimeSettings { token_lifetime_seconds: args.token_lifetime_seconds },
        });

        let registry = prometheus::Registry::new();
        registry.register(Box::new(PoolCollector::new(pool.clone())?))?;
        let metrics = PrometheusMetricsBuilder::new("attune")
            .registry(registry)
            .endpoint("/metrics")
            .mask_unmatched_patterns("UNMATCHED")
            .build()
            .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;

        let doc = openapi::document();
        let known_routes = web::Data::new(KnownRoutes::from_openapi(&doc));
        let doc_json = web::Bytes::from(openapi::document_json()?);
        let body_limit = args.body_limit_bytes;

        let listener = TcpListener::bind(&args.bind).with_context(|| format!("binding {}", args.bind))?;
        let port = listener.local_addr()?.port();
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(known_routes.clone())
                .app_data(BodyLimit(body_limit))
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::PathConfig::default().error_handler(fallback::path_error))
                .configure(routes)
                .split_for_parts();
            app.service(web::redirect("/docs", "/docs/"))
                .route("/openapi.json", web::get().to(serve_document))
                .app_data(web::Data::new(OpenApiDocument(doc_json.clone())))
                .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
                .default_service(web::to(fallback::no_route))
                .wrap(metrics.clone())
                .wrap(from_fn(request_id::middleware))
        })
        .shutdown_timeout(args.shutdown_timeout_seconds)
        .listen(listener)?;
        if let Some(workers) = args.workers {
            server = server.workers(workers);
        }
        let server = server.run();
        tokio::spawn(purge_idempotency_keys(pool));
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The OpenAPI document, rendered once at start.
struct OpenApiDocument(web::Bytes);

async fn serve_document(doc: web::Data<OpenApiDocument>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().content_type("application/json").body(doc.0.clone())
}

/// Hourly, forget idempotency keys past retention. Harmless on every instance.
async fn purge_idempotency_keys(pool: DbPool) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        let Ok(mut conn) = pool.get().await else { continue };
        match idempotency::purge_expired(&mut conn).await {
            Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
            Err(err) => tracing::warn!(error = %err, "purging idempotency keys"),
        }
    }
}
