//! Database access: the connection pool, embedded migrations and the schema.

pub mod prepared;
pub mod schema;
pub mod worker;

use std::time::Duration;

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Builds the pool. Connections are made lazily, so the service starts (and
/// `/readyz` reports 503) while the database is still down. Waits are bounded:
/// a request never hangs on an unreachable database.
pub fn build_pool(database_url: &str, max_size: usize, wait: Duration) -> anyhow::Result<DbPool> {
    // Fast recycling: a checkout costs no ping round trip. A connection the
    // database dropped fails its next query (answered 503) and is marked
    // broken, so the pool replaces it.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    // tokio-postgres drives each connection from a task spawned where the
    // connection is opened. Opening it on the runtime that builds the pool
    // (the multi-threaded main runtime when serving) keeps those drivers off
    // the single-threaded HTTP workers, where a busy worker would starve the
    // connections other workers are waiting on.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        config.custom_setup = Box::new(move |url: &str| {
            let url = url.to_owned();
            let opened = runtime
                .spawn(async move { <AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url).await });
            Box::pin(async move {
                opened
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(format!("opening a connection: {e}")))?
            })
        });
    }
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .recycle_timeout(Some(wait))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// A pooled connection for background work (requests map pool errors to
/// 503 through `ApiError` instead).
pub async fn connection(pool: &DbPool) -> anyhow::Result<DbConn> {
    pool.get().await.map_err(|e| anyhow::anyhow!("connection pool: {e}"))
}

/// Applies pending migrations and returns the versions it ran.
///
/// The async harness drives tokio from inside a blocking call; running it on a
/// thread of its own (which gets its own small runtime) works from any caller,
/// async or not, single- or multi-threaded.
pub fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        let applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?
            .iter()
            .map(ToString::to_string)
            .collect();
        distribute_on_citus(&mut conn)?;
        Ok(applied)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the migration thread panicked"))?
}

/// On a Citus cluster, distributes whatever the migrations left plain
/// (every table, the first time; a table a migration forgot; the whole
/// schema of a database that gained the extension after it was migrated).
/// A no-op on plain PostgreSQL. The layout and how a new table keeps it are
/// in the `citus_distribution` migration; the functions whose calls run on
/// the practice's worker, in `citus_delegated_functions`.
fn distribute_on_citus(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> anyhow::Result<()> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT attune_distribute_schema()")
        .execute(conn)
        .map_err(|e| anyhow::anyhow!("distributing the schema on Citus: {e}"))?;
    // After the tables: a function's calls are colocated with them.
    diesel::sql_query("SELECT attune_distribute_functions()")
        .execute(conn)
        .map_err(|e| anyhow::anyhow!("distributing the functions on Citus: {e}"))?;
    Ok(())
}

/// Reverts every applied migration (used by the up-down-up test).
pub fn revert_all_migrations(database_url: &str) -> anyhow::Result<()> {
    let url = database_url.to_owned();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        conn.revert_all_migrations(MIGRATIONS).map_err(|e| anyhow::anyhow!("reverting migrations: {e}"))?;
        Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the migration thread panicked"))?
}

/// Runs `op` in one transaction on a pooled connection: multi-row writes
/// either all happen or none do.
pub async fn transaction<T, F>(pool: &DbPool, op: F) -> Result<T, crate::http::ApiError>
where
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
        ) -> futures_util::future::BoxFuture<'r, Result<T, crate::http::ApiError>>
        + Send,
    T: Send,
{
    use diesel_async::AsyncConnection;
    let mut conn = pool.get().await?;
    conn.transaction::<T, crate::http::ApiError, _>(async |conn| op(conn).await).await
}

/// Takes a transaction-scoped advisory lock named by `name`, ordering
/// concurrent writers of the same thing (e.g. the next version of one key).
pub async fn advisory_xact_lock(conn: &mut AsyncPgConnection, name: &str) -> diesel::QueryResult<()> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the current transaction as working across practices on purpose
/// (a background queue or sweep, never a request): on a Citus cluster its
/// statements may then reach every shard, even where sessions are set to
/// refuse that (`citus.multi_task_query_log_level = error`, the check that
/// each request stays on one shard). On plain PostgreSQL this only sets a
/// placeholder that nothing reads.
pub async fn across_practices(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    diesel_async::RunQueryDsl::execute(diesel::sql_query("SET LOCAL citus.multi_task_query_log_level = 'off'"), conn)
        .await?;
    Ok(())
}

/// A value as JSON for a jsonb column; a failure is a diesel error.
pub fn to_jsonb<T: serde::Serialize>(value: &T) -> diesel::QueryResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| diesel::result::Error::SerializationError(e.into()))
}

/// An insert another instance already made counts as done.
pub fn unless_already_inserted<T>(result: diesel::QueryResult<T>) -> diesel::QueryResult<()> {
    match result {
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        other => other.map(|_| ()),
    }
}
