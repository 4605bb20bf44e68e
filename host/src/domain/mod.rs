//! The server's domain types: what the API accepts and returns and what the
//! store keeps. Parsed once at the edge (names, ids, URLs), so the layers
//! below never see unchecked text.

pub mod block;
pub mod connector;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod plugin;
pub mod rejected;
pub mod source;
pub mod tenant;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why text is not a valid resource name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a valid name: use 1 to 64 characters of a-z, 0-9, `-` and `_`, starting with a letter or digit"
)]
pub struct NameError {
    /// The text given (truncated).
    pub text: String,
}

/// The name of a plugin, source or block: a URL-safe slug, because it
/// appears in paths (`/ingest/{source}`) and as template keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Name {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Self, NameError> {
        let valid = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && text.as_bytes()[0].is_ascii_alphanumeric();
        if valid {
            Ok(Name(text.to_owned()))
        } else {
            Err(NameError {
                text: text.chars().take(80).collect(),
            })
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Name {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[a-z0-9][a-z0-9_-]{0,63}$"))
            .examples([serde_json::json!("gupshup-wa")])
            .into()
    }
}

impl utoipa::ToSchema for Name {}

/// A secret that never prints: `Debug` and `Display` show `***`, so it cannot
/// leak through a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A random URL-safe secret of 32 bytes with `prefix` in front.
    pub fn generate(prefix: &str) -> Self {
        use base64::Engine as _;
        let bytes: [u8; 32] = rand::random();
        Secret(format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Compares in time independent of where the texts differ.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_slugs() {
        assert!("gupshup-wa".parse::<Name>().is_ok());
        assert!("a_1".parse::<Name>().is_ok());
        for bad in ["", "Gupshup", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(bad.parse::<Name>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::generate("whk_");
        assert!(secret.expose().starts_with("whk_"));
        assert_eq!(format!("{secret} {secret:?}"), "*** Secret(***)");
        assert!(secret.matches(secret.expose()));
        assert!(!secret.matches("whk_other"));
    }
}
