//! What every handler may reach. It sits below the routes: handlers import
//! it from here, and startup builds it, so nothing imports startup but main.

use crate::auth::jwt::TokenKeys;
use crate::auth::revocation::RevocationCache;
use crate::db::DbPool;

/// What every handler may reach.
pub struct AppState {
    pub pool: DbPool,
    pub tokens: TokenKeys,
    pub revocations: RevocationCache,
    pub settings: RuntimeSettings,
}

pub struct RuntimeSettings {
    pub token_lifetime_seconds: i64,
}
