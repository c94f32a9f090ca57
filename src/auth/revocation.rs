//! Revoked API clients lose their tokens within seconds, on every instance:
//! each instance re-reads a client's state from the database at most once per
//! TTL. This is a per-instance cache of database truth, not shared state.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::store;
use crate::db::DbPool;
use crate::http::ApiError;
use crate::practices::PracticeId;

pub struct RevocationCache {
    ttl: Duration,
    entries: RwLock<HashMap<Uuid, (Instant, bool)>>,
}

impl RevocationCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: RwLock::new(HashMap::new()) }
    }

    fn cached(&self, client_id: Uuid) -> Option<bool> {
        let entries = self.entries.read().ok()?;
        let (fetched, active) = entries.get(&client_id)?;
        (fetched.elapsed() < self.ttl).then_some(*active)
    }

    /// Whether the API client behind a token may still use it.
    pub async fn is_active(&self, pool: &DbPool, practice: PracticeId, client_id: Uuid) -> Result<bool, ApiError> {
        if let Some(active) = self.cached(client_id) {
            return Ok(active);
        }
        let mut conn = pool.get().await?;
        let active = store::client_is_active(&mut conn, practice, client_id).await?;
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(client_id, (Instant::now(), active));
        }
        Ok(active)
    }

    /// Drops what this instance knows of a client (after revoking it here).
    pub fn forget(&self, client_id: Uuid) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&client_id);
        }
    }
}
