//! Request body and query extractors that answer problem+json naming the
//! field at fault: malformed JSON is 400, a wrong type or a failed rule 422.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::problem::{ApiError, FieldError};

/// A JSON body, parsed and validated.
pub struct ValidJson<T>(pub T);

/// A JSON body, parsed only: for types whose rules are checked by their own
/// code (the handler calls it).
pub struct ParsedJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = ParsedJson::<T>::from_request(req, payload);
        Box::pin(async move {
            let ParsedJson(value) = parsed.await?;
            value.validate().map_err(|errors| ApiError::Validation(flatten(&errors)))?;
            Ok(ValidJson(value))
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ParsedJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        let body = super::body::read(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
            }
            Ok(ParsedJson(parse_json(&body.await?)?))
        })
    }
}

/// Parses JSON, reporting the path of a member of the wrong type.
///
/// A number with no fractional part counts as an integer (`8.0` is `8`), as
/// JSON Schema and the document say, whatever the client's JSON writer does
/// with whole floats. That second reading runs only when the first fails on
/// a type, so well-typed bodies pay nothing for it.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Refused before parsing, so that no part of the body (a member's name
    // included) is stored or echoed in an error with a NUL in it.
    if holds_nul_escape(body) {
        return Err(ApiError::nul_character());
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let first: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let err = match first {
        Ok(value) => {
            deserializer.end().map_err(|_| {
                ApiError::bad_request("malformed_json", "body", "trailing characters after the JSON value")
            })?;
            return Ok(value);
        }
        Err(err) => err,
    };
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        let message = if body.is_empty() { "the body is empty".to_owned() } else { strip_position(&inner) };
        return Err(ApiError::bad_request("malformed_json", "body", message));
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(body)
        && integral_floats_as_integers(&mut value)
        && let Ok(parsed) = T::deserialize(value)
    {
        return Ok(parsed);
    }
    let message = strip_position(&inner);
    Err(ApiError::Validation(vec![FieldError::new(field_of(&path, &message), message)]))
}

/// True when the JSON text escapes U+0000 (`\\u0000`; a raw NUL byte is not
/// JSON at all): an escape is a backslash preceded by an even number of them.
fn holds_nul_escape(body: &[u8]) -> bool {
    body.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000" && body[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

/// The largest magnitude below which every whole f64 is exactly an i64.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Rewrites whole floats as integers; true when it changed any.
fn integral_floats_as_integers(value: &mut Value) -> bool {
    match value {
        Value::Number(number) if number.is_f64() => {
            let Some(float) = number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT_INTEGER_LIMIT) else {
                return false;
            };
            // Exact by the bound above.
            #[allow(clippy::cast_possible_truncation)]
            let whole = float as i64;
            *value = Value::from(whole);
            true
        }
        Value::Array(items) => {
            items.iter_mut().fold(false, |changed, item| integral_floats_as_integers(item) | changed)
        }
        Value::Object(members) => {
            members.values_mut().fold(false, |changed, member| integral_floats_as_integers(member) | changed)
        }
        _ => false,
    }
}

/// serde reports a missing member at its parent's path; name the member
/// itself. (An unknown member's path already ends with its name.)
fn field_of(path: &str, message: &str) -> String {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

/// Flattens validator's nested errors into `{field, message}` pairs, sorted.
pub fn flatten(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e.message.as_ref().map_or_else(|| e.code.to_string(), ToString::to_string);
                FieldError::new(path.clone(), message)
            })),
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// Query parameters, parsed with the name of any parameter at fault (400).
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ValidQuery))
    }
}

pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        ApiError::bad_request("invalid_query", field_of(&path, &message), message)
    })?;
    value.validate().map_err(|errors| ApiError::BadRequest {
        code: "invalid_query",
        detail: "a query parameter is not valid".to_owned(),
        errors: flatten(&errors),
    })?;
    Ok(value)
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// Deserializes a member that distinguishes "absent" (outer `None`) from
/// "null" (`Some(None)`), for JSON merge-patch bodies.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[validate(length(min = 1, message = "must not be empty"))]
        name: String,
        #[allow(dead_code)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Inner {
        #[allow(dead_code)]
        count: u32,
    }

    fn fields(err: ApiError) -> (u16, Vec<String>) {
        use actix_web::ResponseError;
        let status = err.status_code().as_u16();
        (status, err.problem().errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn an_escaped_nul_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(holds_nul_escape(br#"{"a\u0000": 1}"#));
        assert!(holds_nul_escape(br#"["x", "\\\u0000"]"#));
        assert!(!holds_nul_escape(br#"["\\u0000"]"#));
        assert!(!holds_nul_escape(br#"{"a": "u0000"}"#));
        let err = parse_json::<Sample>(br#"{"name": "a\u0000"}"#).err().unwrap();
        assert_eq!(fields(err).0, 400);
    }

    #[test]
    fn a_float_keeps_its_precision() {
        let value: serde_json::Value = parse_json(b"0.9999999999999999").unwrap();
        assert!(value.as_f64().unwrap() < 1.0);
    }

    #[test]
    fn a_whole_float_is_an_integer_and_a_fraction_is_not() {
        let parsed = parse_json::<Sample>(br#"{"name": "a", "inner": {"count": 8.0}}"#).unwrap();
        assert_eq!(parsed.inner.unwrap().count, 8);
        let err = parse_json::<Sample>(br#"{"name": "a", "inner": {"count": 8.5}}"#).err().unwrap();
        assert_eq!(fields(err), (422, vec!["inner.count".to_owned()]));
    }

    #[test]
    fn names_the_member_at_fault() {
        let err = parse_json::<Sample>(br#"{"name": "a", "inner": {"count": "x"}}"#).err().unwrap();
        assert_eq!(fields(err), (422, vec!["inner.count".to_owned()]));
        let err = parse_json::<Sample>(br#"{"inner": null}"#).err().unwrap();
        assert_eq!(fields(err), (422, vec!["name".to_owned()]));
        let err = parse_json::<Sample>(br#"{"name": "a", "nmae": 1}"#).err().unwrap();
        assert_eq!(fields(err), (422, vec!["nmae".to_owned()]));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Sample>(br#"{"name": "#).err().unwrap();
        assert_eq!(fields(err), (400, vec!["body".to_owned()]));
        let err = parse_json::<Sample>(b"").err().unwrap();
        assert_eq!(fields(err).0, 400);
        let err = parse_json::<Sample>(br#"{"name": "a"} x"#).err().unwrap();
        assert_eq!(fields(err).0, 400);
    }

    #[test]
    fn rule_failures_are_flattened() {
        let value = parse_json::<Sample>(br#"{"name": ""}"#).unwrap();
        let errors = flatten(&value.validate().unwrap_err());
        assert_eq!(errors, vec![FieldError::new("name", "must not be empty")]);
    }
}
