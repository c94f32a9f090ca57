//! Signing secrets and signatures, as the Standard Webhooks specification
//! has them: a secret is `whsec_` and the base64 of its key bytes; a
//! signature is `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
//! Receivers check them with any Standard Webhooks library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A signing secret's key bytes. Never logged: `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// 32 bytes from the OS RNG.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.to_vec())
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form shown to the integrator once: `whsec_` + base64.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// Reads a secret in the form [`reveal`](Self::reveal) writes.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(PREFIX)?).ok()?;
        (!key.is_empty()).then_some(Self(key))
    }
}

/// The `webhook-signature` header: one `v1,` signature per secret, separated
/// by spaces (two while a rotation is under way).
pub fn signature_header(secrets: &[&SigningSecret], webhook_id: &str, timestamp: i64, body: &str) -> String {
    secrets.iter().map(|secret| sign(secret, webhook_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

fn sign(secret: &SigningSecret, webhook_id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would
    // only make the receiver refuse the delivery.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks specification and its libraries' tests.
    #[test]
    fn signs_the_specifications_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header =
            signature_header(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (old, new) = (SigningSecret::generate(), SigningSecret::generate());
        let header = signature_header(&[&new, &old], "evt_1", 1, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, "evt_1", 1, "{}"));
        assert_eq!(parts[1], sign(&old, "evt_1", 1, "{}"));
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn secrets_round_trip_and_junk_is_refused() {
        let secret = SigningSecret::generate();
        let shown = secret.reveal();
        assert!(shown.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&shown[6..]).unwrap().len(), 32);
        assert_eq!(SigningSecret::parse(&shown), Some(secret.clone()));
        assert_eq!(SigningSecret::parse("whsec_"), None);
        assert_eq!(SigningSecret::parse("whsec_!!"), None);
        assert_eq!(SigningSecret::parse(&shown[6..]), None);
        assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
    }
}
