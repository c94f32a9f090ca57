//! `/v1/assessments`: assign instruments to clients, submit answers, read scores.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{
    Assessment, AssessmentList, AssessmentResponses, AssessmentStatus, ListAssessmentsQuery, NewAssessment,
};
use super::store::{self, AssessmentFilter};
use crate::audit;
use crate::auth::scopes::{AssessmentsRead, AssessmentsWrite};
use crate::auth::{Auth, Principal};
use crate::clients;
use crate::db::worker::WorkerConnection;
use crate::events::{EventData, EventType, Outbox};
use crate::fhir::FhirResource;
use crate::http::etag::etag;
use crate::http::headers::IdempotencyKeyHeader;
use crate::http::idempotency::{self, IdempotencyKey, WriteOutcome};
use crate::http::json::{ValidJson, ValidQuery};
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::instruments::definition::InstrumentDefinition;
use crate::instruments::scoring::{self, Answer};
use crate::instruments::store::{InstrumentRow, find_instrument};
use crate::practices::PracticeId;
use crate::progress::{self, model::FlagKind};
use crate::state::AppState;

const RESOURCE: &str = "assessment";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_assessment)
        .service(list_assessments)
        .service(get_assessment)
        .service(get_assessment_fhir)
        .service(submit_responses)
        .service(cancel_assessment);
}

/// The instrument an assessment uses, with its parsed definition.
async fn instrument_for(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> Result<Option<(InstrumentRow, InstrumentDefinition)>, ApiError> {
    let Some(row) = find_instrument(conn, practice, id).await? else {
        return Ok(None);
    };
    let definition = serde_json::from_value(row.definition.clone()).map_err(ApiError::internal)?;
    Ok(Some((row, definition)))
}

/// Scores answers and records them, with the events that tell of it; a bad
/// answer set is refused whole.
async fn score_and_complete(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    (assessment_id, client_id): (Uuid, Uuid),
    (instrument, definition): &(InstrumentRow, InstrumentDefinition),
    (answers, completed_at): (&[Answer], Option<DateTime<Utc>>),
    events: &mut Outbox,
) -> Result<(), ApiError> {
    let now = Utc::now();
    // A little clock skew between the integrator and us is not "the future".
    if completed_at.is_some_and(|at| at > now + Duration::minutes(5)) {
        return Err(ApiError::validation("completed_at", "must not be in the future"));
    }
    let result = scoring::score(definition, answers).map_err(ApiError::Validation)?;
    let practice = principal.practice_id;
    let completion = store::Completion {
        instrument_id: instrument.id,
        instrument_key: &instrument.key,
        answers,
        result: &result,
        at: completed_at.unwrap_or(now),
    };
    store::complete(conn, practice, assessment_id, client_id, completion).await?;
    let subscales: Vec<&str> = definition.subscales.iter().map(|s| s.key.as_str()).collect();
    let deteriorated =
        progress::shows_reliable_deterioration(conn, practice, client_id, (&instrument.key, &subscales), assessment_id)
            .await?;
    let data = EventData::assessment(client_id, assessment_id, AssessmentStatus::Completed.as_str());
    events.push(EventType::AssessmentCompleted, &data)?;
    if deteriorated {
        let data = EventData { flag: Some(FlagKind::ReliableDeterioration), ..data };
        events.push(EventType::ProgressFlagRaised, &data)?;
    }
    Ok(())
}

/// Scores and completes an open assessment, refusing a completed or
/// cancelled one (409). The one path answers take, from the API and from a
/// client's link page alike; run it in the caller's transaction. `known` is
/// the assessment's instrument when the caller read it already (an
/// instrument never changes once used, so it need not be read again).
/// Answers the client the assessment belongs to (for the caller's audit
/// entry, which it records last).
pub async fn complete_open_assessment(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    answers: &[Answer],
    completed_at: Option<DateTime<Utc>>,
    known: Option<&(InstrumentRow, InstrumentDefinition)>,
    events: &mut Outbox,
) -> Result<Uuid, ApiError> {
    let practice = principal.practice_id;
    let locked = store::lock_assessment(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    if locked.status != AssessmentStatus::Assigned.as_str() {
        return Err(not_open(&locked.status));
    }
    let read;
    let instrument = match known.filter(|(row, _)| row.id == locked.instrument_id) {
        Some(instrument) => instrument,
        None => {
            read = instrument_for(conn, practice, locked.instrument_id)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an assessment's instrument is missing")))?;
            &read
        }
    };
    score_and_complete(conn, principal, (id, locked.client_id), instrument, (answers, completed_at), events).await?;
    Ok(locked.client_id)
}

/// The assessment as stored now, as a replayable answer.
async fn current(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
    created: bool,
) -> Result<WriteOutcome, ApiError> {
    let row = store::find_assessment(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    let tag = etag(row.version).to_string();
    let assessment = Assessment::try_from(row)?;
    if created {
        WriteOutcome::created(&assessment, format!("/v1/assessments/{id}"), Some(tag))
    } else {
        let mut outcome = WriteOutcome::ok(&assessment)?;
        outcome.etag = Some(tag);
        Ok(outcome)
    }
}

/// Assign an assessment.
///
/// Gives one instrument version to one client, optionally due by a date.
/// With `answers` (given on paper, say) it is scored and completed at once.
/// A client or instrument your practice does not have, an archived client, or
/// a bad answer set is refused with the field at fault, and nothing is stored.
#[utoipa::path(
    operation_id = "create_assessment",
    tag = "assessments",
    params(IdempotencyKeyHeader),
    request_body = NewAssessment,
    responses(
        (status = 201, description = "Assigned (or completed, with answers)", body = Assessment,
            headers(("Location" = String, description = "The assessment's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 413, response = responses::PayloadTooLarge),
        (status = 415, response = responses::UnsupportedMediaType),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("bearer" = []))
)]
#[post("/assessments")]
pub async fn create_assessment(
    auth: Auth<AssessmentsWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<NewAssessment>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            clients::require_live_client(conn, practice, input.client_id).await?;
            let instrument = instrument_for(conn, practice, input.instrument_id)
                .await?
                .ok_or_else(|| ApiError::validation("instrument_id", "no instrument with this id in your practice"))?;
            let id =
                store::insert_assessment(conn, practice, input.client_id, input.instrument_id, input.due_on).await?;
            let data = EventData::assessment(input.client_id, id, AssessmentStatus::Assigned.as_str());
            let mut events = Outbox::with(practice, EventType::AssessmentAssigned, &data)?;
            match (&input.answers, input.completed_at) {
                (Some(answers), completed_at) => {
                    let submitted = (answers.as_slice(), completed_at);
                    score_and_complete(conn, &principal, (id, input.client_id), &instrument, submitted, &mut events)
                        .await?;
                }
                (None, Some(_)) => return Err(ApiError::validation("completed_at", "only with answers")),
                (None, None) => {}
            }
            entry.resource(id);
            entry.concerns(input.client_id);
            audit::record_with(conn, &entry, StatusCode::CREATED, events).await?;
            current(conn, practice, id, true).await
        })
    })
    .await
}

/// List assessments.
///
/// Oldest first, a page at a time. Filter by client, instrument key, status
/// or completion time.
#[utoipa::path(
    operation_id = "list_assessments",
    tag = "assessments",
    params(ListAssessmentsQuery),
    responses(
        (status = 200, description = "A page of assessments", body = AssessmentList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/assessments")]
pub async fn list_assessments(
    auth: Auth<AssessmentsRead>,
    ValidQuery(query): ValidQuery<ListAssessmentsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<AssessmentList>, ApiError> {
    let page = PageRequest::new(query.limit, query.cursor.as_deref())?;
    let filter = AssessmentFilter {
        client_id: query.client_id,
        instrument_key: query.instrument_key,
        status: query.status,
        completed_since: query.completed_since,
    };
    let mut conn = state.pool.get().await?;
    let rows = store::list_assessments(&mut conn, auth.practice_id, &filter, page).await?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    auth.audit.found(rows.len());
    let data = rows.into_iter().map(Assessment::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(AssessmentList { data, next_cursor }))
}

/// Fetch an assessment.
///
/// With its answers, per-subscale scores and classification once completed.
#[utoipa::path(
    operation_id = "get_assessment",
    tag = "assessments",
    params(("id" = Uuid, Path, description = "The assessment's id")),
    responses(
        (status = 200, description = "The assessment", body = Assessment,
            headers(("ETag" = String, description = "Its version"))),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/assessments/{id}")]
pub async fn get_assessment(
    auth: Auth<AssessmentsRead>,
    id: web::Path<Uuid>,
    db: WorkerConnection,
) -> Result<HttpResponse, ApiError> {
    let row = db.run(async |conn| store::find_assessment(conn, auth.practice_id, *id).await).await?;
    let row = row.ok_or(ApiError::NotFound(RESOURCE))?;
    auth.audit.concerns(row.client_id);
    let tag = etag(row.version);
    Ok(HttpResponse::Ok().insert_header(header::ETag(tag)).json(Assessment::try_from(row)?))
}

/// Export an assessment as FHIR.
///
/// A completed assessment as a FHIR R4 `Bundle` (`application/fhir+json`): the
/// `QuestionnaireResponse` and one `Observation` per subscale (category
/// `survey`, `derivedFrom` the response, coded in the local system
/// `urn:attune:subscale`, since no LOINC codes exist for these instruments).
/// An assessment not yet completed answers 409.
#[utoipa::path(
    operation_id = "get_assessment_fhir",
    tag = "assessments",
    params(("id" = Uuid, Path, description = "The assessment's id")),
    responses(
        (status = 200, description = "A FHIR R4 Bundle", body = FhirResource, content_type = "application/fhir+json"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/assessments/{id}/fhir")]
pub async fn get_assessment_fhir(
    auth: Auth<AssessmentsRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let practice = auth.practice_id;
    let mut conn = state.pool.get().await?;
    let row = store::find_assessment(&conn, practice, *id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
    let assessment = Assessment::try_from(row)?;
    auth.audit.concerns(assessment.client_id);
    let (_, definition) = instrument_for(&mut conn, practice, assessment.instrument_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an assessment's instrument is missing")))?;
    let client = clients::store::find_client(&conn, practice, assessment.client_id).await?;
    let external_id = client.and_then(|c| c.external_id);
    let bundle = super::fhir::bundle(&assessment, &definition, external_id.as_deref()).ok_or(ApiError::Conflict {
        code: "assessment_not_completed",
        detail: "only a completed assessment has a FHIR export".to_owned(),
    })?;
    Ok(crate::fhir::respond(bundle))
}

fn not_open(status: &str) -> ApiError {
    match AssessmentStatus::from_db(status) {
        Some(AssessmentStatus::Completed) => ApiError::Conflict {
            code: "assessment_completed",
            detail: "the assessment is already completed; assign a new one".to_owned(),
        },
        _ => ApiError::Conflict { code: "assessment_cancelled", detail: "the assessment was cancelled".to_owned() },
    }
}

/// Submit answers.
///
/// Scores the answers and completes the assessment. Unknown or repeated
/// items, values off the scale and too many unanswered items in a subscale
/// are refused with the answer at fault (`answers[3].value`), and nothing is
/// stored. A completed or cancelled assessment answers 409.
#[utoipa::path(
    operation_id = "submit_assessment_responses",
    tag = "assessments",
    params(
        ("id" = Uuid, Path, description = "The assessment's id"),
        IdempotencyKeyHeader,
    ),
    request_body = AssessmentResponses,
    responses(
        (status = 200, description = "Scored and completed", body = Assessment),
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
    security(("oauth2" = ["assessments:write"]), ("bearer" = []))
)]
#[post("/assessments/{id}/responses")]
pub async fn submit_responses(
    auth: Auth<AssessmentsWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
    ValidJson(input): ValidJson<AssessmentResponses>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &input)?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let mut events = Outbox::new(practice);
            let client_id =
                complete_open_assessment(conn, &principal, id, &input.answers, input.completed_at, None, &mut events)
                    .await?;
            entry.concerns(client_id);
            audit::record_with(conn, &entry, StatusCode::OK, events).await?;
            current(conn, practice, id, false).await
        })
    })
    .await
}

/// Cancel an assessment.
///
/// An assigned assessment the client will not complete. Cancelling twice is
/// harmless; a completed assessment answers 409.
#[utoipa::path(
    operation_id = "cancel_assessment",
    tag = "assessments",
    params(
        ("id" = Uuid, Path, description = "The assessment's id"),
        IdempotencyKeyHeader,
    ),
    responses(
        (status = 200, description = "Cancelled", body = Assessment),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 422, response = responses::ValidationFailed),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:write"]), ("bearer" = []))
)]
#[post("/assessments/{id}/cancel")]
pub async fn cancel_assessment(
    auth: Auth<AssessmentsWrite>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let practice = principal.practice_id;
    let id = id.into_inner();
    let fingerprint = idempotency::fingerprint(&req, &())?;
    idempotency::write(&state.pool, practice, key, fingerprint, move |conn| {
        Box::pin(async move {
            let locked = store::lock_assessment(conn, practice, id).await?.ok_or(ApiError::NotFound(RESOURCE))?;
            let mut events = Outbox::new(practice);
            match AssessmentStatus::from_db(&locked.status) {
                Some(AssessmentStatus::Assigned) => {
                    store::cancel(conn, practice, id).await?;
                    let data = EventData::assessment(locked.client_id, id, AssessmentStatus::Cancelled.as_str());
                    events.push(EventType::AssessmentCancelled, &data)?;
                }
                Some(AssessmentStatus::Cancelled) => {}
                _ => return Err(not_open(&locked.status)),
            }
            entry.concerns(locked.client_id);
            audit::record_with(conn, &entry, StatusCode::OK, events).await?;
            current(conn, practice, id, false).await
        })
    })
    .await
}
