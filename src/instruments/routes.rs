//! `/v1/instruments`: the questionnaires a practice can administer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use uuid::Uuid;

use super::definition::InstrumentDefinition;
use super::model::{Instrument, InstrumentList, ListInstrumentsQuery};
use super::store::{self, Registration};
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::{Admin, AssessmentsRead};
use crate::db::worker::WorkerConnection;
use crate::fhir::{self, FhirResource};
use crate::http::headers::{AcceptLanguageHeader, IdempotencyKeyHeader};
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ParsedJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::i18n::{Language, json_in};
use crate::state::AppState;

const RESOURCE: &str = "instrument";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_instruments).service(get_instrument).service(get_instrument_fhir).service(register_instrument);
}

/// List instruments.
///
/// The built-in instruments and your practice's own, every version, oldest
/// first. Filter by `key` to see one instrument's versions.
#[utoipa::path(
    operation_id = "list_instruments",
    tag = "instruments",
    params(ListInstrumentsQuery, AcceptLanguageHeader),
    responses(
        (status = 200, description = "A page of instruments", body = InstrumentList,
            headers(("Content-Language" = String, description = "The language of the text, when it all reads in the one asked for"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/instruments")]
pub async fn list_instruments(
    auth: Auth<AssessmentsRead>,
    req: HttpRequest,
    ValidQuery(query): ValidQuery<ListInstrumentsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = store::list_instruments(&mut conn, auth.practice_id, query.key.as_deref(), page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    let language = Language::from_request(&req);
    let data: Vec<Instrument> = rows
        .into_iter()
        .map(|row| Instrument::try_from(row).map(|found| found.localized(language)))
        .collect::<Result<_, _>>()?;
    let all_speak = data.iter().all(|found| found.definition.speaks(language));
    Ok(json_in(all_speak.then_some(language), &InstrumentList { data, next_cursor }))
}

/// Fetch an instrument.
///
/// One version of a questionnaire: its scale, items, subscales (with bands
/// and any norms) and classification rule.
#[utoipa::path(
    operation_id = "get_instrument",
    tag = "instruments",
    params(("id" = Uuid, Path, description = "The instrument version's id"), AcceptLanguageHeader),
    responses(
        (status = 200, description = "The instrument", body = Instrument,
            headers(("Content-Language" = String, description = "The language of the text, when it all reads in the one asked for"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/instruments/{id}")]
pub async fn get_instrument(
    auth: Auth<AssessmentsRead>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_instrument(conn, auth.practice_id, *id).await).await?;
    let row = row.ok_or(ApiError::NotFound(RESOURCE))?;
    let language = Language::from_request(&req);
    let found = Instrument::try_from(row)?;
    let speaks = found.definition.speaks(language);
    Ok(json_in(speaks.then_some(language), &found.localized(language)))
}

/// Export an instrument as FHIR.
///
/// The instrument version as a FHIR R4 `Questionnaire` (`application/fhir+json`)
/// for EHRs: one `choice` item per question, each answer option carrying its
/// score in the `itemWeight` extension (reverse-keyed items carry reversed
/// weights).
#[utoipa::path(
    operation_id = "get_instrument_fhir",
    tag = "instruments",
    params(("id" = Uuid, Path, description = "The instrument version's id")),
    responses(
        (status = 200, description = "A FHIR R4 Questionnaire", body = FhirResource, content_type = "application/fhir+json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/instruments/{id}/fhir")]
pub async fn get_instrument_fhir(
    auth: Auth<AssessmentsRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let conn = state.pool.get().await?;
    let row = store::find_instrument(&conn, auth.practice_id, *id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    let instrument = Instrument::try_from(row)?;
    Ok(fhir::respond(super::fhir::questionnaire(instrument.id, instrument.version, &instrument.definition)))
}

/// Register an instrument.
///
/// Adds a questionnaire of your practice (for example a licensed, validated
/// one with its published norms). Registering a key you already use makes its
/// next version; versions never change. Built-in keys are reserved. Every rule
/// of the definition is checked, and each failure names its field.
#[utoipa::path(
    operation_id = "register_instrument",
    tag = "instruments",
    params(IdempotencyKeyHeader),
    request_body = InstrumentDefinition,
    responses(
        (status = 201, description = "Registered", body = Instrument,
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
#[post("/instruments")]
pub async fn register_instrument(
    auth: Auth<Admin>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ParsedJson(definition): ParsedJson<InstrumentDefinition>,
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
            let row = match store::register_instrument(conn, practice, &definition).await? {
                Registration::Registered(row) => row,
                Registration::KeyReserved => {
                    return Err(ApiError::Conflict {
                        code: "instrument_key_reserved",
                        detail: format!("`{}` is the key of a built-in instrument", definition.key),
                    });
                }
            };
            entry.resource(row.id);
            audit::record(conn, &entry, StatusCode::CREATED).await?;
            let instrument = Instrument::try_from(row)?;
            WriteOutcome::created(&instrument, format!("/v1/instruments/{}", instrument.id), None)
        })
    })
    .await
}
