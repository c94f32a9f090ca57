//! Signing and checking access tokens (RFC 7519 with RFC 8725's advice): the
//! algorithm is pinned per key and never read from the token.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::scopes::Scope;

/// Clock leeway for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// The clinician an integration acts for (RFC 8693 `act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorClaim {
    pub sub: String,
}

/// The claims of an access token this service issues, and the ones it reads
/// from an external issuer's token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The tenant. Tokens without it are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_id: Option<String>,
    /// Space-separated scopes (RFC 8693 / RFC 9068).
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActorClaim>,
}

/// Which key checked a token: tokens of our own issuer name an API client
/// whose revocation is checked; an external issuer's do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    Local,
    External,
}

/// A verification key, its pinned algorithm and the issuer/audience it accepts.
struct TrustedKey {
    origin: TokenOrigin,
    issuer: String,
    key: DecodingKey,
    validation: Validation,
}

impl TrustedKey {
    fn new(origin: TokenOrigin, algorithm: Algorithm, key: DecodingKey, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Self { origin, issuer: issuer.to_owned(), key, validation }
    }
}

/// An external identity provider whose tokens are accepted.
pub struct ExternalIssuer {
    pub algorithm: Algorithm,
    pub public_key_pem: Vec<u8>,
    pub issuer: String,
    pub audience: String,
}

/// Issues tokens (when a local secret is configured) and checks them.
pub struct TokenKeys {
    signer: Option<(EncodingKey, String, String)>,
    trusted: Vec<TrustedKey>,
}

/// A checked token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Claims,
    pub origin: TokenOrigin,
}

impl TokenKeys {
    /// `local_secret` signs and checks HS256 tokens for `issuer`/`audience`;
    /// `external` adds an asymmetric key of another issuer.
    pub fn new(
        local_secret: Option<&[u8]>,
        issuer: &str,
        audience: &str,
        external: Option<ExternalIssuer>,
    ) -> anyhow::Result<Self> {
        let mut trusted = Vec::new();
        let signer = local_secret.map(|secret| {
            trusted.push(TrustedKey::new(
                TokenOrigin::Local,
                Algorithm::HS256,
                DecodingKey::from_secret(secret),
                issuer,
                audience,
            ));
            (EncodingKey::from_secret(secret), issuer.to_owned(), audience.to_owned())
        });
        if let Some(ext) = external {
            let key = match ext.algorithm {
                Algorithm::EdDSA => DecodingKey::from_ed_pem(&ext.public_key_pem)?,
                Algorithm::RS256 => DecodingKey::from_rsa_pem(&ext.public_key_pem)?,
                Algorithm::ES256 => DecodingKey::from_ec_pem(&ext.public_key_pem)?,
                other => anyhow::bail!("unsupported external token algorithm {other:?}: use EdDSA, RS256 or ES256"),
            };
            if trusted.iter().any(|k| k.issuer == ext.issuer) {
                anyhow::bail!("the external issuer must differ from this service's own issuer");
            }
            trusted.push(TrustedKey::new(TokenOrigin::External, ext.algorithm, key, &ext.issuer, &ext.audience));
        }
        if trusted.is_empty() {
            anyhow::bail!("no token key configured");
        }
        Ok(Self { signer, trusted })
    }

    pub fn can_issue(&self) -> bool {
        self.signer.is_some()
    }

    /// Signs a token for an API client; returns the token and its lifetime.
    pub fn issue(
        &self,
        client_id: Uuid,
        practice_id: Uuid,
        scopes: &[Scope],
        actor: Option<String>,
        lifetime_seconds: i64,
    ) -> anyhow::Result<String> {
        let (key, issuer, audience) =
            self.signer.as_ref().ok_or_else(|| anyhow::anyhow!("no signing secret configured"))?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: issuer.clone(),
            sub: client_id.to_string(),
            aud: audience.clone(),
            exp: now + lifetime_seconds,
            nbf: now,
            iat: now,
            jti: Uuid::now_v7().to_string(),
            practice_id: Some(practice_id.to_string()),
            scope: Scope::join(scopes),
            act: actor.map(|sub| ActorClaim { sub }),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)?)
    }

    /// Checks a token: the key is chosen by the (unverified) issuer, then the
    /// signature is checked with that key's pinned algorithm, and the time,
    /// issuer and audience claims are validated.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, &'static str> {
        let unverified: UnverifiedIssuer =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| "the token is malformed")?;
        let trusted = self
            .trusted
            .iter()
            .find(|k| Some(k.issuer.as_str()) == unverified.iss.as_deref())
            .ok_or("the token's issuer is not trusted")?;
        let data = jsonwebtoken::decode::<Claims>(token, &trusted.key, &trusted.validation).map_err(|err| match err
            .kind()
        {
            ErrorKind::ExpiredSignature => "the token has expired",
            ErrorKind::ImmatureSignature => "the token is not valid yet",
            ErrorKind::InvalidAudience => "the token is for another audience",
            ErrorKind::InvalidIssuer => "the token's issuer is not trusted",
            ErrorKind::InvalidAlgorithm => "the token's algorithm is not accepted for its issuer",
            ErrorKind::InvalidSignature => "the token's signature does not verify",
            ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim",
            _ => "the token is malformed",
        })?;
        Ok(VerifiedToken { claims: data.claims, origin: trusted.origin })
    }
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}
