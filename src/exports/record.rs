//! A client's whole record, written as it is read.
//!
//! A task on the service's runtime opens one `REPEATABLE READ READ ONLY`
//! transaction, reads the client first and reports whether it exists
//! (so that a missing client still answers 404 as problem+json, before any
//! byte of the body), then reads each family in keyset pages and writes it
//! into a bounded channel the response body drains: a slow reader slows the
//! reading down instead of filling memory. A failure after the first byte
//! cannot become problem+json any more; the body then ends with an error,
//! which aborts the response (the JSON is left unterminated, so no reader
//! can take a cut-off record for a whole one), and the cause goes to the log.

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::families::{Family, Format};
use super::model::{AssessmentDraft, HomeworkPause, LinkSubmission, RECORD_SCHEMA_PATH, RecordClientLink};
use super::store::{self, Slice};
use super::walk::{self, Catalog, PAGE, Sink};
use super::{ExportError, fhir};
use crate::assessments::model::Assessment;
use crate::audit::model::AuditEvent;
use crate::clients::model::Client;
use crate::clients::store::ClientRow;
use crate::db::DbPool;
use crate::events::model::Event;
use crate::homework::model::{Homework, HomeworkLog};
use crate::http::ApiError;
use crate::practices::PracticeId;
use crate::relationships::model::Relationship;

/// Bytes gathered before they are handed to the response.
const CHUNK: usize = 32 * 1024;
/// Chunks in flight between the reader and the response.
const IN_FLIGHT: usize = 4;

/// What the body stream receives.
pub enum Msg {
    Data(Bytes),
    /// The record is complete.
    Done,
    /// Producing it failed; the response must not end as if it were whole.
    Failed,
}

/// What to write.
pub struct RecordRequest {
    pub practice: PracticeId,
    pub client: Uuid,
    pub families: Vec<Family>,
    pub format: Format,
    /// The service's public base URL, for the format's description.
    pub public_url: String,
}

/// The writer's end of the body: bytes buffered into chunks and sent down
/// a bounded channel.
pub struct Out {
    tx: mpsc::Sender<Msg>,
    buf: Vec<u8>,
    /// Whether the next array element is the first (no comma before it).
    first: bool,
}

impl Out {
    fn new(tx: mpsc::Sender<Msg>) -> Self {
        Self { tx, buf: Vec::with_capacity(CHUNK * 2), first: true }
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn value<T: Serialize>(&mut self, value: &T) -> Result<(), ExportError> {
        serde_json::to_writer(&mut self.buf, value).map_err(ExportError::data)
    }

    async fn flush_if_full(&mut self) -> Result<(), ExportError> {
        if self.buf.len() >= CHUNK { self.flush().await } else { Ok(()) }
    }

    async fn flush(&mut self) -> Result<(), ExportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK * 2)));
        self.tx.send(Msg::Data(chunk)).await.map_err(|_| ExportError::Closed)
    }

    /// Opens a member holding an array: `,"name":[`.
    fn open_array(&mut self, name: &str) {
        self.raw(b",\"");
        self.raw(name.as_bytes());
        self.raw(b"\":[");
        self.first = true;
    }

    fn close_array(&mut self) {
        self.raw(b"]");
    }

    /// Writes one array element.
    async fn element<T: Serialize>(&mut self, value: &T) -> Result<(), ExportError> {
        if !std::mem::take(&mut self.first) {
            self.raw(b",");
        }
        self.value(value)?;
        self.flush_if_full().await
    }

    /// Writes one entry of a FHIR Bundle.
    pub async fn bundle_entry(&mut self, entry: &Value) -> Result<(), ExportError> {
        self.element(entry).await
    }
}

/// A reader that stops reading for this long loses the record: the
/// transaction is idle meanwhile, and PostgreSQL ends it rather than hold
/// its snapshot (and a pooled connection) for a reader that went quiet.
const READER_STALL: &str = "60s";

/// Starts writing a record. Answers once the client has been read: its row
/// and the channel the body is read from, or the error to answer with (404
/// for a client that is not the practice's, 503 when the database is down
/// or this instance already writes as many records as it lets itself).
pub async fn start(
    pool: DbPool,
    runtime: &tokio::runtime::Handle,
    streams: &std::sync::Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
    request: RecordRequest,
) -> Result<(ClientRow, mpsc::Receiver<Msg>), ApiError> {
    let permit = match tokio::time::timeout(wait, streams.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(ApiError::Unavailable(anyhow::anyhow!("every record stream of this instance is busy"))),
    };
    let (ready_tx, ready_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    runtime.spawn(async move {
        let _permit = permit;
        let (practice, client) = (request.practice, request.client);
        let outcome = produce(&pool, request, ready_tx, tx.clone()).await;
        let last = match outcome {
            Ok(()) => Msg::Done,
            Err(ExportError::Closed) => {
                tracing::debug!(%practice, %client, "the reader of a client record went away");
                return;
            }
            Err(err) => {
                tracing::error!(%practice, %client, error = %err, "writing a client record failed");
                Msg::Failed
            }
        };
        let _ = tx.send(last).await;
    });
    match ready_rx.await {
        Ok(Ok(client)) => Ok((client, rx)),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(ApiError::internal(anyhow::anyhow!("the record writer stopped before reading the client"))),
    }
}

type Ready = oneshot::Sender<Result<ClientRow, ApiError>>;

async fn produce(
    pool: &DbPool,
    request: RecordRequest,
    ready: Ready,
    tx: mpsc::Sender<Msg>,
) -> Result<(), ExportError> {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(err) => {
            let _ = ready.send(Err(ApiError::from(err)));
            return Ok(());
        }
    };
    let mut ready = Some(ready);
    // Events written until now get their numbers before the snapshot, so
    // the record holds them.
    if let Err(err) = crate::events::store::sequence(&conn, request.practice).await {
        if let Some(ready) = ready.take() {
            let _ = ready.send(Err(ApiError::from(err)));
        }
        return Ok(());
    }
    let outcome = conn
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(async |conn: &mut AsyncPgConnection| {
            let generated_at = store::snapshot_time(conn).await?;
            store::end_idle_transaction_after(conn, READER_STALL).await?;
            let Some(client) = store::find_client(conn, request.practice, request.client).await? else {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(ApiError::NotFound("client")));
                }
                return Ok(());
            };
            if let Some(ready) = ready.take()
                && ready.send(Ok(client.clone())).is_err()
            {
                return Err(ExportError::Closed);
            }
            let mut out = Out::new(tx);
            match request.format {
                Format::Json => write_json(conn, &request, generated_at, client, &mut out).await?,
                Format::Fhir => write_bundle(conn, &request, generated_at, client, &mut out).await?,
            }
            out.flush().await
        })
        .await;
    // A failure before the client was read is still an answer.
    match (ready.take(), outcome) {
        (Some(ready), Err(err)) => {
            let answer = match err {
                ExportError::Database(db) => ApiError::from(db),
                other => ApiError::internal(anyhow::anyhow!("{other}")),
            };
            let _ = ready.send(Err(answer));
            Ok(())
        }
        (_, outcome) => outcome,
    }
}

/// The record as JSON (the `ClientRecord` schema): the client, then each
/// family as an array member, in a fixed order.
async fn write_json(
    conn: &mut AsyncPgConnection,
    request: &RecordRequest,
    generated_at: DateTime<Utc>,
    client: ClientRow,
    out: &mut Out,
) -> Result<(), ExportError> {
    let (practice, client_id) = (request.practice, request.client);
    let client = Client::try_from(client).map_err(ExportError::data)?;
    let included: Vec<&str> = request.families.iter().map(|f| f.as_str()).collect();
    let head = json!({
        "described_by": format!("{}{RECORD_SCHEMA_PATH}", request.public_url),
        "generated_at": generated_at,
        "included": included,
        "client": client,
    });
    out.value(&head)?;
    out.buf.pop(); // the closing brace: the families follow
    let slice = Slice { client: Some(client_id), since: None };
    for family in &request.families {
        match family {
            Family::Client => {}
            Family::Relationships => relationships(conn, practice, client_id, out).await?,
            Family::Assessments => {
                out.open_array("assessments");
                let mut after = None;
                loop {
                    let rows = store::assessments_page(conn, practice, slice, false, after, PAGE).await?;
                    let more = rows.len() as i64 >= PAGE;
                    after = rows.last().map(|(row, _)| row.id);
                    for (row, _) in rows {
                        out.element(&Assessment::try_from(row).map_err(ExportError::data)?).await?;
                    }
                    if !more {
                        break;
                    }
                }
                out.close_array();
                out.open_array("assessment_drafts");
                let mut after = None;
                loop {
                    let rows = store::drafts_page(conn, practice, client_id, after, PAGE).await?;
                    let more = rows.len() as i64 >= PAGE;
                    after = rows.last().map(|row| row.assessment_id);
                    for row in rows {
                        let draft = AssessmentDraft {
                            assessment_id: row.assessment_id,
                            link_id: row.link_id,
                            answers: row.answers,
                            updated_at: row.updated_at,
                            expires_at: row.expires_at,
                        };
                        out.element(&draft).await?;
                    }
                    if !more {
                        break;
                    }
                }
                out.close_array();
            }
            Family::Homework => homework(conn, practice, slice, out).await?,
            Family::ClientLinks => links(conn, practice, client_id, out).await?,
            Family::Events => {
                out.open_array("events");
                let mut after = 0;
                loop {
                    let rows = store::events_page(conn, practice, client_id, after, PAGE).await?;
                    let more = rows.len() as i64 >= PAGE;
                    after = rows.last().map_or(after, |row| row.sequence);
                    for row in rows {
                        out.element(&Event::try_from(row).map_err(ExportError::data)?).await?;
                    }
                    if !more {
                        break;
                    }
                }
                out.close_array();
            }
            Family::Audit => {
                out.open_array("audit_events");
                let mut rows = crate::audit::store::about_client_stream(conn, practice, client_id).await?;
                while let Some(row) = rows.try_next().await? {
                    out.element(&AuditEvent::try_from(row).map_err(ExportError::data)?).await?;
                }
                out.close_array();
            }
        }
        out.flush_if_full().await?;
    }
    out.raw(b"}");
    Ok(())
}

async fn relationships(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    out: &mut Out,
) -> Result<(), ExportError> {
    out.open_array("relationships");
    let mut after = None;
    loop {
        let rows = store::relationships_page(conn, practice, client, after, PAGE).await?;
        let more = rows.len() as i64 >= PAGE;
        after = rows.last().map(|(id, _, _)| *id);
        let ids: Vec<Uuid> = rows.iter().map(|(id, _, _)| *id).collect();
        let mut members: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (relationship, member) in store::relationship_members(conn, practice, &ids).await? {
            members.entry(relationship).or_default().push(member);
        }
        for (id, kind, created_at) in rows {
            let client_ids = members.remove(&id).unwrap_or_default();
            out.element(&Relationship { id, kind, client_ids, created_at }).await?;
        }
        if !more {
            break;
        }
    }
    out.close_array();
    Ok(())
}

/// Each assignment with its pauses and every log, the logs streamed a page
/// at a time into the assignment's object.
async fn homework(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    slice: Slice,
    out: &mut Out,
) -> Result<(), ExportError> {
    out.open_array("homework");
    let mut after = None;
    loop {
        let rows = store::homework_page(conn, practice, slice, after, PAGE).await?;
        let more = rows.len() as i64 >= PAGE;
        after = rows.last().map(|(row, _)| row.id);
        for (row, _) in rows {
            let assignment = Homework::try_from(row).map_err(ExportError::data)?;
            let pauses: Vec<HomeworkPause> = store::pauses(conn, practice, assignment.id)
                .await?
                .into_iter()
                .map(|(paused_at, resumed_at)| HomeworkPause { paused_at, resumed_at })
                .collect();
            // The HomeworkRecord schema: the assignment's members, then pauses and logs.
            if !std::mem::take(&mut out.first) {
                out.raw(b",");
            }
            out.value(&assignment)?;
            out.buf.pop();
            out.raw(b",\"pauses\":");
            out.value(&pauses)?;
            out.raw(b",\"logs\":[");
            let mut first_log = true;
            let mut log_after = None;
            loop {
                let logs = store::logs_page(conn, practice, assignment.id, log_after, PAGE).await?;
                let more_logs = logs.len() as i64 >= PAGE;
                log_after = logs.last().map(|row| (row.occurred_at, row.id));
                for log in logs {
                    if !std::mem::take(&mut first_log) {
                        out.raw(b",");
                    }
                    out.value(&HomeworkLog::from(log))?;
                    out.flush_if_full().await?;
                }
                if !more_logs {
                    break;
                }
            }
            out.raw(b"]}");
            out.flush_if_full().await?;
        }
        if !more {
            break;
        }
    }
    out.close_array();
    Ok(())
}

async fn links(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    client: Uuid,
    out: &mut Out,
) -> Result<(), ExportError> {
    out.open_array("client_links");
    let mut after = None;
    loop {
        let rows = store::links_page(conn, practice, client, after, PAGE).await?;
        let more = rows.len() as i64 >= PAGE;
        after = rows.last().map(|row| row.id);
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut submissions: BTreeMap<Uuid, Vec<LinkSubmission>> = BTreeMap::new();
        for row in store::link_submissions(conn, practice, &ids).await? {
            submissions.entry(row.link_id).or_default().push(LinkSubmission {
                resource_type: row.resource_type,
                resource_id: row.resource_id,
                item_id: row.item_id,
                submitted_at: row.submitted_at,
            });
        }
        for row in rows {
            let link = RecordClientLink {
                id: row.id,
                all_open_assessments: row.all_open_assessments,
                assessment_ids: row.assessment_ids,
                all_active_homework: row.all_active_homework,
                homework_ids: row.homework_ids,
                language: row.language,
                created_by: row.created_by,
                created_at: row.created_at,
                expires_at: row.expires_at,
                revoked_at: row.revoked_at,
                finished_at: row.finished_at,
                first_opened_at: row.first_opened_at,
                last_used_at: row.last_used_at,
                submissions: submissions.remove(&row.id).unwrap_or_default(),
            };
            out.element(&link).await?;
        }
        if !more {
            break;
        }
    }
    out.close_array();
    Ok(())
}

/// The record as a FHIR R4 `Bundle` of type `collection`: the `Patient`,
/// then `QuestionnaireResponse`s with their `Observation`s, `Task`s and
/// `AuditEvent`s, as the families asked for.
async fn write_bundle(
    conn: &mut AsyncPgConnection,
    request: &RecordRequest,
    generated_at: DateTime<Utc>,
    client: ClientRow,
    out: &mut Out,
) -> Result<(), ExportError> {
    let (practice, client_id) = (request.practice, request.client);
    let timestamp = generated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let bundle_id = Uuid::now_v7().to_string();
    out.raw(&fhir::bundle_open(&bundle_id, &timestamp));
    let client = Client::try_from(client).map_err(ExportError::data)?;
    out.bundle_entry(&fhir::entry(&crate::clients::fhir::patient(&client))).await?;
    let slice = Slice { client: Some(client_id), since: None };
    let mut catalog = Catalog::default();
    let mut sink = Sink::Bundle(out);
    for family in &request.families {
        match family {
            Family::Assessments => {
                walk::assessments(conn, practice, slice, (true, true), &mut catalog, &mut sink).await?;
            }
            Family::Homework => walk::tasks(conn, practice, slice, &mut catalog, &mut sink).await?,
            Family::Audit => walk::client_audit_events(conn, practice, client_id, &mut sink).await?,
            Family::Client | Family::Relationships | Family::ClientLinks | Family::Events => {}
        }
    }
    out.raw(fhir::BUNDLE_CLOSE);
    Ok(())
}
