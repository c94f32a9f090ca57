//! `/v1/clients/{id}/record` and `/v1/exports`: a client's whole record,
//! and the practice-wide export by FHIR Bulk Data Access.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, post, web};
use futures_util::future::LocalBoxFuture;
use futures_util::stream;
use utoipa::{IntoParams, ToResponse};
use uuid::Uuid;
use validator::Validate;

use super::families::{self, Format};
use super::model::{
    ClientRecord, ExportManifest, ExportState, ExportStatus, ExportType, NdjsonFile, NewExport, RECORD_SCHEMA_PATH,
    RecordQuery,
};
use super::progress::{self, Listed};
use super::record::{self, Msg, RecordRequest};
use super::store::{self, NewExportRow};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::{Admin, ClientsRead};
use crate::fhir::{FHIR_JSON, FHIR_NDJSON, FHIR_R4_SPEC, FhirResource};
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidQuery, parse_json};
use crate::http::problem::PROBLEM_JSON;
use crate::http::{ApiError, ProblemDetails, responses};
use crate::state::AppState;

const EXPORT: &str = "export";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_client_record)
        .service(start_export)
        .service(get_export)
        .service(get_export_file)
        .service(delete_export);
}

/// `Accept` on the record: which form to answer with.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct RecordAcceptHeader {
    /// `application/fhir+json` for the FHIR R4 Bundle; anything else (or
    /// nothing) for JSON.
    #[param(rename = "Accept", required = false, max_length = 512)]
    accept: String,
}

/// `Prefer` on the kick-off, as FHIR Bulk Data asks for.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct PreferHeader {
    /// `respond-async`: the spec's kick-off asks for it; the export is
    /// asynchronous whether or not it is sent, so its absence is tolerated.
    /// When sent, the answer carries `Preference-Applied: respond-async`.
    #[param(rename = "Prefer", required = false, max_length = 512, example = "respond-async")]
    prefer: String,
}

/// An export's result is gone: its files expired.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:export_expired", "title": "The export's files have expired", "status": 410,
    "detail": "the files were removed at 2026-12-05T09:31:00Z; start a new export", "code": "export_expired",
    "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
#[allow(dead_code)]
pub struct ExportExpired(ProblemDetails);

/// The export failed; `detail` says why (never the data itself). Start a new one.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json", example = json!({
    "type": "urn:attune:problem:export_failed", "title": "The export failed", "status": 500,
    "detail": "gave up after 3 attempts; the last: the database failed while the export was being written",
    "code": "export_failed", "request_id": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
}))]
#[allow(dead_code)]
pub struct ExportFailed(ProblemDetails);

/// A problem+json answer these operations add to the shared ones.
fn problem(status: StatusCode, code: &str, title: &str, detail: String) -> HttpResponse {
    let body = ProblemDetails {
        problem_type: format!("urn:attune:problem:{code}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: Some(detail),
        code: code.to_owned(),
        request_id: crate::http::request_id::current(),
        errors: Vec::new(),
    };
    HttpResponse::build(status).content_type(PROBLEM_JSON).json(body)
}

/// A client's whole record.
///
/// Everything Attune holds about one client, as of one instant: the
/// client, its relationships, every assessment with its answers and scores,
/// drafts saved through links, every homework assignment with its pauses,
/// logs and reflections, the links it was sent and what came through them,
/// its events still in the feed, and the audit entries about it. Archived
/// clients included. For a right-of-access or portability request (HIPAA
/// 164.524, GDPR articles 15 and 20).
///
/// **Formats.** JSON by default: the `ClientRecord` schema, whose
/// description `described_by` and the `Link: <...>; rel="describedby"`
/// header point at. With `Accept: application/fhir+json`, a FHIR R4
/// `Bundle` of type `collection`: the `Patient`, a `QuestionnaireResponse`
/// and its `Observation`s per completed assessment, a `Task` per assignment
/// (logs as outputs) and an `AuditEvent` per audit entry; relationships,
/// events, links and drafts have no FHIR shape and are in the JSON form only.
///
/// **Scopes.** `clients:read`, plus the scope that reads each family
/// elsewhere: `assessments:read` (assessments, drafts), `homework:read`,
/// `assessments:write` or `homework:write` (links, as `GET /v1/client-links`),
/// `events:read`, and `admin` (audit entries). A token lacking the scope of a
/// family asked for is refused (403 naming the scope): a record is never
/// silently partial. Ask for fewer families with `include`; the answer's
/// `included` lists what it holds.
///
/// **Streaming.** The body is written as it is read (chunked), so any
/// history size costs the same memory. Errors are answered before the first
/// byte; a failure after it aborts the response (the JSON is left
/// unterminated), and so does a reader that stops reading for 60 s. An
/// instance writes at most a quarter of its connection pool's worth of
/// records at once; past that, after the usual wait, 503. Every read is
/// recorded in the audit trail.
#[utoipa::path(
    operation_id = "get_client_record",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The client's id"), RecordQuery, RecordAcceptHeader),
    responses(
        (status = 200, description = "The record, streamed",
            content((ClientRecord = "application/json"), (FhirResource = "application/fhir+json")),
            headers(("Link" = String, description = "`<...>; rel=\"describedby\"`: the format's published description"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["clients:read"]), ("bearer" = []))
)]
#[get("/clients/{id}/record")]
pub async fn get_client_record(
    auth: Auth<ClientsRead>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    ValidQuery(query): ValidQuery<RecordQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = families::negotiate(accept);
    let families = families::requested(query.include.as_deref(), format).map_err(|name| {
        ApiError::bad_request("invalid_query", "include", format!("`{name}` is not a family of the record"))
    })?;
    if let Some(scope) = families::missing_scope(&families, &auth.scopes) {
        return Err(ApiError::InsufficientScope(scope.as_str()));
    }
    let request = RecordRequest {
        practice: auth.practice_id,
        client: *id,
        families,
        format,
        public_url: state.settings.public_url.clone(),
    };
    let (_client, mut rx) =
        record::start(state.pool.clone(), &state.runtime, &state.record_streams, state.db_wait, request).await?;
    let (content_type, described_by) = match format {
        Format::Json => ("application/json", format!("{}{RECORD_SCHEMA_PATH}", state.settings.public_url)),
        Format::Fhir => (FHIR_JSON, FHIR_R4_SPEC.to_owned()),
    };
    let body = stream::poll_fn(move |cx| match rx.poll_recv(cx) {
        std::task::Poll::Ready(Some(Msg::Data(bytes))) => std::task::Poll::Ready(Some(Ok(bytes))),
        std::task::Poll::Ready(Some(Msg::Done)) => std::task::Poll::Ready(None),
        std::task::Poll::Ready(Some(Msg::Failed) | None) => {
            rx.close();
            std::task::Poll::Ready(Some(Err(std::io::Error::other("the record could not be completed"))))
        }
        std::task::Poll::Pending => std::task::Poll::Pending,
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::LINK, format!("<{described_by}>; rel=\"describedby\"")))
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .streaming(body))
}

/// The kick-off's body: JSON, or nothing at all (everything).
pub struct ExportBody(NewExport);

impl FromRequest for ExportBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        let body = crate::http::body::read(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.is_empty() {
                return Ok(ExportBody(NewExport::default()));
            }
            if !is_json {
                return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
            }
            // `null` is the document's way of saying "no body" too.
            let new: NewExport = parse_json::<Option<NewExport>>(&body)?.unwrap_or_default();
            new.validate().map_err(|errors| ApiError::Validation(crate::http::json::flatten(&errors)))?;
            Ok(ExportBody(new))
        })
    }
}

/// The kick-off as the manifest's `request` repeats it: the URL with the
/// parameters under their Bulk Data names.
fn request_url(
    public_url: &str,
    types: &[ExportType],
    since: Option<chrono::DateTime<chrono::Utc>>,
    all: bool,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if !all {
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        query.append_pair("_type", &names.join(","));
    }
    if let Some(since) = since {
        query.append_pair("_since", &since.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    let query = query.finish();
    if query.is_empty() { format!("{public_url}/v1/exports") } else { format!("{public_url}/v1/exports?{query}") }
}

fn status_of(row: &store::ExportRow) -> Result<ExportStatus, ApiError> {
    let state = ExportState::from_db(&row.state)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown export state in the database")))?;
    Ok(ExportStatus {
        id: row.id,
        state,
        types: row.types.iter().filter_map(|t| ExportType::parse(t)).collect(),
        since: row.since,
        created_at: row.created_at,
        progress: progress::progress_text(state, row.attempts, row.progress_done, row.progress_total),
    })
}

/// Start a practice-wide export (FHIR Bulk Data kick-off).
///
/// Queues an export of the practice's data as FHIR R4 NDJSON files and
/// answers 202 at once, with `Content-Location` naming the export to poll
/// (`GET`). `types` narrows the resource types (FHIR's `_type`): `Patient`
/// (every client, archived ones included), `Questionnaire` (the instruments
/// the practice can administer), `QuestionnaireResponse` and `Observation`
/// (completed assessments and their subscale scores), `Task` (homework
/// assignments, their logs as outputs) and `AuditEvent` (the audit trail).
/// `since` keeps resources changed since an instant (FHIR's `_since`; pass
/// the previous manifest's `transactionTime`); it looks back five more
/// minutes, so a change committed across the previous snapshot is not
/// missed (a resource may then come in two consecutive exports).
///
/// One export runs at a time per practice: while one is pending or
/// running, another answers 409 naming it. Send `Prefer: respond-async` as
/// the spec asks; it is tolerated when absent, since the answer is
/// asynchronous either way. An empty body exports everything.
#[utoipa::path(
    operation_id = "start_export",
    tag = "exports",
    params(IdempotencyKeyHeader, PreferHeader),
    request_body(content = NewExport, description = "What to export; an empty body (or `null`) exports everything"),
    responses(
        (status = 202, description = "Queued; poll `Content-Location`", body = ExportStatus,
            headers(("Content-Location" = String, description = "The export's absolute URL, to poll"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[post("/exports")]
pub async fn start_export(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ExportBody(input): ExportBody,
) -> Result<HttpResponse, ApiError> {
    let asked_async = req
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"));
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let public_url = state.settings.public_url.clone();
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    let mut response = idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let all = input.types.is_none();
            let types = input.types.clone().unwrap_or_else(|| ExportType::ALL.to_vec());
            let names: Vec<String> = types.iter().map(|t| t.as_str().to_owned()).collect();
            let request = request_url(&public_url, &types, input.since, all);
            let new = NewExportRow {
                id: Uuid::now_v7(),
                types: &names,
                since: input.since,
                request: &request,
                requested_by: &principal.subject,
                requested_actor: principal.actor.as_deref(),
            };
            let row = match store::insert_export(conn, practice, new).await? {
                Ok(row) => row,
                Err(running) => {
                    let running = running.map_or_else(|| "another export".to_owned(), |id| format!("export {id}"));
                    return Err(ApiError::Conflict {
                        code: "export_running",
                        detail: format!(
                            "{running} of your practice is still pending or running: poll it, or DELETE it to start another"
                        ),
                    });
                }
            };
            entry.resource(row.id);
            audit::record(conn, &entry, StatusCode::ACCEPTED).await?;
            let location = format!("{public_url}/v1/exports/{}", row.id);
            WriteOutcome::accepted(status_of(&row)?, location)
        })
    })
    .await?;
    if asked_async {
        response.headers_mut().insert(
            header::HeaderName::from_static("preference-applied"),
            header::HeaderValue::from_static("respond-async"),
        );
    }
    Ok(response)
}

/// Poll an export.
///
/// While it is queued or running: 202 with `X-Progress` (e.g. `42% (12345
/// of 29000 resources)`) and `Retry-After` (seconds). When done: 200 with
/// the FHIR Bulk Data manifest: `transactionTime` (the instant every file is
/// consistent as of), `request`, `requiresAccessToken: true`, `output` (one
/// entry per NDJSON file: `type`, absolute `url`, `count`) and `error` (always
/// empty), plus `extension.describedBy` (FHIR R4, the files' format) and
/// `extension.expiresAt`. The files are kept for the configured retention
/// (24 hours by default); after that the export answers 410. A failed
/// export answers 500 `export_failed`, saying why. A deleted export, or
/// another practice's, answers 404.
#[utoipa::path(
    operation_id = "get_export",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "Done: the manifest", body = ExportManifest,
            headers(("Link" = String, description = "`<https://hl7.org/fhir/R4/>; rel=\"describedby\"`: the files' format"),
                    ("Expires" = String, description = "When the files are removed"))),
        (status = 202, description = "Queued or running", body = ExportStatus,
            headers(("X-Progress" = String, description = "How far it is"),
                    ("Retry-After" = i64, description = "Seconds to wait before polling again"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = ExportExpired),
        (status = 500, response = ExportFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/exports/{id}")]
pub async fn get_export(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    let row = store::find_export(&mut conn, practice, *id).await?.ok_or(ApiError::NotFound(EXPORT))?;
    let now = chrono::Utc::now();
    match ExportState::from_db(&row.state) {
        Some(ExportState::Pending | ExportState::Running) => {
            let status = status_of(&row)?;
            Ok(HttpResponse::Accepted()
                .insert_header(("X-Progress", status.progress.clone()))
                .insert_header((header::RETRY_AFTER, progress::retry_after(row.created_at, now).to_string()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(status))
        }
        Some(ExportState::Completed) => match (row.transaction_time, row.expires_at) {
            (Some(transaction_time), Some(expires_at)) if expires_at > now => {
                let files = store::files(&mut conn, practice, row.id).await?;
                let listed = files.into_iter().filter_map(|file| {
                    Some(Listed {
                        resource_type: ExportType::parse(&file.resource_type)?,
                        part: file.part,
                        count: file.resources,
                    })
                });
                let manifest = progress::manifest(
                    &state.settings.public_url,
                    row.id,
                    &row.request,
                    transaction_time,
                    expires_at,
                    listed,
                );
                Ok(HttpResponse::Ok()
                    .insert_header((header::LINK, format!("<{FHIR_R4_SPEC}>; rel=\"describedby\"")))
                    .insert_header((header::EXPIRES, header::HttpDate::from(std::time::SystemTime::from(expires_at))))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(manifest))
            }
            _ => Ok(expired(row.expires_at)),
        },
        Some(ExportState::Expired) => Ok(expired(row.expires_at)),
        Some(ExportState::Failed) => Ok(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            "The export failed",
            row.error.unwrap_or_else(|| "the export failed".to_owned()),
        )),
        None => Err(ApiError::internal(anyhow::anyhow!("unknown export state in the database"))),
    }
}

fn expired(at: Option<chrono::DateTime<chrono::Utc>>) -> HttpResponse {
    let when =
        at.map_or_else(String::new, |at| format!(" at {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    problem(
        StatusCode::GONE,
        "export_expired",
        "The export's files have expired",
        format!("the files were removed{when}; start a new export"),
    )
}

/// An export's file name in its URL.
/// Download an export's file.
///
/// One FHIR R4 resource per line (`application/fhir+ndjson`), as the
/// manifest lists it, streamed from the database with its `Content-Length`
/// (any instance serves it). Needs a token of the export's practice with
/// `admin`; another practice's export answers 404, an expired one 410.
#[utoipa::path(
    operation_id = "get_export_file",
    tag = "exports",
    params(
        ("id" = Uuid, Path, description = "The export's id."),
        ("file" = String, Path, description = "The file, as the manifest's `url` names it: `<Type>-<part>.ndjson`.",
            pattern = r"^(Patient|Questionnaire|QuestionnaireResponse|Observation|Task|AuditEvent)-[1-9][0-9]{0,8}\.ndjson$",
            example = "Patient-1.ndjson"),
    ),
    responses(
        (status = 200, description = "The file", body = NdjsonFile, content_type = "application/fhir+ndjson",
            headers(("Content-Length" = i64, description = "The file's size in bytes"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = ExportExpired),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[get("/exports/{id}/files/{file}")]
pub async fn get_export_file(
    auth: Auth<Admin>,
    path: web::Path<(Uuid, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, name) = path.into_inner();
    let (kind, part) = progress::parse_file_name(&name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_path_parameter",
            "file",
            "must be <Type>-<part>.ndjson, as the manifest names it",
        )
    })?;
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    let export = store::find_export(&mut conn, practice, id).await?.ok_or(ApiError::NotFound(EXPORT))?;
    let now = chrono::Utc::now();
    match ExportState::from_db(&export.state) {
        Some(ExportState::Expired) => return Ok(expired(export.expires_at)),
        Some(ExportState::Completed) if export.expires_at.is_none_or(|at| at <= now) => {
            return Ok(expired(export.expires_at));
        }
        Some(ExportState::Completed) => {}
        _ => return Err(ApiError::NotFound("file")),
    }
    let file =
        store::find_file(&mut conn, practice, id, kind.as_str(), part).await?.ok_or(ApiError::NotFound("file"))?;
    drop(conn);
    let length = u64::try_from(file.bytes).unwrap_or(0);
    let pool = state.pool.clone();
    // One chunk (about 1 MiB) at a time, each read on a pooled connection.
    let chunks = stream::unfold(Some(0), move |after| {
        let pool = pool.clone();
        async move {
            let after = after?;
            let next = async {
                let mut conn = pool.get().await.map_err(|e| std::io::Error::other(e.to_string()))?;
                store::next_chunk(&mut conn, practice, id, kind.as_str(), part, after)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))
            };
            match next.await {
                Ok(Some((seq, data))) => Some((Ok(web::Bytes::from(data)), Some(seq))),
                Ok(None) => None,
                Err(err) => {
                    tracing::warn!(error = %err, export = %id, "reading an export file failed");
                    Some((Err(err), None))
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(FHIR_NDJSON)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(length)
        .streaming(chunks))
}

/// Cancel or remove an export.
///
/// A queued or running export is cancelled (its runner stops at its next
/// resource); a finished one is removed with its files. Either way it then
/// answers 404. Answers 202, as FHIR Bulk Data's delete does.
#[utoipa::path(
    operation_id = "delete_export",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 202, description = "Cancelled or removed"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[delete("/exports/{id}")]
pub async fn delete_export(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if !store::delete_export(conn, principal.practice_id, id).await? {
                return Err(ApiError::NotFound(EXPORT));
            }
            audit::record(conn, &entry, StatusCode::ACCEPTED).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::Accepted().finish())
}
