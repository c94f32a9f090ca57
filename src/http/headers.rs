//! The request headers operations share, documented once with the rules the
//! extractors enforce ([`super::idempotency::IdempotencyKey`],
//! [`super::etag::Precondition`]), so generated clients and validators
//! know them.

use utoipa::IntoParams;

/// `Idempotency-Key` on a POST.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader {
    /// Makes a retry safe: the same key and body replay the first answer (1 to 255 visible
    /// ASCII characters). An answer that showed a secret is not replayed: it answers 409.
    #[param(
        rename = "Idempotency-Key",
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = r"^[\x21-\x7E]{1,255}$"
    )]
    idempotency_key: String,
}

/// `If-Match` on an update.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatchHeader {
    /// The ETag you read (or `*`); 412 when the resource has changed since.
    #[param(
        rename = "If-Match",
        required = false,
        pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"( *, *(W/)?"[\x21\x23-\x7E]*")*)$"#
    )]
    if_match: String,
}

/// `Accept-Language` on a read of text a client may see.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct AcceptLanguageHeader {
    /// The languages you prefer (`es-MX, es;q=0.9, en;q=0.5`): text comes in
    /// the first one the definition has a translation for, and the answer's
    /// `Content-Language` says which. Without a translation, the
    /// definition's own words (and no `Content-Language` unless English was asked for).
    #[param(rename = "Accept-Language", required = false, max_length = 512)]
    accept_language: String,
}
