//! The languages client-facing text is written in, and choosing one from a
//! link's setting or the browser's `Accept-Language`.

use actix_web::HttpRequest;
use actix_web::http::header::{AcceptLanguage, Header, Preference};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A language client-facing text is written in (BCP 47 primary tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Es,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Es];
    /// What text without a translation is written in.
    pub const DEFAULT: Language = Language::En;

    pub const fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }

    pub fn parse(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next()?;
        Language::ALL.into_iter().find(|language| language.as_str().eq_ignore_ascii_case(primary))
    }

    /// The first of the request's `Accept-Language` ranges (by quality) that
    /// we write, else English.
    pub fn from_request(req: &HttpRequest) -> Language {
        let Ok(accept) = AcceptLanguage::parse(req) else { return Language::DEFAULT };
        accept
            .ranked()
            .into_iter()
            .find_map(|preference| match preference {
                Preference::Specific(tag) => Language::parse(tag.as_str()),
                Preference::Any => None,
            })
            .unwrap_or(Language::DEFAULT)
    }
}

/// A JSON answer in `language` (when everything in it reads in that
/// language) that caches keep apart by `Accept-Language`.
pub fn json_in(language: Option<Language>, body: &impl Serialize) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::Ok();
    response.insert_header((actix_web::http::header::VARY, "Accept-Language"));
    if let Some(language) = language {
        response.insert_header((actix_web::http::header::CONTENT_LANGUAGE, language.as_str()));
    }
    response.json(body)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn chosen(header: &str) -> Language {
        Language::from_request(&TestRequest::default().insert_header(("Accept-Language", header)).to_http_request())
    }

    #[test]
    fn the_best_ranked_language_we_write_wins() {
        assert_eq!(chosen("es-MX,es;q=0.9,en;q=0.8"), Language::Es);
        assert_eq!(chosen("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.4"), Language::Es);
        assert_eq!(chosen("en;q=0.2, es;q=0.7"), Language::Es);
        assert_eq!(chosen("de, *;q=0.1"), Language::En);
        assert_eq!(chosen("EN-gb"), Language::En);
    }

    #[test]
    fn no_or_bad_header_means_english() {
        assert_eq!(Language::from_request(&TestRequest::default().to_http_request()), Language::En);
        assert_eq!(chosen(";;;"), Language::En);
    }
}
