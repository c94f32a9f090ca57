//! `/v1/instruments/{id}/statistics` and `/v1/instruments/{id}/local-norms`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{SubsecRound, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{InstrumentStatistics, LocalNorms, LocalSubscaleNorms, SubscaleStatistics};
use super::statistics::{MINIMUM_N, subscale_statistics};
use super::store;
use crate::audit;
use crate::auth::Auth;
use crate::auth::scopes::{Admin, AssessmentsRead};
use crate::http::{ApiError, responses};
use crate::instruments::definition::InstrumentDefinition;
use crate::instruments::scoring::Answer;
use crate::instruments::store::{InstrumentRow, find_instrument};
use crate::practices::PracticeId;
use crate::progress;
use crate::progress::store::LocalNormRow;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_instrument_statistics).service(set_local_norms).service(delete_local_norms);
}

async fn statistics_of(
    conn: &mut AsyncPgConnection,
    practice: PracticeId,
    id: Uuid,
) -> Result<(InstrumentRow, Vec<SubscaleStatistics>), ApiError> {
    let row = find_instrument(conn, practice, id).await?.ok_or(ApiError::NotFound("instrument"))?;
    let definition: InstrumentDefinition =
        serde_json::from_value(row.definition.clone()).map_err(ApiError::internal)?;
    let administrations: Vec<Vec<Answer>> = store::completed_answers(conn, practice, id)
        .await?
        .into_iter()
        .flatten()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok((row, subscale_statistics(&definition, &administrations, MINIMUM_N)))
}

/// The practice's frozen norms for an instrument version, by subscale key.
fn local_norms(instrument_id: Uuid, mut rows: Vec<LocalNormRow>) -> Option<LocalNorms> {
    rows.sort_by(|a, b| a.subscale.cmp(&b.subscale));
    let computed_at = rows.first()?.computed_at;
    let subscales = rows
        .into_iter()
        .map(|row| LocalSubscaleNorms { key: row.subscale, n: row.n, mean: row.mean, sd: row.sd, alpha: row.alpha })
        .collect();
    Some(LocalNorms { instrument_id, computed_at, subscales })
}

/// An instrument's statistics in your practice.
///
/// From your practice's completed administrations of this instrument
/// version: per subscale n, mean, sd and Cronbach's alpha, reported from 30
/// administrations on (below that, `reason` says so). Also the local norms
/// in use, if you opted in.
#[utoipa::path(
    operation_id = "get_instrument_statistics",
    tag = "instruments",
    params(("id" = Uuid, Path, description = "The instrument version's id")),
    responses(
        (status = 200, description = "The statistics", body = InstrumentStatistics),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["assessments:read"]), ("bearer" = []))
)]
#[get("/instruments/{id}/statistics")]
pub async fn get_instrument_statistics(
    auth: Auth<AssessmentsRead>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<InstrumentStatistics>, ApiError> {
    let practice = auth.practice_id;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let (row, subscales) = statistics_of(&mut conn, practice, id).await?;
    // The same query progress reads local norms with.
    let local = local_norms(id, progress::store::local_norms(&conn, practice, &[id]).await?);
    Ok(web::Json(InstrumentStatistics {
        instrument_id: row.id,
        instrument_key: row.key,
        version: row.version,
        minimum_n: MINIMUM_N,
        subscales,
        local_norms: local,
    }))
}

/// Use your practice's own norms for change statistics.
///
/// Freezes the current statistics of every subscale that has no published
/// norms, at least 30 administrations, and an alpha strictly between 0 and
/// 1, as your practice's norms for this instrument version: progress then
/// reports reliable change for them (sd and alpha as the reliability) and
/// names them as `local`. Calling it again refreshes them. 409 when no
/// subscale qualifies, with each reason.
#[utoipa::path(
    operation_id = "set_local_norms",
    tag = "instruments",
    params(("id" = Uuid, Path, description = "The instrument version's id")),
    responses(
        (status = 200, description = "The local norms now in use", body = LocalNorms),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 409, response = responses::Conflict),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[put("/instruments/{id}/local-norms")]
pub async fn set_local_norms(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<web::Json<LocalNorms>, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    let norms = crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            let practice = principal.practice_id;
            let (_, subscales) = statistics_of(conn, practice, id).await?;
            let mut qualifying = Vec::new();
            let mut refused = Vec::new();
            for s in subscales {
                match (s.has_published_norms, s.mean, s.sd, s.alpha) {
                    (true, ..) => refused.push(format!("{}: has published norms", s.key)),
                    (false, Some(mean), Some(sd), Some(alpha)) if sd > 0.0 && alpha > 0.0 && alpha < 1.0 => {
                        qualifying.push(LocalSubscaleNorms { key: s.key, n: s.n as i32, mean, sd, alpha })
                    }
                    (false, ..) => refused.push(format!(
                        "{}: {}",
                        s.key,
                        s.reason.unwrap_or_else(|| "needs sd > 0 and alpha between 0 and 1".to_owned())
                    )),
                }
            }
            if qualifying.is_empty() {
                return Err(ApiError::Conflict {
                    code: "local_norms_unavailable",
                    detail: format!("no subscale qualifies for local norms ({})", refused.join("; ")),
                });
            }
            // PostgreSQL keeps microseconds: answer with what a read will show.
            let computed_at = Utc::now().trunc_subsecs(6);
            store::replace_local_norms(conn, practice, id, computed_at, &qualifying).await?;
            entry.resource(id);
            audit::record(conn, &entry, StatusCode::OK).await?;
            Ok(LocalNorms { instrument_id: id, computed_at, subscales: qualifying })
        })
    })
    .await?;
    Ok(web::Json(norms))
}

/// Stop using your practice's own norms.
///
/// Progress goes back to reporting change without reliable change for the
/// subscales that have no published norms.
#[utoipa::path(
    operation_id = "delete_local_norms",
    tag = "instruments",
    params(("id" = Uuid, Path, description = "The instrument version's id")),
    responses(
        (status = 204, description = "Local norms no longer used"),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["admin"]), ("bearer" = []))
)]
#[delete("/instruments/{id}/local-norms")]
pub async fn delete_local_norms(
    auth: Auth<Admin>,
    id: web::Path<Uuid>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entry = auth.audit.clone();
    let principal = auth.principal;
    let id = id.into_inner();
    crate::db::transaction(&state.pool, move |conn| {
        Box::pin(async move {
            if store::delete_local_norms(conn, principal.practice_id, id).await? == 0 {
                return Err(ApiError::NotFound("local norms"));
            }
            entry.resource(id);
            audit::record(conn, &entry, StatusCode::OK).await?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
