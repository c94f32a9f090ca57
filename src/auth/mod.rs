//! Authentication: the token endpoint, JWT signing and checking, scopes and
//! the `Auth<S>` extractor every `/v1` handler takes.

pub mod jwt;
pub mod model;
pub mod principal;
pub mod revocation;
pub mod routes;
pub mod scopes;
pub mod secret;
pub mod store;
pub mod verified_tokens;

pub use principal::{Auth, Principal};
pub use scopes::Scope;
