//! The integration harness: each test gets the real application on a free
//! port, over its own PostgreSQL database cloned from a migrated template and
//! dropped afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use attune::bootstrap::{BootstrapOutput, bootstrap};
use attune::config::ServeArgs;
use attune::startup::Application;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long!";
/// The key that seals webhook signing secrets in tests.
pub const WEBHOOK_KEY: &str = "5e1f0c9a7b3d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5";
pub const ISSUER: &str = "attune";
pub const AUDIENCE: &str = "attune-api";
pub const EXTERNAL_ISSUER: &str = "https://idp.practice.test";
pub const EXTERNAL_AUDIENCE: &str = "attune";

/// The server's maintenance URL (any database on the test server).
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL must name a PostgreSQL server: run scripts/test")
}

/// The URL of database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, query) = admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The template's name changes whenever a migration does.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    let mut entries: Vec<_> = walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"));
    entries.sort();
    for path in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path).unwrap());
    }
    format!("attune_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Creates the migrated template once per server (test processes coordinate
/// with an advisory lock), then clones it.
pub async fn create_test_database() -> String {
    let template = template_name();
    let mut admin = AsyncPgConnection::establish(&admin_url()).await.unwrap();
    admin.batch_execute("SELECT pg_advisory_lock(727274)").await.unwrap();
    let found: Exists =
        diesel::sql_query(format!("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{template}') AS exists"))
            .get_result(&mut admin)
            .await
            .unwrap();
    if !found.exists {
        let building = format!("{template}_building");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building}")).await.unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {building}")).await.unwrap();
        attune::db::run_migrations(&database_url(&building)).unwrap();
        admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}")).await.unwrap();
    }
    admin.batch_execute("SELECT pg_advisory_unlock(727274)").await.unwrap();
    let name = format!("attune_test_{}", uuid::Uuid::now_v7().simple());
    admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await.unwrap();
    name
}

/// Drops a test database from a thread of its own (Drop cannot await).
pub fn drop_test_database(name: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url()).await {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            }
        });
    })
    .join();
}

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served (its own listener).
    pub metrics_address: String,
    pub db_name: String,
    pub db_url: String,
    /// Where the service connects (see [`SERVICE_DATABASE`]).
    pub service_db_url: String,
    pub http: reqwest::Client,
    pub practice_a: BootstrapOutput,
    pub practice_b: BootstrapOutput,
    pub proxy: Option<DbProxy>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !self.db_name.is_empty() {
            drop_test_database(self.db_name.clone());
        }
    }
}

/// A database the tests run on as it is, instead of a fresh clone of the
/// migrated template each: a Citus coordinator's, whose databases cannot be
/// cloned (`scripts/check-citus` runs the isolation probe and the workflow
/// there). Each test bootstraps practices of its own, so tests still do not
/// see each other's data; run them one at a time.
const SHARED_DATABASE: &str = "ATTUNE_TEST_DATABASE_URL";

/// Where the service under test connects, when not where the test does:
/// the same database with session options (Citus's refusal of statements
/// that leave one shard, which the test's own counting across practices
/// must not meet).
const SERVICE_DATABASE: &str = "ATTUNE_TEST_SERVICE_DATABASE_URL";

/// Settings a test service runs with; `tweak` changes them.
pub fn test_settings(db_url: &str) -> ServeArgs {
    let mut args = ServeArgs::with_database(db_url);
    args.bind = "127.0.0.1:0".to_owned();
    args.workers = Some(1);
    args.jwt_secret = Some(JWT_SECRET.to_owned());
    args.skip_migrations = true;
    args.revocation_check_seconds = 1;
    args.database.db_timeout_ms = 1000;
    args.body_limit_bytes = 16 * 1024;
    args.webhooks.webhook_key = Some(WEBHOOK_KEY.to_owned());
    args.metrics_bind = "127.0.0.1:0".to_owned();
    args
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::spawn_inner(tweak, false).await
    }

    /// The service reaches its database through a proxy the test can cut.
    pub async fn spawn_behind_proxy() -> TestApp {
        Self::spawn_inner(|_| {}, true).await
    }

    async fn spawn_inner(tweak: impl FnOnce(&mut ServeArgs), proxied: bool) -> TestApp {
        // TEST_LOG=1 shows the service's log lines (filtered by RUST_LOG).
        if std::env::var_os("TEST_LOG").is_some() {
            // The guard is leaked on purpose: the test process's log lives as long as it does.
            std::mem::forget(attune::telemetry::init(attune::config::LogFormat::Text));
        }
        let (db_name, db_url) = match std::env::var(SHARED_DATABASE) {
            Ok(url) => (String::new(), url),
            Err(_) => {
                let name = create_test_database().await;
                let url = database_url(&name);
                (name, url)
            }
        };
        let practice_a = bootstrap(&db_url, "Practice A", "integration").await.unwrap();
        let practice_b = bootstrap(&db_url, "Practice B", "integration").await.unwrap();
        let proxy = if proxied { Some(DbProxy::start(&db_url).await) } else { None };
        let service_db_url = std::env::var(SERVICE_DATABASE).unwrap_or_else(|_| db_url.clone());
        let service_url = proxy.as_ref().map_or_else(|| service_db_url.clone(), |p| p.url.clone());
        let mut settings = test_settings(&service_url);
        tweak(&mut settings);
        let app = Application::build(&settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port().unwrap_or(0));
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            metrics_address,
            db_name,
            db_url,
            service_db_url,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            practice_a,
            practice_b,
            proxy,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Starts another instance of the service on the same database (as a
    /// second node behind a load balancer would run); answers its address.
    pub async fn another_instance(&self, tweak: impl FnOnce(&mut ServeArgs)) -> String {
        let mut settings = test_settings(&self.service_db_url);
        tweak(&mut settings);
        let app = Application::build(&settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }

    /// A token for a practice's bootstrap client, optionally narrowed.
    pub async fn token_for(&self, creds: &BootstrapOutput, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_owned()));
        }
        let response = self
            .http
            .post(self.url("/v1/oauth/token"))
            .basic_auth(creds.client_id, Some(&creds.client_secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "token request failed");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn token_a(&self) -> String {
        self.token_for(&self.practice_a, None).await
    }

    pub async fn token_b(&self) -> String {
        self.token_for(&self.practice_b, None).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    /// Creates a client and returns its JSON.
    pub async fn create_client(&self, token: &str, body: Value) -> Value {
        let response = self.post_json("/v1/clients", token, &body).await;
        assert_eq!(response.status(), 201, "creating a client");
        response.json().await.unwrap()
    }

    /// A direct connection to the test database, for checking what was stored.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.db_url).await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let mut conn = self.db().await;
        let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
        row.count
    }
}

/// Asserts a problem+json answer with a status and code; returns its body.
/// A token request with HTTP Basic credentials, answered as it comes.
pub async fn token_with(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["type"], format!("urn:attune:problem:{code}"));
    assert!(body["title"].is_string());
    assert_eq!(body["request_id"].as_str().map(str::to_owned), request_id, "request_id matches the header");
    body
}

/// A TCP proxy in front of PostgreSQL that a test can cut and restore, to
/// play a database outage without stopping the shared server.
pub struct DbProxy {
    pub url: String,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accept: JoinHandle<()>,
}

impl DbProxy {
    async fn start(db_url: &str) -> DbProxy {
        let target = db_url.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = db_url.replacen(&target, &format!("127.0.0.1:{port}"), 1);
        let open = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let open = open.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !AtomicBool::load(&open, Ordering::SeqCst) {
                        continue; // dropped: the connection is refused at once
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().await.push(task);
                }
            })
        };
        DbProxy { url, open, connections, _accept: accept }
    }

    /// Cuts every open connection and refuses new ones.
    pub async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.connections.lock().await.drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}
