//! Link tokens. A token is `atl_` and the base64url of the practice id, the
//! link id and 32 bytes from the OS's random source. The ids let a visit read
//! one row by its key (on one shard, under Citus); the 256 random bits are the
//! secret. Only the token's SHA-256 digest is stored, and it is compared in
//! constant time (OWASP ASVS 5.0, 6.5.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

const PREFIX: &str = "atl_";
const RAW_LEN: usize = 16 + 16 + 32;

/// A new token for a link, and the digest to store.
pub fn issue(practice_id: Uuid, link_id: Uuid) -> anyhow::Result<(String, Vec<u8>)> {
    let mut raw = [0u8; RAW_LEN];
    raw[..16].copy_from_slice(practice_id.as_bytes());
    raw[16..32].copy_from_slice(link_id.as_bytes());
    OsRng.try_fill_bytes(&mut raw[32..]).map_err(|e| anyhow::anyhow!("the OS random source failed: {e}"))?;
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let digest = digest(&token);
    Ok((token, digest))
}

/// The practice and link a well-formed token names; `None` for anything else.
/// Naming them proves nothing: the caller must still check the digest.
pub fn names(token: &str) -> Option<(Uuid, Uuid)> {
    let encoded = token.strip_prefix(PREFIX)?;
    // Bound the work an arbitrary path segment can cause before decoding.
    if encoded.len() != (RAW_LEN * 4).div_ceil(3) {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let practice = Uuid::from_slice(raw.get(..16)?).ok()?;
    let link = Uuid::from_slice(raw.get(16..32)?).ok()?;
    Some((practice, link))
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` is the one whose digest is `stored`, in constant time.
pub fn matches(token: &str, stored: &[u8]) -> bool {
    bool::from(digest(token).as_slice().ct_eq(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_names_its_practice_and_link_and_matches_its_digest() {
        let (practice, link) = (Uuid::now_v7(), Uuid::now_v7());
        let (token, stored) = issue(practice, link).unwrap();
        assert!(token.starts_with("atl_"));
        // 64 raw bytes are 86 base64url characters.
        assert_eq!(token.len(), 4 + 86);
        assert_eq!(names(&token), Some((practice, link)));
        assert!(matches(&token, &stored));
    }

    #[test]
    fn two_tokens_for_one_link_differ_and_do_not_match_each_other() {
        let (practice, link) = (Uuid::now_v7(), Uuid::now_v7());
        let (first, first_digest) = issue(practice, link).unwrap();
        let (second, _) = issue(practice, link).unwrap();
        assert_ne!(first, second);
        assert!(!matches(&second, &first_digest));
    }

    #[test]
    fn a_changed_secret_keeps_the_names_but_fails_the_digest() {
        let (token, stored) = issue(Uuid::now_v7(), Uuid::now_v7()).unwrap();
        let mut altered = token.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(names(&altered), names(&token));
        assert!(!matches(&altered, &stored));
    }

    #[test]
    fn malformed_tokens_name_nothing() {
        assert_eq!(names(""), None);
        assert_eq!(names("atl_"), None);
        assert_eq!(names("atn_AAAA"), None);
        assert_eq!(names(&format!("atl_{}", "A".repeat(85))), None);
        assert_eq!(names(&format!("atl_{}", "*".repeat(86))), None);
        assert_eq!(names(&format!("atl_{}", "A".repeat(10_000))), None);
    }
}
