//! `GET /v1/clients/{id}/progress` and its chart.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::{try_join, try_join5};
use uuid::Uuid;

use super::chart;
use super::model::{ChartQuery, ClientProgress, ProgressQuery, SvgImage};
use super::report;
use super::store::{self, Period};
use crate::auth::Auth;
use crate::auth::scopes::ProgressRead;
use crate::http::json::ValidQuery;
use crate::http::{ApiError, responses};
use crate::practices::PracticeId;
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_client_progress).service(get_client_progress_chart);
}

/// A client's progress.
///
/// Per instrument and subscale: the dated series, baseline, latest, change
/// and Jacobson-Truax reliable change with the norms used (published, or the
/// practice's local norms where it opted in), and the classification at each
/// administration. Homework adherence per assignment and overall, with the
/// last 12 ISO weeks one by one; paused time is not expected. Flags:
/// reliable deterioration, an active assignment with no log for 14 days, an
/// assessment past its due date. `from` and `to` (UTC days, inclusive) bound
/// the series and the adherence totals; `instrument` keeps one instrument.
#[utoipa::path(
    operation_id = "get_client_progress",
    tag = "progress",
    params(("id" = Uuid, Path, description = "The client's id"), ProgressQuery),
    responses(
        (status = 200, description = "The client's progress", body = ClientProgress),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = responses::Gone),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["progress:read"]), ("bearer" = []))
)]
#[get("/clients/{id}/progress")]
pub async fn get_client_progress(
    auth: Auth<ProgressRead>,
    id: web::Path<Uuid>,
    ValidQuery(query): ValidQuery<ProgressQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ClientProgress>, ApiError> {
    let period = period(query.from, query.to)?;
    let conn = state.pool.get().await?;
    let progress =
        build(&conn, auth.practice_id, id.into_inner(), period, query.instrument.as_deref(), Utc::now()).await?;
    Ok(web::Json(ClientProgress { from: query.from, to: query.to, ..progress }))
}

/// A chart of one subscale over time.
///
/// An SVG line chart of the client's scores on one subscale, with the
/// subscale's bands shaded and reliable changes from baseline marked
/// (improvement in green, deterioration in red; only where norms exist).
/// The SVG carries a `<title>` and a `<desc>` summarising the series for
/// screen readers, so it can be embedded as is.
#[utoipa::path(
    operation_id = "get_client_progress_chart",
    tag = "progress",
    params(("id" = Uuid, Path, description = "The client's id"), ChartQuery),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml", body = SvgImage),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 404, response = responses::NotFound),
        (status = 410, response = responses::Gone),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["progress:read"]), ("bearer" = []))
)]
#[get("/clients/{id}/progress/chart.svg")]
pub async fn get_client_progress_chart(
    auth: Auth<ProgressRead>,
    id: web::Path<Uuid>,
    ValidQuery(query): ValidQuery<ChartQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let period = period(query.from, query.to)?;
    let conn = state.pool.get().await?;
    let progress = build(&conn, auth.practice_id, id.into_inner(), period, Some(&query.instrument), Utc::now()).await?;
    let instrument = progress.instruments.into_iter().find(|i| i.instrument_key == query.instrument);
    let Some(instrument) = instrument else {
        return Err(ApiError::bad_request(
            "no_scores",
            "instrument",
            "the client has no completed administration of this instrument in the period",
        ));
    };
    let Some(subscale) = instrument.subscales.iter().find(|s| s.key == query.subscale) else {
        return Err(ApiError::bad_request("no_scores", "subscale", "the instrument has no scores for this subscale"));
    };
    let svg = chart::render(&instrument.title, subscale).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").insert_header(("Cache-Control", "private, no-store")).body(svg))
}

/// Days a period may name: what PostgreSQL stores and a clinician could mean.
const DAYS: std::ops::RangeInclusive<i32> = 1..=9999;

fn period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Period, ApiError> {
    for (field, day) in [("from", from), ("to", to)] {
        if day.is_some_and(|day| !DAYS.contains(&day.year())) {
            return Err(ApiError::bad_request("invalid_query", field, "must be a day in the years 1 to 9999"));
        }
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad_request("invalid_query", "to", "must not be before from"));
    }
    Ok(Period {
        start: from.map(report::day_start),
        end: to.and_then(|day| day.checked_add_signed(Duration::days(1))).map(report::day_start),
    })
}

/// Loads a client's rows and builds the whole progress view: two rounds of
/// pipelined queries, the second needing the ids the first returns.
async fn build(
    conn: &AsyncPgConnection,
    practice: PracticeId,
    client_id: Uuid,
    period: Period,
    instrument_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ClientProgress, ApiError> {
    let (standing, scores, classifications, assignments, overdue) = try_join5(
        store::client_standing(conn, practice, client_id),
        store::scores(conn, practice, client_id, period, instrument_key),
        store::classifications(conn, practice, client_id, period, instrument_key),
        store::assignments(conn, practice, client_id),
        store::overdue_assessments(conn, practice, client_id, now.date_naive()),
    )
    .await?;
    match standing {
        None => return Err(ApiError::NotFound("client")),
        Some(Some(erased_at)) => return Err(crate::clients::erased(erased_at)),
        Some(None) => {}
    }
    let weeks = report::adherence_weeks(period, now);
    let ((versions, local), history) = try_join(super::versions_and_norms(conn, practice, &scores), async {
        super::homework_details(conn, practice, assignments, period, now, weeks.first().copied())
            .await
            .map_err(ApiError::from)
    })
    .await?;
    let instruments = report::instrument_progress(&scores, &classifications, &versions, &local);
    let adherence = report::adherence(&history, period, now, &weeks);
    let flags = report::flags(&instruments, &history, &overdue, now);
    Ok(ClientProgress { client_id, generated_at: now, from: None, to: None, instruments, adherence, flags })
}
