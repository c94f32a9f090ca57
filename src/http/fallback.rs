//! What answers when no route matched: 405 with `Allow` when the path exists
//! under other methods, 404 otherwise; both problem+json.

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, web};

use super::problem::ApiError;

/// Every documented path template and the methods it serves, taken from the
/// OpenAPI document so it cannot drift from the routes.
pub struct KnownRoutes(Vec<(ResourceDef, Vec<String>)>);

impl KnownRoutes {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .iter()
                .filter(|(_, present)| *present)
                .map(|(name, _)| (*name).to_owned())
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        Self(routes)
    }

    fn methods_for(&self, path: &str) -> Option<&[String]> {
        self.0.iter().find(|(def, _)| def.is_match(path)).map(|(_, methods)| methods.as_slice())
    }
}

pub async fn no_route(
    req: HttpRequest,
    known: Option<web::Data<KnownRoutes>>,
) -> Result<actix_web::HttpResponse, ApiError> {
    match known.as_deref().and_then(|k| k.methods_for(req.path())) {
        Some(methods) if !methods.iter().any(|m| m == req.method().as_str()) => {
            Err(ApiError::MethodNotAllowed { allow: methods.to_vec() })
        }
        _ => Err(ApiError::NoRoute),
    }
}

/// Path parameters that fail to parse (a malformed id) answer 400 naming the
/// segment, instead of actix's plain-text 404.
pub fn path_error(_err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let field = req
        .match_info()
        .iter()
        .find(|(_, value)| uuid::Uuid::parse_str(value).is_err())
        .map_or("path", |(name, _)| name);
    ApiError::bad_request("invalid_path_parameter", field, "must be a UUID").into()
}
