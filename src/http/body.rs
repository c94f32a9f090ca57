//! Reading a request body whole, within the size limit and the body timeout
//! (`BodyLimit`), for every extractor that takes one: JSON bodies, the token
//! endpoint's form and the client pages' forms alike. A body trickled in a
//! byte at a time would otherwise hold a worker's slot for as long as its
//! sender likes.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use super::problem::ApiError;

/// The largest request body accepted, and how long it may take to arrive (app data).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    pub bytes: usize,
    pub timeout: std::time::Duration,
}

impl BodyLimit {
    /// The application's limit, or the defaults where none is configured.
    pub fn of(req: &HttpRequest) -> Self {
        req.app_data::<Self>()
            .copied()
            .unwrap_or(Self { bytes: 64 * 1024, timeout: std::time::Duration::from_secs(10) })
    }
}

/// A request body of any media type, read whole.
pub struct Body(pub web::Bytes);

impl FromRequest for Body {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read(req, payload);
        Box::pin(async move { Ok(Body(read.await?)) })
    }
}

/// Reads the body of `req`: 413 past the limit (declared or sent), 408 when
/// it does not arrive whole in time.
pub fn read(req: &HttpRequest, payload: &mut Payload) -> impl Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let BodyLimit { bytes: limit, timeout } = BodyLimit::of(req);
    let declared_len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared_len.is_some_and(|len| len > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        tokio::time::timeout(timeout, async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| {
                    ApiError::bad_request("malformed_body", "body", "the request body could not be read")
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        })
        .await
        .map_err(|_| ApiError::RequestTimeout)?
    }
}
