//! Every documented route, in one list: served by startup and read by the
//! OpenAPI document alike.

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    api_clients, assessments, audit, auth, client_links, clients, erasure, events, exercises, exports, health,
    homework, instruments, norms, progress, recommendations, relationships, webhooks,
};

/// Every documented route. Used for serving and for the OpenAPI document alike.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(health::routes::configure).service(
        scope::scope("/v1")
            .service(auth::routes::create_token)
            .configure(api_clients::routes::configure)
            .configure(clients::routes::configure)
            .configure(erasure::routes::configure)
            .configure(instruments::routes::configure)
            .configure(assessments::routes::configure)
            .configure(exercises::routes::configure)
            .configure(homework::routes::configure)
            .configure(recommendations::routes::configure)
            .configure(progress::routes::configure)
            .configure(relationships::routes::configure)
            .configure(norms::routes::configure)
            .configure(client_links::routes::configure)
            .configure(events::routes::configure)
            .configure(webhooks::routes::configure)
            .configure(audit::routes::configure)
            .configure(exports::routes::configure),
    );
}
