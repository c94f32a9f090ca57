//! Rules for the free text of definitions, shared so that every definition
//! counts alike: characters (not bytes), as JSON Schema's `maxLength` does.

/// True when `value` is empty, only whitespace, or over `max` characters.
pub fn blank_or_longer(value: &str, max: usize) -> bool {
    value.trim().is_empty() || value.chars().count() > max
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
}
