//! `GET /v1/clients/{id}/recommendations`.

use actix_web::{get, web};
use uuid::Uuid;

use super::model::{BasedOn, Recommendation, RecommendationList};
use super::store;
use crate::auth::Auth;
use crate::auth::scopes::HomeworkRead;
use crate::clients;
use crate::exercises::definition::ExerciseDefinition;
use crate::exercises::recommend::{LatestResult, reasons};
use crate::http::{ApiError, responses};
use crate::instruments::scoring::ScoreResult;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_recommendations);
}

/// Recommend exercises for a client.
///
/// From the client's latest completed assessment of each instrument, the
/// exercises whose rules those scores meet (for example high over-independence
/// or an avoidant lean -> ask for small help), each with the reasons and
/// whether the client already has it assigned. A client with no completed
/// assessments gets an empty list and a `note` saying so.
#[utoipa::path(
    operation_id = "list_client_recommendations",
    tag = "homework",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "Recommended exercises", body = RecommendationList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = responses::Gone),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["homework:read"]), ("bearer" = []))
)]
#[get("/clients/{id}/recommendations")]
pub async fn list_recommendations(
    auth: Auth<HomeworkRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<RecommendationList>, ApiError> {
    let practice = auth.practice_id;
    let client_id = id.into_inner();
    let mut conn = state.pool.get().await?;
    clients::found(clients::store::find_client(&conn, practice, client_id).await?)?;
    let latest = store::latest_results(&mut conn, practice, client_id).await?;
    let based_on: Vec<BasedOn> = latest
        .iter()
        .map(|a| BasedOn {
            assessment_id: a.assessment_id,
            instrument_key: a.instrument_key.clone(),
            completed_at: a.completed_at,
        })
        .collect();
    if latest.is_empty() {
        return Ok(web::Json(RecommendationList {
            client_id,
            based_on,
            data: Vec::new(),
            note: Some("the client has no completed assessments yet".to_owned()),
        }));
    }
    let parsed: Vec<(String, ScoreResult)> = latest
        .into_iter()
        .map(|a| serde_json::from_value(a.result).map(|r| (a.instrument_key, r)))
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    let results: Vec<LatestResult<'_>> =
        parsed.iter().map(|(key, result)| LatestResult { instrument_key: key, result }).collect();
    let assigned = store::assigned_exercise_keys(&mut conn, practice, client_id).await?;
    let mut exercises = store::current_exercises(&mut conn, practice).await?;
    exercises.sort_by_key(|(id, _, _)| *id);
    let mut data = Vec::new();
    for (exercise_id, key, definition) in exercises {
        let definition: ExerciseDefinition = serde_json::from_value(definition).map_err(ApiError::internal)?;
        let reasons = reasons(&definition, &results);
        if reasons.is_empty() {
            continue;
        }
        data.push(Recommendation {
            exercise_id,
            already_assigned: assigned.contains(&key),
            exercise_key: key,
            title: definition.title,
            target: definition.target,
            reasons,
        });
    }
    let note = data.is_empty().then(|| "no exercise's rules match the client's latest scores".to_owned());
    Ok(web::Json(RecommendationList { client_id, based_on, data, note }))
}
