//! API client secrets: generated from the OS RNG, shown once, stored as
//! argon2id PHC strings.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A new secret: 256 random bits, URL-safe, with a prefix that secret
/// scanners can recognise.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("atn_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash(secret: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a secret: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `secret` matches the stored hash. With no stored hash (unknown
/// client) a dummy hash is checked so both paths cost the same.
pub fn verify(secret: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("attune-dummy-secret").unwrap_or_default());
    let Ok(parsed) = PasswordHash::new(stored.unwrap_or(dummy)) else {
        return false;
    };
    let matches = Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok();
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_verifies_against_its_own_hash_only() {
        let secret = generate();
        assert!(secret.starts_with("atn_") && secret.len() == 47);
        let stored = hash(&secret).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(&secret, Some(&stored)));
        assert!(!verify(&generate(), Some(&stored)));
        assert!(!verify(&secret, None));
        assert!(!verify(&secret, Some("not a phc string")));
    }
}
