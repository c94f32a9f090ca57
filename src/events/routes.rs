//! `/v1/events`: the practice's feed of changes, for catching up after a
//! receiver was down and for integrations without a public URL.

use actix_web::{get, web};

use super::model::{Event, EventList, EventType, ListEventsQuery};
use super::store;
use crate::auth::Auth;
use crate::auth::scopes::EventsRead;
use crate::http::json::ValidQuery;
use crate::http::pagination::PageRequest;
use crate::http::{ApiError, responses};
use crate::state::AppState;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events);
}

/// Read the event feed.
///
/// The practice's events, oldest first, numbered 1, 2, 3, ... in commit
/// order with no gaps. Keep the `next_after` of each answer and send it
/// back as `after`: an integration that was down reads on from where it
/// stopped, and one without a public URL polls here. Events are kept at
/// least 30 days.
#[utoipa::path(
    operation_id = "list_events",
    tag = "events",
    params(ListEventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventList),
        (status = 400, response = responses::BadRequest),
        (status = 401, response = responses::Unauthorized),
        (status = 403, response = responses::Forbidden),
        (status = 503, response = responses::Unavailable),
    ),
    security(("oauth2" = ["events:read"]), ("bearer" = []))
)]
#[get("/events")]
pub async fn list_events(
    auth: Auth<EventsRead>,
    ValidQuery(query): ValidQuery<ListEventsQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<EventList>, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("invalid_query", "after", "must be 0 or more"));
    }
    // The shared rule for `limit`; the position is a sequence, not a cursor.
    let page = PageRequest::new(query.limit, None)?;
    let types = parse_types(query.types.as_deref())?;
    let mut conn = state.pool.get().await?;
    // Number what was written until now, so the page holds it.
    store::sequence(&conn, auth.practice_id).await?;
    let mut rows = store::list(&mut conn, auth.practice_id, after, &types, page.fetch_limit()).await?;
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    auth.audit.found(rows.len());
    let next_after = rows.last().map_or(after, |row| row.sequence);
    let data = rows.into_iter().map(Event::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(EventList { data, next_after, has_more }))
}

/// The `type` filter: known type names, comma-separated.
fn parse_types(value: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let Some(value) = value else { return Ok(Vec::new()) };
    value
        .split(',')
        .map(|name| {
            EventType::parse(name)
                .map(EventType::as_str)
                .ok_or_else(|| ApiError::bad_request("invalid_query", "type", format!("{name:?} is not an event type")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_name_known_types_only() {
        assert_eq!(parse_types(None).ok(), Some(vec![]));
        assert_eq!(
            parse_types(Some("client.created,progress.flag_raised")).ok(),
            Some(vec!["client.created", "progress.flag_raised"])
        );
        assert!(parse_types(Some("client.created,")).is_err());
        assert!(parse_types(Some("client.deleted")).is_err());
    }
}
