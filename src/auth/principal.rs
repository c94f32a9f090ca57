//! The `Auth<S>` extractor: a handler that takes `Auth<ClientsRead>` cannot run
//! unless the request carries a valid token with that scope.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use super::jwt::TokenOrigin;
use super::scopes::{RequiredScope, Scope};
use super::verified_tokens::{Checked, VerifiedTokens};
use crate::audit::Note;
use crate::http::ApiError;
use crate::practices::PracticeId;
use crate::state::AppState;

/// Who is calling: the practice, the API client (or external subject), the
/// clinician it acts for, and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub practice_id: PracticeId,
    /// The token's `sub`: an API client id for our own tokens.
    pub subject: String,
    /// The integrator's clinician id, when the token names one.
    pub actor: Option<String>,
    pub scopes: Vec<Scope>,
}

/// A checked principal holding the scope `S`.
pub struct Auth<S: RequiredScope> {
    pub principal: Principal,
    /// The request's audit entry in the making (records nothing when the
    /// operation is not audited).
    pub audit: Note,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope> std::ops::Deref for Auth<S> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::InvalidToken("send `Authorization: Bearer <token>`"))?;
    let value = value.to_str().map_err(|_| ApiError::InvalidToken("the Authorization header is malformed"))?;
    let (kind, token) = value.split_once(' ').ok_or(ApiError::InvalidToken("the Authorization header is malformed"))?;
    if !kind.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken("send `Authorization: Bearer <token>`"));
    }
    Ok(token.trim())
}

/// Checks the bearer token of a request and returns its principal (scope
/// checks are the caller's). The signature and claims are checked once per
/// worker and token (see `verified_tokens`); revocation on every request.
pub async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let token = bearer_token(req)?;
    let now = chrono::Utc::now().timestamp();
    let remembered = VerifiedTokens::of(req);
    let checked = match remembered.and_then(|tokens| tokens.get(token, now)) {
        Some(checked) => checked,
        None => {
            let checked = check(&state, token)?;
            if let Some(tokens) = remembered {
                tokens.insert(token, checked.clone(), now);
            }
            checked
        }
    };
    if let Some(client_id) = checked.local_client
        && !state.revocations.is_active(&state.pool, checked.principal.practice_id, client_id).await?
    {
        return Err(ApiError::InvalidToken("the token's API client has been revoked"));
    }
    Ok(checked.principal)
}

/// The full check of a token's signature and claims.
fn check(state: &AppState, token: &str) -> Result<Checked, ApiError> {
    let verified = state.tokens.verify(token).map_err(ApiError::InvalidToken)?;
    let claims = verified.claims;
    let practice_id = claims
        .practice_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .map(PracticeId)
        .ok_or(ApiError::InvalidToken("the token names no practice"))?;
    let local_client = match verified.origin {
        TokenOrigin::Local => {
            Some(Uuid::parse_str(&claims.sub).map_err(|_| ApiError::InvalidToken("the token is malformed"))?)
        }
        TokenOrigin::External => None,
    };
    // Unknown scope names from an external issuer are ignored, not fatal.
    let scopes = claims.scope.split(' ').filter_map(Scope::parse).collect();
    Ok(Checked {
        principal: Principal { practice_id, subject: claims.sub, actor: claims.act.map(|a| a.sub), scopes },
        local_client,
        expires_at: claims.exp,
    })
}

/// Checks the token and the practice's request rate: what every
/// authenticated handler's extractor starts with.
async fn admit(req: &HttpRequest) -> Result<Principal, ApiError> {
    let principal = authenticate(req).await?;
    // Known from here on, so a refusal below is recorded in this practice's trail.
    let path_id = req.match_info().get("id").and_then(|id| Uuid::parse_str(id).ok());
    Note::of(req).identify(&principal, path_id);
    if let Some(limiter) = req.app_data::<web::Data<AppState>>().and_then(|s| s.practice_limiter.as_ref()) {
        let status = limiter.check(principal.practice_id.0);
        if !status.allowed {
            return Err(ApiError::TooManyRequests(status));
        }
        req.extensions_mut().insert(status);
    }
    Ok(principal)
}

impl<S: RequiredScope + 'static> FromRequest for Auth<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = admit(&req).await?;
            principal.require(S::SCOPE)?;
            Ok(Auth { principal, audit: Note::of(&req), _scope: PhantomData })
        })
    }
}

impl Principal {
    /// Refuses unless the token carries `scope`: for handlers whose required
    /// scope depends on the request (a link needs the scope of what it covers).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.holds(scope) { Ok(()) } else { Err(ApiError::InsufficientScope(scope.as_str())) }
    }

    /// Whether the token's scopes allow `scope`.
    pub fn holds(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|held| held.allows(scope))
    }

    /// Refuses unless the token carries at least one of `scopes` (naming the
    /// first in the refusal).
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|scope| self.holds(**scope)) {
            Some(_) => Ok(()),
            None => Err(ApiError::InsufficientScope(scopes.first().map_or("", |s| s.as_str()))),
        }
    }
}

/// Any valid token of a practice; the handler checks the scopes.
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { admit(&req).await })
    }
}
