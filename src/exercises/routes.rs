//! `/v1/exercises`: the homework library.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use uuid::Uuid;

use super::definition::ExerciseDefinition;
use super::model::{Exercise, ExerciseList, ListExercisesQuery};
use super::store::{self, Registration};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::{Admin, HomeworkRead};
use crate::db::worker::WorkerConnection;
use crate::http::headers::{AcceptLanguageHeader, IdempotencyKeyHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ParsedJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::i18n::{Language, json_in};
use crate::state::AppState;

const RESOURCE: &str = "exercise";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_exercises).service(get_exercise).service(register_exercise);
}

/// List exercises.
///
/// The built-in library and your practice's own exercises, every version,
/// oldest first. Filter by `target` (the lean an exercise works on) or `key`.
#[utoipa::path(
    operation_id = "list_exercises",
    tag = "exercises",
    params(ListExercisesQuery, AcceptLanguageHeader),
    responses(
        (status = 200, description = "A page of exercises", body = ExerciseList,
            headers(("Content-Language" = String, description = "The language of the text, when it all reads in the one asked for"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/exercises")]
pub async fn list_exercises(
    auth: Auth<HomeworkRead>,
    req: HttpRequest,
    ValidQuery(query): ValidQuery<ListExercisesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_exercises(&mut conn, auth.practice_id, query.target, query.key.as_deref(), page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    let language = Language::from_request(&req);
    let data: Vec<Exercise> = rows
        .into_iter()
        .map(|row| Exercise::try_from(row).map(|found| found.localized(language)))
        .collect::<Result<_, _>>()?;
    let all_speak = data.iter().all(|found| found.definition.speaks(language));
    Ok(json_in(all_speak.then_some(language), &ExerciseList { data, next_cursor }))
}

/// Fetch an exercise.
///
/// One version of an exercise: instructions, suggested cadence, the typed
/// fields a client logs, and the rules that recommend it.
#[utoipa::path(
    operation_id = "get_exercise",
    tag = "exercises",
    params(("id" = Uuid, Path, description = "The exercise version's id"), AcceptLanguageHeader),
    responses(
        (status = 200, description = "The exercise", body = Exercise,
            headers(("Content-Language" = String, description = "The language of the text, when it all reads in the one asked for"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/exercises/{id}")]
pub async fn get_exercise(
    auth: Auth<HomeworkRead>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_exercise(conn, auth.practice_id, *id).await).await?;
    let row = row.ok_or(ApiError::NotFound(RESOURCE))?;
    let language = Language::from_request(&req);
    let found = Exercise::try_from(row)?;
    let speaks = found.definition.speaks(language);
    Ok(json_in(speaks.then_some(language), &found.localized(language)))
}

/// Register an exercise.
///
/// Adds an exercise of your practice. Registering a key you already use makes
/// its next version; versions never change, and built-in keys are reserved.
/// Every rule of the definition is checked, each failure naming its field.
#[utoipa::path(
    operation_id = "register_exercise",
    tag = "exercises",
    params(IdempotencyKeyHeader),
    request_body = ExerciseDefinition,
    responses(
        (status = 201, description = "Registered", body = Exercise,
            headers(("Location" = String, description = "The new version's URL"))),
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
#[post("/exercises")]
pub async fn register_exercise(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ParsedJson(definition): ParsedJson<ExerciseDefinition>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let errors = definition.validate();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &definition)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let row = match store::register_exercise(conn, practice, &definition).await? {
                Registration::Registered(row) => row,
                Registration::KeyReserved => {
                    return Err(ApiError::Conflict {
                        code: "exercise_key_reserved",
                        detail: format!("`{}` is the key of a built-in exercise", definition.key),
                    });
                }
            };
            entry.resource(row.id);
            audit::record(conn, &entry, StatusCode::CREATED).await?;
            let exercise = Exercise::try_from(row)?;
            WriteOutcome::created(&exercise, format!("/v1/exercises/{}", exercise.id), None)
        })
    })
    .await
}
