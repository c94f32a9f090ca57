//! ETags from a row's version counter, and `If-Match` preconditions.

use actix_web::dev::Payload;
use actix_web::http::header::{self, EntityTag, Header, IfMatch};
use actix_web::{FromRequest, HttpRequest};

use super::problem::ApiError;

/// The strong ETag of a resource at `version`.
pub fn etag(version: i32) -> EntityTag {
    EntityTag::new_strong(format!("v{version}"))
}

/// What an update requires of the stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match` (or `If-Match: *`): update whatever is stored.
    Any,
    /// Update only while the stored version is one of these.
    Versions(Vec<i32>),
}

impl Precondition {
    pub fn allows(&self, version: i32) -> bool {
        match self {
            Precondition::Any => true,
            Precondition::Versions(versions) => versions.contains(&version),
        }
    }
}

impl FromRequest for Precondition {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse(req))
    }
}

fn parse(req: &HttpRequest) -> Result<Precondition, ApiError> {
    if !req.headers().contains_key(header::IF_MATCH) {
        return Ok(Precondition::Any);
    }
    match IfMatch::parse(req) {
        Ok(IfMatch::Any) => Ok(Precondition::Any),
        // If-Match compares strongly: weak or foreign tags never match, so they
        // leave an empty list and the update answers 412.
        Ok(IfMatch::Items(tags)) => Ok(Precondition::Versions(
            tags.iter().filter(|tag| !tag.weak).filter_map(|tag| tag.tag().strip_prefix('v')?.parse().ok()).collect(),
        )),
        Err(_) => Err(ApiError::bad_request("invalid_header", "If-Match", "not a list of entity tags")),
    }
}
