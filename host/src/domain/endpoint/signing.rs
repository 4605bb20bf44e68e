//! Endpoint signing secrets in the Standard Webhooks form (`whsec_` + base64
//! of the key): generating and parsing them, and rotation — a new secret
//! becomes current while the old one stays valid for a grace period, so
//! receivers can switch over without rejecting a delivery.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Endpoint;
use crate::domain::Secret;

/// What every signing secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Key bytes of a generated secret.
pub const GENERATED_KEY_BYTES: usize = 32;
/// The fewest key bytes an operator-given secret may have.
pub const MIN_KEY_BYTES: usize = 24;
/// The most key bytes an operator-given secret may have.
pub const MAX_KEY_BYTES: usize = 64;
/// How long the old secret stays valid after a rotation unless told.
pub const DEFAULT_GRACE_SECS: u64 = 86_400;
/// The longest grace period a rotation accepts (7 days).
pub const MAX_GRACE_SECS: u64 = 7 * 86_400;
/// At most this many earlier secrets stay valid; rotating more often than
/// the grace period drops the oldest.
pub const MAX_PREVIOUS_SECRETS: usize = 8;

/// Standard base64, padded or not: receivers' libraries and operators
/// write both.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why text is not a signing secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be `whsec_` followed by the standard base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes"
)]
pub struct SigningSecretError;

/// An endpoint's signing secret: the `whsec_…` text receivers configure and
/// the key bytes the delivery engine signs with. Built only by generating
/// or parsing; never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    text: Secret,
    key: Vec<u8>,
}

impl SigningSecret {
    /// A new random secret of [`GENERATED_KEY_BYTES`] bytes.
    pub fn generate() -> Self {
        let key: [u8; GENERATED_KEY_BYTES] = rand::random();
        SigningSecret {
            text: Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(key))),
            key: key.to_vec(),
        }
    }

    /// The `whsec_…` text, for the create response and `GET …/secret`.
    pub fn expose(&self) -> &str {
        self.text.expose()
    }

    /// The key bytes to sign with (HMAC-SHA256 per Standard Webhooks).
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl FromStr for SigningSecret {
    type Err = SigningSecretError;

    fn from_str(text: &str) -> Result<Self, SigningSecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SigningSecretError)?;
        let key = LENIENT_BASE64
            .decode(encoded)
            .map_err(|_| SigningSecretError)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SigningSecretError);
        }
        Ok(SigningSecret {
            text: Secret::new(text),
            key,
        })
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl Serialize for SigningSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SigningSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for SigningSecret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^whsec_[A-Za-z0-9+/]+={0,2}$"))
            .examples([serde_json::json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")])
            .into()
    }
}

impl utoipa::ToSchema for SigningSecret {}

/// A secret replaced by a rotation, still valid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The secret.
    pub secret: SigningSecret,
    /// Epoch ms after which it no longer signs.
    pub expires_at: u64,
}

impl Endpoint {
    /// Every secret a delivery made at `now_ms` is signed with: the current
    /// one first, then earlier ones whose grace period has not ended.
    pub fn valid_secrets(&self, now_ms: u64) -> Vec<&SigningSecret> {
        std::iter::once(&self.signing_secret)
            .chain(
                self.previous_secrets
                    .iter()
                    .filter(|previous| previous.expires_at > now_ms)
                    .map(|previous| &previous.secret),
            )
            .collect()
    }

    /// Makes `next` the current secret; the current one stays valid for
    /// `grace_secs` (none when 0). Secrets already expired are dropped.
    pub fn rotate_secret(&mut self, next: SigningSecret, grace_secs: u64, now_ms: u64) {
        self.previous_secrets
            .retain(|previous| previous.expires_at > now_ms);
        let replaced = std::mem::replace(&mut self.signing_secret, next);
        if grace_secs > 0 {
            self.previous_secrets.push(PreviousSecret {
                secret: replaced,
                expires_at: now_ms.saturating_add(grace_secs.saturating_mul(1000)),
            });
        }
        let excess = self
            .previous_secrets
            .len()
            .saturating_sub(MAX_PREVIOUS_SECRETS);
        self.previous_secrets.drain(..excess);
        self.updated_at = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::endpoint::tests::endpoint;

    #[test]
    fn generated_secrets_are_whsec_base64_of_32_bytes_and_parse_back() {
        let secret = SigningSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().len(), 32);
        let parsed: SigningSecret = secret.expose().parse().unwrap();
        assert_eq!(parsed, secret);
        assert_eq!(format!("{secret:?}"), "SigningSecret(***)");
    }

    #[test]
    fn given_secrets_must_decode_to_24_to_64_bytes() {
        let of = |n: usize| format!("whsec_{}", STANDARD.encode(vec![7u8; n]));
        assert!(of(24).parse::<SigningSecret>().is_ok());
        assert!(of(64).parse::<SigningSecret>().is_ok());
        // Unpadded base64 is accepted too.
        assert!(
            of(25)
                .trim_end_matches('=')
                .parse::<SigningSecret>()
                .is_ok()
        );
        for bad in [
            of(23),
            of(65),
            STANDARD.encode([1u8; 32]),
            "whsec_not base64!".into(),
            "whsec_".into(),
        ] {
            assert!(bad.parse::<SigningSecret>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rotation_keeps_the_old_secret_valid_for_the_grace_period() {
        let mut endpoint = endpoint();
        let old = endpoint.signing_secret.clone();
        let next = SigningSecret::generate();
        endpoint.rotate_secret(next.clone(), 60, 1_000_000);
        assert_eq!(endpoint.signing_secret, next);
        assert_eq!(endpoint.valid_secrets(1_000_000), vec![&next, &old]);
        assert_eq!(endpoint.valid_secrets(1_059_999), vec![&next, &old]);
        assert_eq!(endpoint.valid_secrets(1_060_000), vec![&next]);
    }

    #[test]
    fn rotation_drops_expired_secrets_and_keeps_a_bounded_list() {
        let mut endpoint = endpoint();
        endpoint.rotate_secret(SigningSecret::generate(), 10, 0);
        endpoint.rotate_secret(SigningSecret::generate(), 10, 20_000);
        assert_eq!(endpoint.previous_secrets.len(), 1, "expired one dropped");
        for step in 0..20 {
            endpoint.rotate_secret(SigningSecret::generate(), 3_600, 30_000 + step);
        }
        assert_eq!(endpoint.previous_secrets.len(), MAX_PREVIOUS_SECRETS);
        assert_eq!(
            endpoint.valid_secrets(40_000).len(),
            MAX_PREVIOUS_SECRETS + 1
        );
    }

    #[test]
    fn rotation_without_grace_invalidates_the_old_secret_at_once() {
        let mut endpoint = endpoint();
        let next = SigningSecret::generate();
        endpoint.rotate_secret(next.clone(), 0, 5);
        assert_eq!(endpoint.valid_secrets(5), vec![&next]);
    }
}
