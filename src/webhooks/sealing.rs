//! Signing secrets at rest. The service must sign with them, so they cannot
//! be stored as digests; they are sealed with AES-256-GCM under the key from
//! `ATTUNE_WEBHOOK_KEY`, bound to the endpoint they belong to (a sealed
//! secret copied onto another endpoint's row does not open).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::signing::SigningSecret;

/// The configured key, ready to seal and open.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// From the setting: 64 hex digits (32 bytes, e.g. `openssl rand -hex 32`).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| anyhow::anyhow!("ATTUNE_WEBHOOK_KEY must be 64 hex digits (`openssl rand -hex 32`)"))?;
        if bytes.len() != 32 {
            anyhow::bail!("ATTUNE_WEBHOOK_KEY must be 64 hex digits (32 bytes); it has {} bytes", bytes.len());
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| anyhow::anyhow!("unusable webhook key"))?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// `nonce || ciphertext || tag`, with a fresh random nonce.
    pub fn seal(&self, endpoint_id: Uuid, secret: &SigningSecret) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(endpoint_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| anyhow::anyhow!("sealing a signing secret failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The secret sealed for `endpoint_id`; an error when the bytes were not
    /// sealed for it under this key.
    pub fn open(&self, endpoint_id: Uuid, sealed: &[u8]) -> anyhow::Result<SigningSecret> {
        let refused = || anyhow::anyhow!("a signing secret does not open under the configured ATTUNE_WEBHOOK_KEY");
        if sealed.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = ciphertext.to_vec();
        let plain =
            self.0.open_in_place(nonce, Aad::from(endpoint_id.as_bytes()), &mut buffer).map_err(|_| refused())?;
        Ok(SigningSecret::from_bytes(plain.to_vec()))
    }

    /// The secrets that sign an endpoint's deliveries: the current one, and
    /// the one a rotation replaced while its overlap lasts.
    pub fn signing_secrets(
        &self,
        endpoint_id: Uuid,
        current: &[u8],
        previous: Option<&[u8]>,
        previous_until: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Vec<SigningSecret>> {
        let mut secrets = vec![self.open(endpoint_id, current)?];
        if let (Some(previous), Some(until)) = (previous, previous_until)
            && until > Utc::now()
        {
            secrets.push(self.open(endpoint_id, previous)?);
        }
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealingKey {
        SealingKey::from_hex(&hex::encode([byte; 32])).unwrap()
    }

    #[test]
    fn opens_what_it_sealed_for_the_same_endpoint_only() {
        let (key, endpoint) = (key(7), Uuid::now_v7());
        let secret = SigningSecret::generate();
        let sealed = key.seal(endpoint, &secret).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 32 + 16);
        assert!(!sealed.windows(32).any(|w| w == secret.as_bytes()), "the secret must not be stored in the clear");
        assert_eq!(key.open(endpoint, &sealed).unwrap(), secret);
        assert!(key.open(Uuid::now_v7(), &sealed).is_err());
        assert!(self::key(8).open(endpoint, &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open(endpoint, &tampered).is_err());
        assert!(key.open(endpoint, &sealed[..5]).is_err());
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let (key, endpoint, secret) = (key(1), Uuid::now_v7(), SigningSecret::generate());
        assert_ne!(key.seal(endpoint, &secret).unwrap(), key.seal(endpoint, &secret).unwrap());
    }

    #[test]
    fn the_key_setting_must_be_32_bytes_of_hex() {
        assert!(SealingKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(SealingKey::from_hex(&"ab".repeat(16)).is_err());
        assert!(SealingKey::from_hex("not hex").is_err());
    }
}
