//! Endpoint, delivery and attempt queries. Request-side functions take the
//! practice first; the dispatcher's work (fan-out, claiming) spans practices
//! and is marked so.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::WebhookEndpointPatch;
use super::schedule::{DisableReason, Verdict};
use super::sender::Attempt;
use crate::db::schema::{event_sequences, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::http::etag::Precondition;
use crate::http::pagination::PageRequest;
use crate::practices::PracticeId;

/// The body sent for an event: the feed's representation of it (over `events e`).
pub(crate) const EVENT_BODY: &str = "json_build_object('id', e.id, 'type', e.type, 'sequence', e.sequence, \
     'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
     'data', e.data)::text";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub secret_sealed: Vec<u8>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub event_cursor: i64,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub disabled_by_event_id: Option<Uuid>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The practice's last event number (0 before its first event), once what
/// was written until now is numbered: an endpoint starts after it, so it
/// hears only what happens once it is registered.
async fn last_sequence(conn: &mut AsyncPgConnection, practice: PracticeId) -> QueryResult<i64> {
    crate::events::store::sequence(conn, practice).await?;
    Ok(event_sequences::table
        .filter(event_sequences::practice_id.eq(practice.0))
        .select(event_sequences::last_sequence)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(0))
}

pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: Vec<&'static str>,
    pub enabled: bool,
    pub secret_sealed: Vec<u8>,
}

/// Inserts an endpoint that hears of events from now on.
pub async fn insert_endpoint(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    new: NewEndpoint<'_>,
) -> QueryResult<EndpointRow> {
    let cursor = last_sequence(conn, practice).await?;
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::practice_id.eq(practice.0),
            webhook_endpoints::id.eq(new.id),
            webhook_endpoints::url.eq(new.url),
            webhook_endpoints::description.eq(new.description),
            webhook_endpoints::event_types.eq(new.event_types),
            webhook_endpoints::enabled.eq(new.enabled),
            webhook_endpoints::secret_sealed.eq(new.secret_sealed),
            webhook_endpoints::event_cursor.eq(cursor),
        ))
        .returning(EndpointRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn list_endpoints(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    page: PageRequest,
) -> QueryResult<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table
        .filter(webhook_endpoints::practice_id.eq(practice.0))
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::id.asc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(after) = page.after {
        query = query.filter(webhook_endpoints::id.gt(after));
    }
    query.load(conn).await
}

pub async fn find_endpoint(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::practice_id.eq(practice.0))
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .first(&mut { conn })
        .await
        .optional()
}

async fn lock_endpoint(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::practice_id.eq(practice.0))
        .filter(webhook_endpoints::id.eq(id))
        .select(EndpointRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// How a change to an endpoint went.
pub enum EndpointChange {
    Done(Box<EndpointRow>),
    NotFound,
    Stale,
}

/// Applies a merge patch. Enabling a disabled endpoint clears why it was
/// disabled and starts it at the practice's current event: what happened
/// while it was off is sent with `redeliver`, on purpose rather than as a flood.
pub async fn update_endpoint(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    patch: &WebhookEndpointPatch,
    event_types: Option<Vec<&'static str>>,
    precondition: &Precondition,
) -> QueryResult<EndpointChange> {
    let Some(current) = lock_endpoint(conn, practice, id).await? else { return Ok(EndpointChange::NotFound) };
    if !precondition.allows(current.version) {
        return Ok(EndpointChange::Stale);
    }
    let enabled = patch.enabled.unwrap_or(current.enabled);
    let reenabled = enabled && !current.enabled;
    // The row is locked, so the dispatcher cannot change what is kept here.
    let (cursor, failing_since, disabled_reason, disabled_at, disabled_by) = if reenabled {
        (last_sequence(conn, practice).await?, None, None, None, None)
    } else {
        (
            current.event_cursor,
            current.failing_since,
            current.disabled_reason,
            current.disabled_at,
            current.disabled_by_event_id,
        )
    };
    let row = diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::practice_id.eq(practice.0))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .set((
        webhook_endpoints::event_cursor.eq(cursor),
        webhook_endpoints::failing_since.eq(failing_since),
        webhook_endpoints::disabled_reason.eq(disabled_reason),
        webhook_endpoints::disabled_at.eq(disabled_at),
        webhook_endpoints::disabled_by_event_id.eq(disabled_by),
        webhook_endpoints::url.eq(patch.url.as_ref().unwrap_or(&current.url)),
        webhook_endpoints::description.eq(patch.description.as_ref().unwrap_or(&current.description)),
        webhook_endpoints::event_types
            .eq(event_types.map_or(current.event_types, |types| types.into_iter().map(str::to_owned).collect())),
        webhook_endpoints::enabled.eq(enabled),
        webhook_endpoints::version.eq(current.version + 1),
        webhook_endpoints::updated_at.eq(diesel::dsl::now),
    ))
    .returning(EndpointRow::as_returning())
    .get_result(conn)
    .await?;
    Ok(EndpointChange::Done(Box::new(row)))
}

/// Replaces the signing secret; the old one keeps signing until `overlap_until`.
pub async fn rotate_secret(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    sealed: Vec<u8>,
    overlap_until: DateTime<Utc>,
) -> QueryResult<Option<EndpointRow>> {
    let Some(current) = lock_endpoint(conn, practice, id).await? else { return Ok(None) };
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::practice_id.eq(practice.0))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .set((
        webhook_endpoints::previous_secret_sealed.eq(Some(current.secret_sealed)),
        webhook_endpoints::previous_secret_expires_at.eq(Some(overlap_until)),
        webhook_endpoints::secret_sealed.eq(sealed),
        webhook_endpoints::version.eq(current.version + 1),
        webhook_endpoints::updated_at.eq(diesel::dsl::now),
    ))
    .returning(EndpointRow::as_returning())
    .get_result(conn)
    .await
    .map(Some)
}

/// Deletes an endpoint with its deliveries; `false` when there is none.
pub async fn delete_endpoint(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> QueryResult<bool> {
    let deleted = diesel::delete(
        webhook_endpoints::table
            .filter(webhook_endpoints::practice_id.eq(practice.0))
            .filter(webhook_endpoints::id.eq(id)),
    )
    .execute(conn)
    .await?;
    Ok(deleted > 0)
}

#[derive(Debug, Clone, Queryable)]
pub struct AttemptRow {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    pub response: Option<String>,
    pub webhook_id: Uuid,
    pub event_type: String,
    pub state: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// An endpoint's attempts, newest first.
pub async fn list_attempts(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    endpoint: Uuid,
    page: PageRequest,
) -> QueryResult<Vec<AttemptRow>> {
    let mut query = webhook_attempts::table
        .inner_join(
            webhook_deliveries::table.on(webhook_deliveries::practice_id
                .eq(webhook_attempts::practice_id)
                .and(webhook_deliveries::id.eq(webhook_attempts::delivery_id))),
        )
        .filter(webhook_attempts::practice_id.eq(practice.0))
        .filter(webhook_attempts::endpoint_id.eq(endpoint))
        .select((
            webhook_attempts::id,
            webhook_attempts::delivery_id,
            webhook_attempts::attempt,
            webhook_attempts::attempted_at,
            webhook_attempts::status_code,
            webhook_attempts::latency_ms,
            webhook_attempts::error,
            webhook_attempts::response,
            webhook_deliveries::webhook_id,
            webhook_deliveries::event_type,
            webhook_deliveries::state,
            webhook_deliveries::next_attempt_at,
        ))
        .order(webhook_attempts::id.desc())
        .limit(page.fetch_limit())
        .into_boxed();
    if let Some(before) = page.after {
        query = query.filter(webhook_attempts::id.lt(before));
    }
    query.load(conn).await
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Queues the practice's events, one by id or all of the endpoint's types
/// since a time, for another delivery to the endpoint (each with its own id
/// as `webhook-id`, as at first).
pub async fn queue_redelivery(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    endpoint: Uuid,
    event_id: Option<Uuid>,
    since: Option<DateTime<Utc>>,
) -> QueryResult<i64> {
    // Share-locked in a statement of its own, before the events are read:
    // an erasure (which takes the practice's endpoints for update before it
    // redacts events) either waits for this to commit, then rewrites what it
    // queued, or commits first, and this reads the redacted events.
    diesel::sql_query("SELECT 1 FROM webhook_endpoints WHERE practice_id = $1 AND id = $2 FOR SHARE")
        .bind::<SqlUuid, _>(practice.0)
        .bind::<SqlUuid, _>(endpoint)
        .execute(conn)
        .await?;
    let sql = format!(
        "WITH queued AS ( \
             INSERT INTO webhook_deliveries (practice_id, id, endpoint_id, webhook_id, event_type, body, next_attempt_at) \
             SELECT e.practice_id, attune_uuid_v7(), w.id, e.id, e.type, {EVENT_BODY}, now() \
             FROM webhook_endpoints w JOIN events e ON e.practice_id = w.practice_id \
             WHERE w.practice_id = $1 AND w.id = $2 \
               AND ($3::uuid IS NULL OR e.id = $3) \
               AND ($4::timestamptz IS NULL OR (e.occurred_at >= $4 AND e.type = ANY (w.event_types))) \
             ORDER BY e.sequence \
             RETURNING 1) \
         SELECT count(*) AS count FROM queued"
    );
    let Count { count } = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(practice.0)
        .bind::<SqlUuid, _>(endpoint)
        .bind::<Nullable<SqlUuid>, _>(event_id)
        .bind::<Nullable<Timestamptz>, _>(since)
        .get_result(conn)
        .await?;
    Ok(count)
}

/// Records a test delivery, made at once and tried once.
pub async fn record_test_delivery(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    endpoint: Uuid,
    message: &TestMessage<'_>,
    attempt: &Attempt,
) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::practice_id.eq(practice.0),
            webhook_deliveries::id.eq(message.delivery_id),
            webhook_deliveries::endpoint_id.eq(endpoint),
            webhook_deliveries::webhook_id.eq(message.webhook_id),
            webhook_deliveries::event_type.eq(super::TEST_EVENT_TYPE),
            webhook_deliveries::body.eq(message.body),
            webhook_deliveries::state.eq(if attempt.succeeded() { "succeeded" } else { "failed" }),
            webhook_deliveries::attempts.eq(1),
            webhook_deliveries::finished_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    insert_attempt(conn, practice, endpoint, message.delivery_id, 1, attempt, attempt.response.as_deref()).await
}

pub struct TestMessage<'a> {
    pub delivery_id: Uuid,
    pub webhook_id: Uuid,
    pub body: &'a str,
}

async fn insert_attempt(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    endpoint: Uuid,
    delivery: Uuid,
    number: i32,
    attempt: &Attempt,
    response: Option<&str>,
) -> QueryResult<()> {
    let latency_ms = attempt.latency_ms();
    let attempted_at = Utc::now() - chrono::Duration::milliseconds(i64::from(latency_ms));
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::practice_id.eq(practice.0),
            webhook_attempts::id.eq(Uuid::now_v7()),
            webhook_attempts::delivery_id.eq(delivery),
            webhook_attempts::endpoint_id.eq(endpoint),
            webhook_attempts::attempt.eq(number),
            webhook_attempts::attempted_at.eq(attempted_at),
            webhook_attempts::status_code.eq(attempt.status.map(i32::from)),
            webhook_attempts::latency_ms.eq(latency_ms),
            webhook_attempts::error.eq(attempt.error.as_deref()),
            webhook_attempts::response.eq(response),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

// ---- The dispatcher's work: across practices, not on a request's behalf.

#[derive(QueryableByName)]
struct FannedOut {
    #[diesel(sql_type = BigInt)]
    queued: i64,
}

#[derive(QueryableByName)]
struct EndpointKey {
    #[diesel(sql_type = SqlUuid)]
    practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
}

/// Runs a look-up of endpoints across practices (the dispatcher's, never a
/// request's) in a transaction of its own that says so: on Citus it reads
/// every shard, and takes no lock there, which Citus refuses across shards.
/// Each endpoint found is then worked on by statements of its practice.
async fn endpoints_across_practices(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    limit: i64,
) -> QueryResult<Vec<EndpointKey>> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        crate::db::across_practices(conn).await?;
        diesel::sql_query(sql).bind::<BigInt, _>(limit).load(conn).await
    })
    .await
}

/// Enabled endpoints whose practice has events past their cursor.
const BEHIND: &str = "\
SELECT w.practice_id, w.id AS endpoint_id
  FROM webhook_endpoints w JOIN event_sequences s ON s.practice_id = w.practice_id
 WHERE w.enabled AND s.last_sequence > w.event_cursor
 ORDER BY w.practice_id, w.id LIMIT $1";

/// Endpoints a round of fan-out looks at, at most.
const FAN_OUT_ENDPOINTS: i64 = 200;

/// Moves endpoints' cursors over new events, queueing a delivery for each
/// event of a wanted type; at most `per_endpoint` events per endpoint per
/// call. Endpoints another instance is moving are skipped.
pub async fn fan_out(conn: &mut AsyncPgConnection, per_endpoint: i64) -> QueryResult<i64> {
    let mut queued = 0;
    for endpoint in endpoints_across_practices(conn, BEHIND, FAN_OUT_ENDPOINTS).await? {
        queued += fan_out_endpoint(conn, endpoint, per_endpoint).await?;
    }
    Ok(queued)
}

/// One endpoint's fan-out, on its practice's shard: the endpoint is locked
/// (or skipped, when another instance holds it), the deliveries queued and
/// the cursor moved in one statement.
async fn fan_out_endpoint(conn: &mut AsyncPgConnection, endpoint: EndpointKey, per_endpoint: i64) -> QueryResult<i64> {
    // `moved` is not read: a data-modifying WITH runs to completion regardless.
    let sql = format!(
        "WITH due AS ( \
             SELECT w.practice_id, w.id, w.event_cursor AS after, \
                    least(s.last_sequence, w.event_cursor + $1) AS upto, w.event_types \
             FROM webhook_endpoints w JOIN event_sequences s ON s.practice_id = w.practice_id \
             WHERE w.practice_id = $2 AND s.practice_id = $2 AND w.id = $3 \
               AND w.enabled AND s.last_sequence > w.event_cursor \
             FOR UPDATE OF w SKIP LOCKED), \
         queued AS ( \
             INSERT INTO webhook_deliveries (practice_id, id, endpoint_id, webhook_id, event_type, body, next_attempt_at) \
             SELECT e.practice_id, attune_uuid_v7(), due.id, e.id, e.type, {EVENT_BODY}, now() \
             FROM due JOIN events e ON e.practice_id = due.practice_id \
                  AND e.sequence > due.after AND e.sequence <= due.upto \
             WHERE e.practice_id = $2 AND e.type = ANY (due.event_types) \
             ORDER BY e.sequence \
             RETURNING 1), \
         moved AS ( \
             UPDATE webhook_endpoints w SET event_cursor = due.upto FROM due \
             WHERE w.practice_id = $2 AND w.id = due.id RETURNING 1) \
         SELECT (SELECT count(*) FROM queued) AS queued"
    );
    let FannedOut { queued } = diesel::sql_query(sql)
        .bind::<BigInt, _>(per_endpoint)
        .bind::<SqlUuid, _>(endpoint.practice_id)
        .bind::<SqlUuid, _>(endpoint.endpoint_id)
        .get_result(conn)
        .await?;
    Ok(queued)
}

/// A delivery this instance holds the lease of, with what sending it needs.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub practice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub webhook_id: Uuid,
    #[diesel(sql_type = Text)]
    pub body: String,
    /// This attempt's number.
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Bytea)]
    pub secret_sealed: Vec<u8>,
    #[diesel(sql_type = Nullable<Bytea>)]
    pub previous_secret_sealed: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub failing_since: Option<DateTime<Utc>>,
}

/// Enabled endpoints with deliveries due and not leased, the one whose
/// oldest has waited longest first.
const WAITING: &str = "\
SELECT w.practice_id, w.id AS endpoint_id
  FROM webhook_endpoints w
 CROSS JOIN LATERAL (
     SELECT d.next_attempt_at FROM webhook_deliveries d
      WHERE d.practice_id = w.practice_id AND d.endpoint_id = w.id AND d.state = 'pending'
        AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
      ORDER BY d.next_attempt_at LIMIT 1) oldest
 WHERE w.enabled
 ORDER BY oldest.next_attempt_at LIMIT $1";

/// Takes the lease of up to `batch` due deliveries, at most `per_endpoint`
/// in flight per endpoint across every instance, so that one slow receiver
/// holds only its own share. The endpoints with work are read across
/// practices without locks; each endpoint's deliveries are then taken on
/// its practice's shard with `FOR UPDATE SKIP LOCKED`, so instances
/// claiming at once take different rows; the lease, not the lock, then
/// keeps them apart while the HTTP call runs (no transaction stays open
/// across it).
pub async fn claim(
    conn: &mut AsyncPgConnection,
    batch: i64,
    per_endpoint: i64,
    lease: Duration,
) -> QueryResult<Vec<Claimed>> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let mut claimed = Vec::new();
    for endpoint in endpoints_across_practices(conn, WAITING, batch).await? {
        let room = batch - i64::try_from(claimed.len()).unwrap_or(i64::MAX);
        if room <= 0 {
            break;
        }
        claimed.extend(claim_endpoint(conn, &endpoint, room, per_endpoint, lease_ms).await?);
    }
    Ok(claimed)
}

/// Leases up to `room` of one endpoint's due deliveries, less what it
/// already has in flight below `per_endpoint`.
async fn claim_endpoint(
    conn: &mut AsyncPgConnection,
    endpoint: &EndpointKey,
    room: i64,
    per_endpoint: i64,
    lease_ms: i64,
) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "WITH busy AS ( \
             SELECT count(*) AS n FROM webhook_deliveries d \
             WHERE d.practice_id = $1 AND d.endpoint_id = $2 AND d.state = 'pending' \
               AND d.leased_until IS NOT NULL AND d.leased_until >= now()), \
         chosen AS ( \
             SELECT d.id FROM webhook_deliveries d \
             WHERE d.practice_id = $1 AND d.endpoint_id = $2 AND d.state = 'pending' \
               AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now()) \
             ORDER BY d.next_attempt_at, d.id \
             LIMIT greatest(0, least($3, $4 - (SELECT n FROM busy))) \
             FOR UPDATE SKIP LOCKED) \
         UPDATE webhook_deliveries d \
         SET leased_until = now() + $5 * interval '1 millisecond', attempts = d.attempts + 1 \
         FROM chosen, webhook_endpoints w \
         WHERE d.practice_id = $1 AND d.id = chosen.id AND w.practice_id = $1 AND w.id = $2 AND w.enabled \
         RETURNING d.practice_id, d.id, d.endpoint_id, d.webhook_id, d.body, d.attempts, w.url, \
                   w.secret_sealed, w.previous_secret_sealed, w.previous_secret_expires_at, w.failing_since",
    )
    .bind::<SqlUuid, _>(endpoint.practice_id)
    .bind::<SqlUuid, _>(endpoint.endpoint_id)
    .bind::<BigInt, _>(room)
    .bind::<BigInt, _>(per_endpoint)
    .bind::<BigInt, _>(lease_ms)
    .load(conn)
    .await
}

/// Writes down an attempt of a claimed delivery and what follows it, and
/// gives the lease back.
pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    claimed: &Claimed,
    attempt: &Attempt,
    verdict: Verdict,
) -> QueryResult<()> {
    let practice = PracticeId(claimed.practice_id);
    let delivery = webhook_deliveries::table
        .filter(webhook_deliveries::practice_id.eq(claimed.practice_id))
        .filter(webhook_deliveries::id.eq(claimed.id));
    // The row lock orders this against an erasure, which rewrites the
    // bodies of the events it redacts: if the body changed while the
    // delivery was in flight, the receiver's answer may echo what was
    // erased, and is not kept (see `erasure::store::erase_client`).
    let stored_body: Option<String> =
        delivery.select(webhook_deliveries::body).for_update().first(conn).await.optional()?;
    let response = attempt.response.as_deref().filter(|_| stored_body.as_deref() == Some(claimed.body.as_str()));
    insert_attempt(conn, practice, claimed.endpoint_id, claimed.id, claimed.attempts, attempt, response).await?;
    let endpoint = webhook_endpoints::table
        .filter(webhook_endpoints::practice_id.eq(claimed.practice_id))
        .filter(webhook_endpoints::id.eq(claimed.endpoint_id));
    let finished = (
        webhook_deliveries::leased_until.eq(None::<DateTime<Utc>>),
        webhook_deliveries::next_attempt_at.eq(None::<DateTime<Utc>>),
        webhook_deliveries::finished_at.eq(Some(Utc::now())),
    );
    match verdict {
        Verdict::Delivered => {
            diesel::update(delivery).set((webhook_deliveries::state.eq("succeeded"), finished)).execute(conn).await?;
            diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_not_null()))
                .set(webhook_endpoints::failing_since.eq(None::<DateTime<Utc>>))
                .execute(conn)
                .await?;
            return Ok(());
        }
        Verdict::RetryAfter(wait) => {
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
            diesel::update(delivery)
                .set((
                    webhook_deliveries::leased_until.eq(None::<DateTime<Utc>>),
                    webhook_deliveries::next_attempt_at.eq(Some(next)),
                ))
                .execute(conn)
                .await?;
        }
        Verdict::GiveUp => {
            diesel::update(delivery).set((webhook_deliveries::state.eq("failed"), finished)).execute(conn).await?;
        }
        Verdict::Disable(reason) => {
            diesel::update(delivery).set((webhook_deliveries::state.eq("failed"), finished)).execute(conn).await?;
            disable_endpoint(conn, claimed, reason).await?;
        }
    }
    diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_null()))
        .set(webhook_endpoints::failing_since.eq(Some(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

async fn disable_endpoint(conn: &mut AsyncPgConnection, claimed: &Claimed, reason: DisableReason) -> QueryResult<()> {
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::practice_id.eq(claimed.practice_id))
            .filter(webhook_endpoints::id.eq(claimed.endpoint_id))
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(reason.as_str())),
        webhook_endpoints::disabled_at.eq(Some(Utc::now())),
        webhook_endpoints::disabled_by_event_id.eq(Some(claimed.webhook_id)),
        webhook_endpoints::version.eq(webhook_endpoints::version + 1),
        webhook_endpoints::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes deliveries (and their attempts) created before `cutoff`: finished
/// ones, and pending ones no instance holds (only a disabled endpoint's can
/// wait that long; its events can be sent again with `redeliver` while the
/// feed keeps them).
pub async fn purge_created_before(conn: &mut AsyncPgConnection, cutoff: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(cutoff))
            .filter(webhook_deliveries::state.ne("pending").or(webhook_deliveries::leased_until.is_null())),
    )
    .execute(conn)
    .await
}
