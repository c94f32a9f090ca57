//! Who is visiting: a link token (from the URL once, then from the cookie it
//! was exchanged for) checked against the database on every request, so a
//! revoked or expired link stops at once on every instance. Also the form
//! protections: a per-page CSRF token and the cross-site refusal.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::Principal;
use crate::client_links::model::LinkState;
use crate::client_links::store::{self, LinkRow};
use crate::client_links::{coverage, token};
use crate::db::worker::WorkerConnection;
use crate::http::ApiError;
use crate::i18n::Language;
use crate::practices::PracticeId;
use crate::state::AppState;

/// The cookie a link's token is exchanged for. Scoped to the pages' path.
pub const COOKIE: &str = "attune_link";
pub const PATH: &str = "/l";

/// A visit through an active link.
pub struct Visit {
    pub practice: PracticeId,
    pub link: LinkRow,
    pub language: Language,
}

/// Why a visit cannot go on. `Closed` is one answer for an unknown,
/// expired, revoked or finished link, so the page is no oracle.
pub enum Refusal {
    Closed,
    /// Too many unknown tokens from this address: wait this many seconds.
    TooMany(u64),
    Trouble(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Self {
        Refusal::Trouble(err)
    }
}

impl From<diesel::result::Error> for Refusal {
    fn from(err: diesel::result::Error) -> Self {
        Refusal::Trouble(err.into())
    }
}

/// The token a request carries in its cookie.
pub fn cookie_token(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned())
}

/// Checks a token. An unknown one (malformed, no such link, wrong secret)
/// counts against the source address and is slowed; a known one that no
/// longer works does not count, but answers the same.
pub async fn open(state: &AppState, req: &HttpRequest, token: &str) -> Result<Visit, Refusal> {
    let found = match token::names(token) {
        Some((practice, link)) => {
            let practice = PracticeId(practice);
            // A point read: on the worker's own connection when there is one.
            match req.app_data::<WorkerConnection>() {
                Some(db) => db.run(async |conn| store::find_link(conn, practice, link).await).await?,
                None => store::find_link(&*state.pool.get().await.map_err(ApiError::from)?, practice, link).await?,
            }
            .map(|row| (practice, row))
        }
        None => None,
    };
    let Some((practice, link)) = found.filter(|(_, row)| token::matches(token, &row.token_digest)) else {
        let address = crate::rate_limits::source_address(req, state.settings.trusted_proxy_hops);
        if let Some(address) = address
            && let Err(wait) = state.link_guard.record_failure(&address)
        {
            return Err(Refusal::TooMany(crate::rate_limits::wait_seconds(wait)));
        }
        // Guessing costs time as well as budget.
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        return Err(Refusal::Closed);
    };
    if coverage::state(link.revoked_at, link.finished_at, link.expires_at, Utc::now()) != LinkState::Active {
        return Err(Refusal::Closed);
    }
    let language = link.language.as_deref().and_then(Language::parse).unwrap_or_else(|| Language::from_request(req));
    Ok(Visit { practice, link, language })
}

impl Visit {
    /// Who submissions through the link are recorded as: the API client
    /// that issued it, acting as `client_link:{id}`.
    pub fn principal(&self) -> Principal {
        Principal {
            practice_id: self.practice,
            subject: self.link.created_by.clone(),
            actor: Some(format!("client_link:{}", self.link.id)),
            scopes: Vec::new(),
        }
    }

    /// The CSRF token of the form at `path`: an HMAC keyed by the link's
    /// stored digest, which never leaves the server. Stateless, the same on
    /// every instance, and different for every link and page.
    pub fn csrf_token(&self, path: &str) -> String {
        self.csrf_mac(path).map(|mac| hex::encode(mac.finalize().into_bytes())).unwrap_or_default()
    }

    pub fn csrf_matches(&self, path: &str, sent: &str) -> bool {
        let Ok(sent) = hex::decode(sent) else { return false };
        self.csrf_mac(path).is_some_and(|mac| mac.verify_slice(&sent).is_ok())
    }

    /// HMAC takes keys of any length, so this is `None` only in theory.
    fn csrf_mac(&self, path: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.link.token_digest).ok()?;
        mac.update(path.as_bytes());
        Some(mac)
    }
}

/// The cookie holding the token: HttpOnly, SameSite=Strict, Secure when the
/// service is reached over https, scoped to the pages, gone when the link
/// expires.
pub fn token_cookie(state: &AppState, token: &str, link: &LinkRow) -> Cookie<'static> {
    let seconds = (link.expires_at - Utc::now()).num_seconds().max(0);
    Cookie::build(COOKIE, token.to_owned())
        .path(PATH)
        .http_only(true)
        .secure(state.settings.public_url.starts_with("https://"))
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(seconds))
        .finish()
}

/// Whether a form post comes from another site: by `Sec-Fetch-Site` where
/// the browser sends it, else by `Origin` against the public URL.
pub fn cross_site(state: &AppState, req: &HttpRequest) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match req.headers().get(actix_web::http::header::ORIGIN).map(|v| v.to_str()) {
        None => false,
        Some(Ok(origin)) => origin.trim_end_matches('/') != public_origin(&state.settings.public_url),
        Some(Err(_)) => true,
    }
}

/// `scheme://host[:port]` of the public URL.
fn public_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |i| i + 3);
    match public_url[after_scheme..].find('/') {
        Some(slash) => &public_url[..after_scheme + slash],
        None => public_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_origin_drops_any_path() {
        assert_eq!(public_origin("https://forms.example.org/attune"), "https://forms.example.org");
        assert_eq!(public_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
