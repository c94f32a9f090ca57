//! HTTP conventions shared by every resource: problem+json errors, request
//! ids, validated JSON, keyset pagination, ETags and idempotent writes.

pub mod body;
pub mod etag;
pub mod fallback;
pub mod headers;
pub mod idempotency;
pub mod json;
pub mod pagination;
pub mod problem;
pub mod request_id;
pub mod responses;

pub use problem::{ApiError, FieldError, ProblemDetails};
