//! Keyset pagination shared by every list: rows are ordered by their UUID v7
//! id (creation order), and the opaque cursor carries the last id seen, so
//! page 1000 costs what page 1 costs. The cursor is the id's 16 bytes in
//! unpadded base64url: every string of that form names a position, so the
//! document's pattern states the whole rule.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::problem::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A page cursor, as documented: 22 base64url characters (or empty, for the first page).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = "^([A-Za-z0-9_-]{21}[AQgw])?$", example = "AZrdT2x3cYyzV2RPm2cW3A")]
#[allow(dead_code)]
pub struct Cursor(String);

/// A validated page request: how many rows, and after which id.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request("invalid_query", "limit", format!("must be 1 to {MAX_LIMIT}")));
        }
        // An empty `cursor=` is what some HTTP clients send for "none": the first page.
        let after = cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the over-fetched rows to a page and the cursor of the next one.
    pub fn finish<T>(&self, mut rows: Vec<T>, id_of: impl Fn(&T) -> Uuid) -> (Vec<T>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return (rows, None);
        }
        rows.truncate(limit);
        let next = rows.last().map(|row| encode_cursor(id_of(row)));
        (rows, next)
    }
}

fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    let invalid = || ApiError::bad_request("invalid_query", "cursor", "not a cursor this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    Uuid::from_slice(&bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let id = Uuid::now_v7();
        let cursor = encode_cursor(id);
        assert_eq!(PageRequest::new(None, Some(&cursor)).unwrap().after, Some(id));
        assert!(PageRequest::new(None, Some("bm9wZQ")).is_err());
        assert!(PageRequest::new(None, Some("%%%")).is_err());
    }

    /// What the documented pattern admits is exactly what decodes.
    #[test]
    fn every_cursor_of_the_documented_form_names_a_position() {
        for _ in 0..64 {
            let cursor = encode_cursor(Uuid::from_bytes(rand::random()));
            assert_eq!(cursor.len(), 22);
            assert!("AQgw".contains(cursor.chars().last().unwrap()));
        }
        for last in ['A', 'Q', 'g', 'w'] {
            assert!(PageRequest::new(None, Some(&format!("{}{last}", "_-9z".repeat(5) + "a"))).is_ok());
        }
        assert!(PageRequest::new(None, Some(&format!("{}B", "A".repeat(21)))).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(MAX_LIMIT + 1), None).is_err());
        assert_eq!(PageRequest::new(Some(MAX_LIMIT), None).unwrap().limit, MAX_LIMIT);
    }

    #[test]
    fn finish_cuts_the_extra_row_into_a_cursor() {
        let page = PageRequest::new(Some(2), None).unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let (rows, next) = page.finish(ids.clone(), |id| *id);
        assert_eq!(rows, ids[..2]);
        assert_eq!(next.map(|c| decode_cursor(&c).unwrap()), Some(ids[1]));
        let (rows, next) = page.finish(ids[..2].to_vec(), |id| *id);
        assert_eq!((rows.len(), next), (2, None));
    }
}
