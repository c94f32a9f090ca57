//! Idempotent writes. Every POST runs through [`write`]: in one transaction
//! it claims the caller's `Idempotency-Key`, performs the write and stores the
//! answer. A concurrent retry blocks on the key's row until the first commits,
//! then replays its answer; a failed write rolls the key back with it, so a
//! retry runs afresh. Keys are scoped by practice and kept for 24 hours.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use crate::db::DbPool;
use crate::db::schema::idempotency_keys;
use crate::practices::PracticeId;

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
const RETENTION_HOURS: i64 = 24;
const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, when it sent one.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(HEADER) {
            None => Ok(IdempotencyKey(None)),
            Some(value) => value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic()))
                .map(|key| IdempotencyKey(Some(key.to_owned())))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_header", HEADER, "must be 1 to 255 visible ASCII characters")
                }),
        };
        std::future::ready(parsed)
    }
}

/// What a write answers, in a form that can be stored and replayed.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub status: u16,
    pub body: Value,
    pub location: Option<String>,
    pub etag: Option<String>,
    /// `Content-Location`: where an accepted (202) request can be followed.
    pub content_location: Option<String>,
    /// Holds a secret shown once: stored without its body, and a replay
    /// answers 409 instead of showing the secret again.
    pub sensitive: bool,
}

/// The headers of a stored answer that a replay repeats.
#[derive(Debug, Serialize, serde::Deserialize)]
struct StoredHeaders {
    location: Option<String>,
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_location: Option<String>,
}

impl WriteOutcome {
    /// A 201 with the new resource, its `Location` and `ETag`.
    pub fn created(body: impl Serialize, location: String, etag: Option<String>) -> Result<Self, ApiError> {
        Ok(Self {
            status: 201,
            body: serde_json::to_value(body).map_err(ApiError::internal)?,
            location: Some(location),
            etag,
            content_location: None,
            sensitive: false,
        })
    }

    /// A 202 with a status body and the `Content-Location` to poll.
    pub fn accepted(body: impl Serialize, content_location: String) -> Result<Self, ApiError> {
        Ok(Self {
            status: 202,
            body: serde_json::to_value(body).map_err(ApiError::internal)?,
            location: None,
            etag: None,
            content_location: Some(content_location),
            sensitive: false,
        })
    }

    /// A 200 with a body.
    pub fn ok(body: impl Serialize) -> Result<Self, ApiError> {
        Ok(Self {
            status: 200,
            body: serde_json::to_value(body).map_err(ApiError::internal)?,
            location: None,
            etag: None,
            content_location: None,
            sensitive: false,
        })
    }

    fn into_response(self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        if let Some(location) = self.location {
            response.insert_header((header::LOCATION, location));
        }
        if let Some(etag) = self.etag {
            response.insert_header((header::ETAG, etag));
        }
        if let Some(content_location) = self.content_location {
            response.insert_header((header::CONTENT_LOCATION, content_location));
        }
        if replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        response.json(self.body)
    }
}

/// Identifies a request for key reuse: method, path and the canonical JSON
/// of the parsed body (so whitespace and member order do not matter).
pub fn fingerprint(req: &HttpRequest, body: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    let json = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.path());
    hasher.update(b"\n");
    hasher.update(&json);
    Ok(hasher.finalize().to_vec())
}

/// Runs `op` in a transaction, guarded by the key when one was sent.
pub async fn write<F>(
    pool: &DbPool,
    practice: PracticeId,
    key: IdempotencyKey,
    fingerprint: Vec<u8>,
    op: F,
) -> Result<HttpResponse, ApiError>
where
    F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> BoxFuture<'r, Result<WriteOutcome, ApiError>> + Send + 'static,
{
    let (outcome, replayed) = crate::db::transaction(pool, move |conn| {
        Box::pin(async move {
            let Some(key) = key.0 else {
                return Ok((op(conn).await?, false));
            };
            if let Some(stored) = claim(conn, practice, &key, &fingerprint).await? {
                return Ok((stored, true));
            }
            let outcome = op(conn).await?;
            save(conn, practice, &key, &outcome).await?;
            Ok((outcome, false))
        })
    })
    .await?;
    Ok(outcome.into_response(replayed))
}

#[derive(Queryable)]
struct StoredKey {
    request_hash: Vec<u8>,
    response_status: Option<i16>,
    response_body: Option<String>,
    response_headers: Option<Value>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// Claims the key for this request, or returns the answer stored under it.
/// An INSERT that meets a key still held by an open transaction waits for it.
async fn claim(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    key: &str,
    fingerprint: &[u8],
) -> Result<Option<WriteOutcome>, ApiError> {
    for _ in 0..2 {
        let inserted = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::practice_id.eq(practice.0),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(fingerprint),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(None);
        }
        let stored: StoredKey = idempotency_keys::table
            .filter(idempotency_keys::practice_id.eq(practice.0))
            .filter(idempotency_keys::key.eq(key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
                idempotency_keys::response_headers,
                idempotency_keys::created_at,
            ))
            .first(conn)
            .await?;
        if stored.created_at < chrono::Utc::now() - chrono::Duration::hours(RETENTION_HOURS) {
            // Expired: forget it and claim it afresh.
            diesel::delete(idempotency_keys::table)
                .filter(idempotency_keys::practice_id.eq(practice.0))
                .filter(idempotency_keys::key.eq(key))
                .execute(conn)
                .await?;
            continue;
        }
        if stored.request_hash != fingerprint {
            return Err(ApiError::IdempotencyMismatch);
        }
        let headers: StoredHeaders = stored
            .response_headers
            .and_then(|h| serde_json::from_value(h).ok())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency key without a stored answer")))?;
        let Some(body) = stored.response_body.and_then(|text| serde_json::from_str(&text).ok()) else {
            return Err(ApiError::Conflict {
                code: "secret_not_replayable",
                detail: "the first request with this key succeeded, but its answer held a secret that is shown once"
                    .to_owned(),
            });
        };
        return Ok(Some(WriteOutcome {
            status: stored.response_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
            body,
            location: headers.location,
            etag: headers.etag,
            content_location: headers.content_location,
            sensitive: false,
        }));
    }
    Err(ApiError::internal(anyhow::anyhow!("could not claim an idempotency key")))
}

async fn save(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    key: &str,
    outcome: &WriteOutcome,
) -> Result<(), ApiError> {
    let headers = serde_json::to_value(StoredHeaders {
        location: outcome.location.clone(),
        etag: outcome.etag.clone(),
        content_location: outcome.content_location.clone(),
    })
    .map_err(ApiError::internal)?;
    diesel::update(idempotency_keys::table)
        .filter(idempotency_keys::practice_id.eq(practice.0))
        .filter(idempotency_keys::key.eq(key))
        .set((
            idempotency_keys::response_status.eq(i16::try_from(outcome.status).unwrap_or(200)),
            idempotency_keys::response_body.eq((!outcome.sensitive).then(|| outcome.body.to_string())),
            idempotency_keys::response_headers.eq(headers),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes keys past their retention. Safe to run on every instance at once.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(RETENTION_HOURS);
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff))).execute(conn).await
}
