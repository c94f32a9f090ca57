//! The bytes a chain link hashes for an entry, built here for the sealer.
//!
//! The definition is the migration's SQL function `audit_content`: jsonb's
//! text form of an array of the entry's number and columns, which the
//! verifier's `audit_link` hashes. The sealer used to call it for every
//! entry, and that serialisation (jsonb built argument by argument, then
//! printed) was the largest part of the database's work for a read's
//! entry. This module prints the same text from the plain columns; only the
//! entry's `query`, already jsonb, is taken as PostgreSQL prints it. A test
//! against the database (`tests/api/audit.rs`) holds the two to one text.

use std::fmt::Write;

use uuid::Uuid;

/// An entry's columns as the sealer reads them.
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    pub seq: i64,
    pub practice_id: Uuid,
    pub id: Uuid,
    /// Microseconds since the Unix epoch.
    pub occurred_at_micros: i64,
    pub api_client: &'a str,
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub operation: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub outcome: i32,
    pub request_id: Option<&'a str>,
    pub source: Option<&'a str>,
    /// jsonb's own text of the entry's `query`.
    pub query_text: Option<&'a str>,
    pub result_count: Option<i32>,
}

/// What `audit_content` returns for the entry.
pub fn content(entry: &Columns<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(384);
    out.push('[');
    let mut items = Items(&mut out, false);
    items.number(entry.seq);
    items.uuid(Some(entry.practice_id));
    items.uuid(Some(entry.id));
    items.number(entry.occurred_at_micros);
    items.text(Some(entry.api_client));
    items.text(entry.actor);
    items.text(Some(entry.action));
    items.text(Some(entry.operation));
    items.text(Some(entry.resource_type));
    items.uuid(entry.resource_id);
    items.uuid(entry.client_id);
    items.number(entry.outcome);
    items.text(entry.request_id);
    items.text(entry.source);
    items.raw(entry.query_text);
    items.number_or_null(entry.result_count);
    out.push(']');
    out.into_bytes()
}

/// The elements of a jsonb array as PostgreSQL prints them: ", " between.
struct Items<'a>(&'a mut String, bool);

impl Items<'_> {
    fn next(&mut self) -> &mut String {
        if self.1 {
            self.0.push_str(", ");
        }
        self.1 = true;
        self.0
    }

    fn number(&mut self, value: impl std::fmt::Display) {
        let out = self.next();
        let _ = write!(out, "{value}");
    }

    fn number_or_null(&mut self, value: Option<i32>) {
        match value {
            Some(value) => self.number(value),
            None => self.next().push_str("null"),
        }
    }

    fn uuid(&mut self, value: Option<Uuid>) {
        let out = self.next();
        match value {
            // PostgreSQL prints a uuid lowercase and hyphenated, as `Uuid` does.
            Some(value) => {
                let _ = write!(out, "\"{}\"", value.hyphenated());
            }
            None => out.push_str("null"),
        }
    }

    fn text(&mut self, value: Option<&str>) {
        let out = self.next();
        match value {
            Some(value) => escape_json(out, value),
            None => out.push_str("null"),
        }
    }

    fn raw(&mut self, value: Option<&str>) {
        self.next().push_str(value.unwrap_or("null"));
    }
}

/// A JSON string as PostgreSQL's `escape_json` writes it: the two-character
/// escapes for `"`, `\` and five controls, `\u00xx` (lowercase) for the
/// other controls, and everything else, non-ASCII included, as it is.
fn escape_json(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Columns<'static> {
        Columns {
            seq: 7,
            practice_id: Uuid::parse_str("01a24527-a67c-76fb-9fe4-418433e3bd66").unwrap(),
            id: Uuid::parse_str("01A24527-A9C3-767A-80AB-9C3C62E2E96F").unwrap(),
            occurred_at_micros: 1_796_456_556_123_456,
            api_client: "01a24527-a67d-7588-87fc-506286e83823",
            actor: None,
            action: "read",
            operation: "get_client",
            resource_type: "client",
            resource_id: None,
            client_id: None,
            outcome: 200,
            request_id: Some("r-1"),
            source: Some("127.0.0.1"),
            query_text: Some(r#"{"status": "active"}"#),
            result_count: None,
        }
    }

    #[test]
    fn prints_the_array_as_jsonb_does() {
        let text = String::from_utf8(content(&entry())).unwrap();
        assert_eq!(
            text,
            r#"[7, "01a24527-a67c-76fb-9fe4-418433e3bd66", "01a24527-a9c3-767a-80ab-9c3c62e2e96f", 1796456556123456, "01a24527-a67d-7588-87fc-506286e83823", null, "read", "get_client", "client", null, null, 200, "r-1", "127.0.0.1", {"status": "active"}, null]"#
        );
    }

    #[test]
    fn escapes_strings_as_postgresql_does() {
        let mut out = String::new();
        escape_json(&mut out, "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}é😀/");
        assert_eq!(out, r#""a\"b\\c\b\f\n\r\t\u0001\u001fé😀/""#);
    }
}
