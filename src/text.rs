//! Rules for the free text of definitions, shared so that every definition
//! counts alike: characters (not bytes), as JSON Schema's `maxLength` does.

/// True when `value` is empty, only whitespace, or over `max` characters.
pub fn blank_or_longer(value: &str, max: usize) -> bool {
    is_blank(value) || value.chars().count() > max
}

/// True when `value` holds nothing but whitespace as the document's `\S`
/// pattern counts it (ECMAScript's `\s`), so that the service and the
/// schema agree on every string. Rust's own notion differs at two points:
/// it counts U+0085 as whitespace and U+FEFF not.
pub fn is_blank(value: &str) -> bool {
    value.chars().all(|c| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
        )
    })
}

/// True when `value` is over `max` characters.
pub fn longer_than(value: &str, max: usize) -> bool {
    value.chars().count() > max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_count_not_bytes() {
        assert!(!blank_or_longer(&"é".repeat(200), 200));
        assert!(blank_or_longer(&"é".repeat(201), 200));
        assert!(blank_or_longer(" \t\n", 200));
        assert!(!longer_than(&"ü".repeat(5), 5));
        assert!(longer_than(&"ü".repeat(6), 5));
    }

    #[test]
    fn blank_means_what_the_schemas_pattern_means() {
        assert!(is_blank(""));
        assert!(is_blank(" \u{a0}\u{3000}\u{feff}\u{2028}"));
        // U+0085 is no whitespace to ECMAScript's `\s`, so `\S` accepts it.
        assert!(!is_blank("\u{85}"));
        assert!(!is_blank(" x "));
    }
}
