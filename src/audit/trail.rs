//! The middleware that gives every audited request its entry.
//!
//! Before the handler it opens the request's [`Note`]; after it, unless a
//! write already recorded the entry in its own committed transaction, it
//! hands the entry to the worker's [`AuditWriter`] and answers only once
//! the entry is committed. If the trail cannot take the entry, a successful
//! answer becomes 503: the service never answers 2xx for an access it
//! could not record.

use std::collections::HashMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use super::note::{Note, Origin};
use super::operations::{Action, Audited, audited};
use super::writer::{AuditWriter, ReadAuditing};
use crate::http::request_id;

/// Which routes are audited (read from the OpenAPI document, so a route and
/// its recording cannot drift apart), and how.
pub struct Trail {
    routes: HashMap<(Method, String), Audited>,
    pub reads: ReadAuditing,
    trusted_proxy_hops: usize,
}

impl Trail {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi, reads: ReadAuditing, trusted_proxy_hops: usize) -> Self {
        let mut routes = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in operations {
                if let Some(found) = operation.as_ref().and_then(|op| op.operation_id.as_deref()).and_then(audited) {
                    routes.insert((method, path.clone()), found);
                }
            }
        }
        Self { routes, reads, trusted_proxy_hops }
    }

    fn audited(&self, req: &ServiceRequest) -> Option<Audited> {
        let pattern = req.match_pattern()?;
        self.routes.get(&(req.method().clone(), pattern)).copied()
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let trail = req.app_data::<web::Data<Trail>>().cloned();
    let Some((trail, audited)) = trail.and_then(|trail| trail.audited(&req).map(|found| (trail, found))) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let source = crate::rate_limits::source_address(req.request(), trail.trusted_proxy_hops).map(|ip| ip.to_string());
    let note = Note::open(audited, None, Origin { request_id: request_id::current(), source });
    if audited.action == Action::Search {
        note.filters(req.query_string());
    }
    req.extensions_mut().insert(note.clone());
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    if trail.reads == ReadAuditing::Off || (note.recorded() && status.is_success()) {
        return Ok(response);
    }
    // A request refused before its handler's `Auth` ran (a malformed query,
    // say) still names its caller, when the token checks out.
    if !note.identified()
        && let Ok(principal) = crate::auth::principal::authenticate(response.request()).await
    {
        let path_id = response.request().match_info().get("id").and_then(|id| uuid::Uuid::parse_str(id).ok());
        note.identify(&principal, path_id);
    }
    // A caller whose token did not check out belongs to no practice's trail.
    let Some(entry) = note.entry(status.as_u16()) else { return Ok(response) };
    let Some(writer) = response.request().app_data::<AuditWriter>().cloned() else {
        tracing::error!("the audit writer is not configured");
        return Ok(unavailable(response));
    };
    match writer.append(entry).await {
        Ok(()) => Ok(response),
        Err(_) if status.is_success() => Ok(unavailable(response)),
        // The request failed anyway; its answer stands (the writer logged why).
        Err(_) => Ok(response),
    }
}

/// The answer for an access the trail could not record.
fn unavailable(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (req, _) = response.into_parts();
    let refusal = crate::http::ApiError::Unavailable(anyhow::anyhow!("the audit trail could not record the access"));
    ServiceResponse::new(req, refusal.error_response())
}
