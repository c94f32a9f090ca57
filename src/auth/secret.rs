//! API client secrets: generated from the OS RNG, shown once, stored as a
//! SHA-256 digest and compared in constant time.
//!
//! A slow password hash (argon2) exists to slow the guessing of secrets that
//! people choose. These are 256 random bits nobody can guess, so a plain
//! digest is enough (OWASP ASVS 5.0, 6.5.2: secrets of 112 bits or more), and
//! a slow one only hands anyone who knows a client id a lever on the CPU.
//! Secrets stored by earlier versions as argon2id still verify, and are
//! replaced by their digest on their next successful use.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const DIGEST_PREFIX: &str = "sha256:";

/// A new secret: 256 random bits, URL-safe, with a prefix that secret
/// scanners can recognise.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("atn_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How a secret is stored: `sha256:` and the hex digest.
pub fn hash(secret: &str) -> String {
    format!("{DIGEST_PREFIX}{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

/// What checking a secret against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// It matched a hash of an earlier kind: store this one in its place.
    YesRehash(String),
}

/// Whether the stored hash is an argon2 one, whose check is slow enough to
/// belong off the async workers.
pub fn is_legacy(stored: &str) -> bool {
    stored.starts_with("$argon2")
}

/// Checks `secret` against the stored hash, in constant time for digests.
pub fn verify(secret: &str, stored: &str) -> Verified {
    if let Some(hex_digest) = stored.strip_prefix(DIGEST_PREFIX) {
        let Ok(expected) = hex::decode(hex_digest) else { return Verified::No };
        let actual = Sha256::digest(secret.as_bytes());
        return if bool::from(actual.as_slice().ct_eq(&expected)) { Verified::Yes } else { Verified::No };
    }
    let Ok(parsed) = PasswordHash::new(stored) else { return Verified::No };
    if Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok() {
        Verified::YesRehash(hash(secret))
    } else {
        Verified::No
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    use super::*;

    #[test]
    fn a_secret_verifies_against_its_own_digest_only() {
        let secret = generate();
        assert!(secret.starts_with("atn_") && secret.len() == 47);
        let stored = hash(&secret);
        assert_eq!(stored.len(), DIGEST_PREFIX.len() + 64);
        assert_eq!(verify(&secret, &stored), Verified::Yes);
        assert_eq!(verify(&generate(), &stored), Verified::No);
        assert_eq!(verify(&secret, "sha256:zz"), Verified::No);
        assert_eq!(verify(&secret, "not a hash"), Verified::No);
        assert!(!is_legacy(&stored));
    }

    /// The digest is SHA-256 of the secret's UTF-8 bytes (worked with
    /// `printf %s atn_x | sha256sum`).
    #[test]
    fn the_digest_is_plain_sha256() {
        assert_eq!(hash("atn_x"), "sha256:f920296c3eefabbc39aeed2343f0f629ea6dde76098dabf7aeba44055a1c9d99".to_owned());
    }

    #[test]
    fn an_argon2_hash_still_verifies_and_asks_to_be_replaced() {
        let secret = generate();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let legacy = Argon2::default().hash_password(secret.as_bytes(), &salt).unwrap().to_string();
        assert!(is_legacy(&legacy));
        assert_eq!(verify(&secret, &legacy), Verified::YesRehash(hash(&secret)));
        assert_eq!(verify(&generate(), &legacy), Verified::No);
    }
}
