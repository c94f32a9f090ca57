//! `/v1/homework`: assign exercises, change assignments, log practices.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{
    Homework, HomeworkList, HomeworkLog, HomeworkLogList, HomeworkPatch, HomeworkStatus, ListHomeworkQuery,
    ListLogsQuery, NewHomework, NewHomeworkLog,
};
use super::store::{self, Changes, NewLog, NewRow};
use crate::audit;
use crate::auth::scopes::{HomeworkRead, HomeworkWrite};
use crate::auth::{Auth, Principal};
use crate::db::worker::WorkerConnection;
use crate::events::{EventData, EventType, Outbox};
use crate::exercises::definition::ExerciseDefinition;
use crate::exercises::logging::check_fields;
use crate::exercises::store::find_exercise;
use crate::fhir::{self, FhirResource};
use crate::http::etag::{Precondition, etag};
use crate::http::headers::{IdempotencyKeyHeader, IfMatchHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::practices::PracticeId;
use crate::state::AppState;
use crate::{clients, db};

const RESOURCE: &str = "homework assignment";

/// Clock skew tolerated before an `occurred_at` counts as in the future.
const FUTURE_LEEWAY_SECONDS: i64 = 60;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_homework)
        .service(list_homework)
        .service(get_homework)
        .service(update_homework)
        .service(create_homework_log)
        .service(list_homework_logs)
        .service(get_homework_fhir);
}

pub async fn exercise_definition(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> Result<Option<ExerciseDefinition>, ApiError> {
    match find_exercise(conn, practice, id).await? {
        Some(row) => Ok(Some(serde_json::from_value(row.definition).map_err(ApiError::internal)?)),
        None => Ok(None),
    }
}

async fn current(conn: &mut AsyncPgConnection, practice: PracticeId, id: Uuid) -> Result<(Homework, String), ApiError> {
    let row = store::find_homework(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    let tag = etag(row.version).to_string();
    Ok((Homework::try_from(row)?, tag))
}

/// Assign homework.
///
/// Gives one exercise to one client at a cadence (practices per week) from a
/// start date, optionally to an end date, with a note from the clinician. The
/// client must be a live client of your practice and the exercise one you can see.
#[utoipa::path(
    operation_id = "create_homework",
    tag = "homework",
    params(IdempotencyKeyHeader),
    request_body = NewHomework,
    responses(
        (status = 201, description = "Assigned", body = Homework,
            headers(("Location" = String, description = "The assignment's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[post("/homework")]
pub async fn create_homework(
    auth: Auth<HomeworkWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewHomework>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    if input.ends_on.is_some_and(|end| end < input.starts_on) {
        return Err(ApiError::validation("ends_on", "must not be before starts_on"));
    }
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            clients::require_live_client(conn, practice, input.client_id).await?;
            if exercise_definition(conn, practice, input.exercise_id).await?.is_none() {
                return Err(ApiError::validation("exercise_id", "no exercise with this id in your practice"));
            }
            let new = NewRow {
                client_id: input.client_id,
                exercise_id: input.exercise_id,
                cadence_per_week: input.cadence_per_week,
                starts_on: input.starts_on,
                ends_on: input.ends_on,
                note: input.note.as_deref(),
            };
            let id = store::insert_homework(conn, practice, new).await?;
            let data = EventData::homework(input.client_id, id, HomeworkStatus::Active.as_str());
            let events = Outbox::with(practice, EventType::HomeworkAssigned, &data)?;
            entry.resource(id);
            entry.concerns(input.client_id);
            audit::record_with(conn, &entry, StatusCode::CREATED, events).await?;
            let (homework, tag) = current(conn, practice, id).await?;
            WriteOutcome::created(&homework, format!("/v1/homework/{id}"), Some(tag))
        })
    })
    .await
}

/// List homework.
///
/// Assignments, oldest first; filter by client or status.
#[utoipa::path(
    operation_id = "list_homework",
    tag = "homework",
    params(ListHomeworkQuery),
    responses(
        (status = 200, description = "A page of assignments", body = HomeworkList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/homework")]
pub async fn list_homework(
    auth: Auth<HomeworkRead>,
    ValidQuery(query): ValidQuery<ListHomeworkQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<HomeworkList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_homework(&mut conn, auth.practice_id, query.client_id, query.status, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    let data = rows.into_iter().map(Homework::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(HomeworkList { data, next_cursor }))
}

/// Fetch an assignment.
///
/// With an `ETag` to send back as `If-Match` when you change it.
#[utoipa::path(
    operation_id = "get_homework",
    tag = "homework",
    params(("id" = Uuid, Path, description = "The assignment's id")),
    responses(
        (status = 200, description = "The assignment", body = Homework,
            headers(("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/homework/{id}")]
pub async fn get_homework(
    auth: Auth<HomeworkRead>,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_homework(conn, auth.practice_id, *id).await).await?;
    let row = row.ok_or(ApiError::NotFound(RESOURCE))?;
    auth.audit.concerns(row.client_id);
    let tag = etag(row.version).to_string();
    Ok(HttpResponse::Ok().insert_header((header::ETAG, tag)).json(Homework::try_from(row)?))
}

/// Change an assignment.
///
/// Pause and resume (`active` <-> `paused`; paused days do not count against
/// adherence), complete or cancel it (both final), or change its cadence,
/// end date or note. Honours `If-Match` (412 when stale); a final
/// assignment answers 409.
#[utoipa::path(
    operation_id = "update_homework",
    tag = "homework",
    params(
        ("id" = Uuid, Path, description = "The assignment's id"),
        IfMatchHeader,
    ),
    request_body(content = HomeworkPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed assignment", body = Homework,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 412, response = responses::PreconditionFailed),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[patch("/homework/{id}")]
pub async fn update_homework(
    auth: Auth<HomeworkWrite>,
    id: web::Path<Uuid>,
    precondition: Precondition,
    state: web::Data<AppState>,
    ValidJson(patch): ValidJson<HomeworkPatch>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let (homework, tag) = db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let row = store::lock_homework(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
            if !precondition.allows(row.version) {
                return Err(ApiError::PreconditionFailed);
            }
            let status = HomeworkStatus::from_db(&row.status)
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown homework status in the database")))?;
            if status.is_final() {
                return Err(ApiError::Conflict {
                    code: "homework_final",
                    detail: format!("the assignment is {}; nothing moves out of a final state", status.as_str()),
                });
            }
            let ends_on = patch.ends_on.unwrap_or(row.ends_on);
            if ends_on.is_some_and(|end| end < row.starts_on) {
                return Err(ApiError::validation("ends_on", "must not be before starts_on"));
            }
            let note = match &patch.note {
                Some(note) => note.clone(),
                None => row.note.clone(),
            };
            let changes = Changes {
                status: patch.status.unwrap_or(status),
                cadence_per_week: patch.cadence_per_week.unwrap_or(row.cadence_per_week),
                ends_on,
                note: note.as_deref(),
            };
            let new_status = changes.status;
            store::update_homework(conn, practice, &row, changes).await?;
            let mut events = Outbox::new(practice);
            if new_status != status {
                let data = EventData {
                    previous_status: Some(status.as_str().to_owned()),
                    ..EventData::homework(row.client_id, id, new_status.as_str())
                };
                events.push(EventType::HomeworkStatusChanged, &data)?;
            }
            entry.concerns(row.client_id);
            audit::record_with(conn, &entry, StatusCode::OK, events).await?;
            current(conn, practice, id).await
        })
    })
    .await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, tag)).json(homework))
}

/// Log a practice.
///
/// Records one practice of the assignment: when it happened, whether it was
/// done, the exercise's fields (each checked by type and range; required
/// fields only when done) and an optional reflection. A completed or
/// cancelled assignment answers 409; a time in the future or before the
/// assignment starts answers 422. Send an `Idempotency-Key`: a retried log is
/// stored once.
#[utoipa::path(
    operation_id = "create_homework_log",
    tag = "homework",
    params(
        ("id" = Uuid, Path, description = "The assignment's id"),
        IdempotencyKeyHeader,
    ),
    request_body = NewHomeworkLog,
    responses(
        (status = 201, description = "Logged", body = HomeworkLog),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:write"]), ("bearer" = []))
)]
#[post("/homework/{id}/logs")]
pub async fn create_homework_log(
    auth: Auth<HomeworkWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewHomeworkLog>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let mut events = Outbox::new(practice);
            let (log, client_id) = record_log(conn, &principal, id, &input, &mut events).await?;
            entry.concerns(client_id);
            audit::record_with(conn, &entry, StatusCode::CREATED, events).await?;
            let body = serde_json::to_value(&log).map_err(ApiError::internal)?;
            Ok(WriteOutcome { status: 201, body, location: None, etag: None, content_location: None, sensitive: false })
        })
    })
    .await
}

/// Checks a log against its assignment and exercise and stores it. The one
/// path logs take, from the API and from a client's link page alike; run it
/// in the caller's transaction. Answers the log and the assignment's client
/// (for the caller's audit entry, which it records last).
pub async fn record_log(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    input: &NewHomeworkLog,
    events: &mut Outbox,
) -> Result<(HomeworkLog, Uuid), ApiError> {
    if input.occurred_at > Utc::now() + chrono::Duration::seconds(FUTURE_LEEWAY_SECONDS) {
        return Err(ApiError::validation("occurred_at", "is in the future"));
    }
    let row = store::lock_homework(conn, principal.practice_id, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    if HomeworkStatus::from_db(&row.status).is_none_or(HomeworkStatus::is_final) {
        return Err(ApiError::Conflict {
            code: "homework_closed",
            detail: format!("the assignment is {}; practices can no longer be logged", row.status),
        });
    }
    if input.occurred_at.date_naive() < row.starts_on {
        return Err(ApiError::validation("occurred_at", "is before the assignment starts"));
    }
    let definition = exercise_definition(conn, principal.practice_id, row.exercise_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an assignment's exercise is missing")))?;
    let errors = check_fields(&definition.log_fields, &input.fields, input.done);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let new = NewLog {
        homework_id: id,
        client_id: row.client_id,
        occurred_at: input.occurred_at,
        done: input.done,
        fields: serde_json::Value::Object(input.fields.clone()),
        reflection: input.reflection.as_deref(),
    };
    let log = HomeworkLog::from(store::insert_log(conn, principal.practice_id, new).await?);
    let data = EventData { log_id: Some(log.id), ..EventData::homework(row.client_id, id, &row.status) };
    events.push(EventType::HomeworkLogged, &data)?;
    Ok((log, row.client_id))
}

/// List an assignment's logs.
///
/// In the order they were recorded; `from` and `to` bound when the practices happened.
#[utoipa::path(
    operation_id = "list_homework_logs",
    tag = "homework",
    params(("id" = Uuid, Path, description = "The assignment's id"), ListLogsQuery),
    responses(
        (status = 200, description = "A page of logs", body = HomeworkLogList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/homework/{id}/logs")]
pub async fn list_homework_logs(
    auth: Auth<HomeworkRead>,
    id: web::Path<Uuid>,
    ValidQuery(query): ValidQuery<ListLogsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<HomeworkLogList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    // The assignment must be the practice's own, even when it has no logs.
    let homework = store::find_homework(&conn, practice, *id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    auth.audit.concerns(homework.client_id);
    let rows = store::list_logs(&mut conn, practice, *id, query.from, query.to, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    Ok(web::Json(HomeworkLogList { data: rows.into_iter().map(HomeworkLog::from).collect(), next_cursor }))
}

/// Logs read into a FHIR export at most.
const FHIR_LOG_LIMIT: i64 = 200;

/// Export an assignment as FHIR.
///
/// The assignment as a FHIR R4 `Task` (`application/fhir+json`): for the
/// client, its status mapped (active -> in-progress, paused -> on-hold), the
/// exercise as its code, the cadence as `restriction.repetitions` per week of
/// its period, and its most recent logs (up to 200) as outputs.
#[utoipa::path(
    operation_id = "get_homework_fhir",
    tag = "homework",
    params(("id" = Uuid, Path, description = "The assignment's id")),
    responses(
        (status = 200, description = "A FHIR R4 Task", body = FhirResource, content_type = "application/fhir+json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/homework/{id}/fhir")]
pub async fn get_homework_fhir(
    auth: Auth<HomeworkRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    let (homework, _) = current(&mut conn, practice, *id).await?;
    auth.audit.concerns(homework.client_id);
    let title = exercise_definition(&mut conn, practice, homework.exercise_id)
        .await?
        .map_or_else(|| homework.exercise_key.clone(), |d| d.title);
    let external_id =
        clients::store::find_client(&conn, practice, homework.client_id).await?.and_then(|c| c.external_id);
    let page = PageRequest::new(Some(FHIR_LOG_LIMIT), None)?;
    let logs: Vec<HomeworkLog> = store::list_logs(&mut conn, practice, homework.id, None, None, page)
        .await?
        .into_iter()
        .take(usize::try_from(FHIR_LOG_LIMIT).unwrap_or(200))
        .map(HomeworkLog::from)
        .collect();
    Ok(fhir::respond(super::fhir::task(&homework, &title, external_id.as_deref(), &logs)))
}
