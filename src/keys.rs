//! Stable keys of definitions (instruments, subscales, exercises, fields).

/// 1 to 64 lowercase ASCII letters, digits or underscores.
pub fn is_key(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `is_key` as a `validator` rule, for request bodies.
pub fn validate_key(value: &str) -> Result<(), validator::ValidationError> {
    if is_key(value) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("key")
            .with_message("must be 1 to 64 lowercase letters, digits or underscores".into()))
    }
}
