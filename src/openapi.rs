//! The OpenAPI document: the base below plus every `#[utoipa::path]` handler
//! registered in [`crate::routes::routes`], collected by utoipa-actix-web.

use utoipa::openapi::RefOr;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::auth::Scope;
use crate::http::{FieldError, ProblemDetails, responses};

pub const TOKEN_URL: &str = "/v1/oauth/token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Attune API",
        description = "Assessments, homework exercises and client progress for therapy practice software \
            working with interdependence and attachment.\n\n\
            **Getting a token.** Exchange your API client's id and secret at `POST /v1/oauth/token` \
            (OAuth 2 client credentials) and send the token as `Authorization: Bearer <token>`.\n\n\
            **Conventions.** JSON in snake_case; timestamps RFC 3339 UTC; ids UUID v7. Lists take `limit` \
            (1-200, default 50) and `cursor`, and answer `{\"data\": [...], \"next_cursor\": ...}`. \
            Single resources carry an `ETag`; send it as `If-Match` when changing them (412 when stale). \
            Every POST honours an `Idempotency-Key`. Errors are `application/problem+json` with a stable `code`, \
            the `request_id` and, for validation, the `errors` at fault. Another practice's resources answer 404.",
        version = env!("CARGO_PKG_VERSION"),
        license(name = "Proprietary")
    ),
    tags(
        (name = "auth", description = "Access tokens (OAuth 2 client credentials)"),
        (name = "api_clients", description = "Integration credentials, managed by practice admins"),
        (name = "clients", description = "The people a practice treats"),
        (name = "erasure", description = "Erasing a client's record on request or by the practice's retention policy; legal hold suspends it"),
        (name = "instruments", description = "Versioned questionnaires: built-in and your practice's own"),
        (name = "assessments", description = "Administering instruments to clients and scoring the answers"),
        (name = "exercises", description = "The homework library: built-in exercises and your practice's own"),
        (name = "homework", description = "Exercises assigned to clients, and the practices they log"),
        (name = "progress", description = "Movement over time: reliable change, adherence, flags, charts"),
        (name = "relationships", description = "Clients linked for joint work, and the couple's profile side by side"),
        (name = "client_links", description = "Links a client opens on any device to complete assessments and log homework"),
        (name = "events", description = "What changed in the practice, oldest first: the feed an integration catches up from"),
        (name = "webhooks", description = "Receivers the practice's events are pushed to, signed by the Standard Webhooks scheme"),
        (name = "audit", description = "Who accessed which client's data, and changed which credential: the practice's tamper-evident trail"),
        (name = "exports", description = "A client's whole record, and the practice-wide export by FHIR Bulk Data Access"),
        (name = "operations", description = "Liveness and readiness probes"),
    ),
    components(
        schemas(ProblemDetails, FieldError, Scope),
        responses(
            responses::BadRequest,
            responses::Unauthorized,
            responses::Forbidden,
            responses::NotFound,
            responses::Conflict,
            responses::Gone,
            responses::PreconditionFailed,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::ValidationFailed,
            responses::Unavailable,
            responses::TooManyRequests,
            responses::RequestTimeout,
            crate::exports::routes::ExportExpired,
            crate::exports::routes::ExportFailed,
        )
    ),
    modifiers(&SecuritySchemes)
)]
struct BaseDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = Scopes::from_iter(Scope::ALL.iter().map(|scope| (scope.as_str(), scope_description(*scope))));
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(TOKEN_URL, scopes))],
                "OAuth 2 client credentials: your API client's id and secret for a short-lived token.",
            )),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /v1/oauth/token` (or your identity provider)."))
                    .build(),
            ),
        );
    }
}

fn scope_description(scope: Scope) -> &'static str {
    match scope {
        Scope::ClientsRead => "Read clients",
        Scope::ClientsWrite => "Create, change and archive clients",
        Scope::AssessmentsRead => "Read instruments and assessments",
        Scope::AssessmentsWrite => "Assign and score assessments",
        Scope::HomeworkRead => "Read exercises, homework and logs",
        Scope::HomeworkWrite => "Assign homework and log practice",
        Scope::ProgressRead => "Read progress, charts and profiles",
        Scope::EventsRead => "Read the event feed",
        Scope::AuditRead => "Read the audit trail (admin includes it)",
        Scope::Admin => "Manage API clients and practice-wide definitions",
    }
}

/// The complete document, as served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(BaseDoc::openapi())
        .configure(crate::routes::routes)
        .split_for_parts();
    link_created_resources(&mut doc);
    answer_limits_everywhere(&mut doc);
    mark_audited_operations(&mut doc);
    doc
}

/// Says on each audited operation how the trail records it
/// (`x-attune-audit: {action, resource_type}`), from the one table the
/// recording middleware reads.
fn mark_audited_operations(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let Some(audited) = operation.operation_id.as_deref().and_then(crate::audit::operations::audited) else {
                continue;
            };
            let mark = serde_json::json!({"action": audited.action, "resource_type": audited.resource_type});
            operation.extensions.get_or_insert_with(Default::default).insert("x-attune-audit".to_owned(), mark);
        }
    }
}

/// Every authenticated operation may meet the practice's request rate, and
/// every operation with a body the body timeout: both come from shared
/// extractors, so they are documented here once rather than by each handler.
fn answer_limits_everywhere(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                answer_shared(operation, "429", "TooManyRequests");
            }
            if operation.request_body.is_some() {
                answer_shared(operation, "408", "RequestTimeout");
            }
        }
    }
}

/// Adds `status` to the operation's answers as a reference to a shared response.
fn answer_shared(operation: &mut Operation, status: &str, response: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::Ref(utoipa::openapi::Ref::from_response_name(response)));
}

fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch].into_iter().flatten()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
}

/// Links each creating operation's 201 (or 202) answer to every operation on the new
/// resource (`POST /v1/clients` -> `/v1/clients/{id}...`), passing its `id`:
/// generated clients and stateful testers follow them, and they are derived
/// from the paths, so a new operation is linked without anyone listing it.
fn link_created_resources(doc: &mut utoipa::openapi::OpenApi) {
    let targets: Vec<(String, String)> = doc
        .paths
        .paths
        .iter()
        .filter(|(path, _)| path.contains("/{id}"))
        .flat_map(|(path, item)| {
            let collection = path.split("/{id}").next().unwrap_or_default().to_owned();
            operations(item).filter_map(move |op| Some((collection.clone(), op.operation_id.clone()?)))
        })
        .collect();
    for (path, item) in doc.paths.paths.iter_mut() {
        let Some(create) = item.post.as_mut() else { continue };
        // 201 made it; 202 (a Bulk Data kick-off) queued it.
        let answer = create.responses.responses.iter_mut().find(|(status, _)| *status == "201" || *status == "202");
        let Some((_, RefOr::T(created))) = answer else { continue };
        for (_, operation_id) in targets.iter().filter(|(collection, _)| collection == path) {
            let link = LinkBuilder::new()
                .operation_id(operation_id)
                .parameter("id", "$response.body#/id")
                .description("The resource just created")
                .build();
            created.links.insert(operation_id.clone(), RefOr::T(link));
        }
    }
}

/// The document as JSON: what utoipa builds, plus the rules its types cannot
/// carry (see [`state_rules_utoipa_cannot_carry`]).
pub fn document_value(doc: &utoipa::openapi::OpenApi) -> anyhow::Result<serde_json::Value> {
    let mut doc = serde_json::to_value(doc)?;
    state_rules_utoipa_cannot_carry(&mut doc);
    Ok(doc)
}

/// `doc` as pretty JSON with a trailing newline (what `attune openapi`
/// prints, `/openapi.json` serves and `openapi/openapi.json` holds).
pub fn render_json(doc: &utoipa::openapi::OpenApi) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(&document_value(doc)?)?))
}

/// The complete document as JSON text.
pub fn document_json() -> anyhow::Result<String> {
    render_json(&document())
}

/// Writes into the document the rules the server enforces that utoipa's
/// attributes cannot express, so that generators and validators read the
/// same contract the server keeps:
/// - no text holds U+0000 (the JSON and query extractors refuse it, since
///   PostgreSQL cannot store it): a pattern on every free-text string;
/// - the variants of the tagged definition enums refuse unknown members, as
///   their `deny_unknown_fields` does (utoipa marks structs only);
/// - `completed_at` of a new assessment comes only with `answers`;
/// - an export's `types` are distinct (utoipa has no `uniqueItems`), and
///   its kick-off's body is optional.
fn state_rules_utoipa_cannot_carry(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    forbid_nul_in_text(doc);
    let schemas = &mut doc["components"]["schemas"];
    for name in ["RecommendationRule", "Classification"] {
        if let Some(variants) = schemas[name]["oneOf"].as_array_mut() {
            for variant in variants {
                variant["additionalProperties"] = Value::Bool(false);
            }
        }
    }
    if let Some(new_assessment) = schemas.get_mut("NewAssessment").and_then(Value::as_object_mut) {
        new_assessment.insert(
            "dependentSchemas".to_owned(),
            json!({"completed_at": {"required": ["answers"], "properties": {"answers": {"type": "array"}}}}),
        );
    }
    // A kick-off may come without a body (utoipa marks a named body required).
    if let Some(body) = doc.pointer_mut("/paths/~1v1~1exports/post/requestBody").and_then(Value::as_object_mut) {
        body.insert("required".to_owned(), Value::Bool(false));
    }
    let schemas = &mut doc["components"]["schemas"];
    // An export names each type once.
    if let Some(types) = schemas.pointer_mut("/NewExport/properties/types").and_then(Value::as_object_mut) {
        types.insert("uniqueItems".to_owned(), Value::Bool(true));
    }
    // A link lists ids or takes "all" for each kind, not both, and covers
    // at least one kind.
    if let Some(new_link) = schemas.get_mut("NewClientLink").and_then(Value::as_object_mut) {
        new_link.insert(
            "dependentSchemas".to_owned(),
            json!({
                "assessment_ids": {"properties": {"all_open_assessments": {"const": false}}},
                "homework_ids": {"properties": {"all_active_homework": {"const": false}}},
            }),
        );
        new_link.insert(
            "anyOf".to_owned(),
            json!([
                {"required": ["assessment_ids"]},
                {"required": ["homework_ids"]},
                {"required": ["all_open_assessments"], "properties": {"all_open_assessments": {"const": true}}},
                {"required": ["all_active_homework"], "properties": {"all_active_homework": {"const": true}}},
            ]),
        );
    }
}

/// A free-text string (no format, no enum, no pattern of its own that
/// already excludes NUL) gets a pattern that excludes it.
fn forbid_nul_in_text(value: &mut serde_json::Value) {
    use serde_json::Value;
    const NO_NUL: &str = "^[^\\u0000]*$";
    const NON_BLANK_NO_NUL: &str = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$";
    match value {
        Value::Object(map) => {
            let is_text = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
                _ => false,
            } && !map.contains_key("format")
                && !map.contains_key("enum");
            if is_text {
                match map.get("pattern").and_then(Value::as_str) {
                    None => {
                        map.insert("pattern".to_owned(), Value::from(NO_NUL));
                    }
                    Some(r"\S") => {
                        map.insert("pattern".to_owned(), Value::from(NON_BLANK_NO_NUL));
                    }
                    Some(_) => {}
                }
            }
            // The names of a map's members are text too.
            if map.get("additionalProperties").is_some_and(Value::is_object) && !map.contains_key("propertyNames") {
                map.insert("propertyNames".to_owned(), serde_json::json!({"type": "string", "pattern": NO_NUL}));
            }
            // Examples are data, not schemas.
            for (key, member) in map.iter_mut() {
                if key != "example" && key != "examples" {
                    forbid_nul_in_text(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_nul_in_text),
        _ => {}
    }
}
