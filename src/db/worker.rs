//! Each HTTP worker's own database connection, for short reads.
//!
//! A pooled connection is driven by a task on the main runtime, so every
//! query crosses threads twice (worker -> driver -> worker), and each query
//! has a connection, and so a PostgreSQL backend, to itself: one wake-up on
//! each side per query. Profiling `GET /v1/clients/{id}` showed those two
//! costs to be most of the distance to the hardware (issue 13).
//!
//! A worker's own connection is opened on the worker's thread, so its driver
//! runs there and a query never leaves the thread; and every request the
//! worker serves shares it, so reads that arrive together go out together:
//! tokio-postgres pipelines them, one write and one backend wake-up for the
//! batch. The price is head-of-line blocking: a slow statement delays the
//! worker's other reads. So only short, bounded statements belong here (a
//! row by its key); anything that scans, runs long or needs a transaction
//! takes a pooled connection.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::OnceCell;

use crate::http::ApiError;

/// A worker's connection, opened on first use and opened again after it
/// fails. Cheap to clone; never leaves its worker's thread.
#[derive(Clone)]
pub struct WorkerConnection(Rc<Inner>);

struct Inner {
    database_url: String,
    connect_timeout: Duration,
    /// Run once on each new connection (session settings).
    setup: Option<&'static str>,
    /// The current connection (or its opening, which concurrent first
    /// readers wait on together). Replaced by a fresh cell when it fails.
    slot: RefCell<Rc<OnceCell<Rc<AsyncPgConnection>>>>,
}

impl WorkerConnection {
    /// A connection to `database_url`, opened lazily (so a worker starts
    /// while the database is down) within `connect_timeout`.
    pub fn new(database_url: &str, connect_timeout: Duration) -> Self {
        Self::with_setup(database_url, connect_timeout, None)
    }

    /// The same, running `setup` (session settings) on each new connection.
    pub fn with_setup(database_url: &str, connect_timeout: Duration, setup: Option<&'static str>) -> Self {
        Self(Rc::new(Inner {
            database_url: database_url.to_owned(),
            connect_timeout,
            setup,
            slot: RefCell::new(Rc::new(OnceCell::new())),
        }))
    }

    /// Runs short statements on the worker's connection; those of the same
    /// worker that run at the same time share round trips. A lost
    /// connection answers 503 and is replaced on the next use.
    pub async fn run<T>(&self, query: impl AsyncFnOnce(&AsyncPgConnection) -> QueryResult<T>) -> Result<T, ApiError> {
        let slot = self.0.slot.borrow().clone();
        let conn = slot.get_or_try_init(|| self.connect()).await?.clone();
        let result = query(&conn).await.map_err(ApiError::from);
        if matches!(result, Err(ApiError::Unavailable(_))) {
            self.forget(&slot);
        }
        result
    }

    async fn connect(&self) -> Result<Rc<AsyncPgConnection>, ApiError> {
        let setup = self.0.setup;
        let opening = async move {
            let mut conn = AsyncPgConnection::establish(&self.0.database_url).await?;
            if let Some(setup) = setup {
                diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, setup)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            }
            Ok::<_, diesel::ConnectionError>(conn)
        };
        match tokio::time::timeout(self.0.connect_timeout, opening).await {
            Ok(Ok(conn)) => Ok(Rc::new(conn)),
            Ok(Err(err)) => Err(ApiError::Unavailable(anyhow::anyhow!("opening the worker's connection: {err}"))),
            Err(_) => Err(ApiError::Unavailable(anyhow::anyhow!("opening the worker's connection timed out"))),
        }
    }

    /// Drops a failed connection, unless another read already replaced it.
    fn forget(&self, failed: &Rc<OnceCell<Rc<AsyncPgConnection>>>) {
        let mut slot = self.0.slot.borrow_mut();
        if Rc::ptr_eq(&slot, failed) {
            *slot = Rc::new(OnceCell::new());
        }
    }
}

impl FromRequest for WorkerConnection {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.app_data::<WorkerConnection>()
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the worker's connection is not configured"))),
        )
    }
}
