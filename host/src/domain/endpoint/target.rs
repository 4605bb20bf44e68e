//! Where and how an endpoint's requests go: the URL, the names of headers
//! an operator may set, and the custom headers and query parameters whose
//! values may hold template variables.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::FieldError;
use crate::outbound::headers::is_host_owned;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The most custom headers, and the most query parameters, per endpoint.
pub const MAX_FIELDS: usize = 50;
/// The longest header or query parameter value (before rendering).
pub const MAX_FIELD_VALUE_LEN: usize = 4096;
/// The longest header or query parameter name.
pub const MAX_FIELD_NAME_LEN: usize = 256;

/// An endpoint URL: absolute http or https, with a host, no credentials in
/// it (they belong in a connector), no fragment, at most [`MAX_URL_LEN`]
/// characters. Whether the target is private is checked at delivery time,
/// on the resolved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(url::Url);

impl EndpointUrl {
    /// The parsed URL.
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

impl FromStr for EndpointUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() > MAX_URL_LEN {
            return Err(format!("at most {MAX_URL_LEN} characters"));
        }
        let url = url::Url::parse(text.trim())
            .map_err(|error| format!("`{text}` is not an absolute URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("must use http or https, not `{}`", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password; use a connector".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a `#fragment` (it is never sent)".into());
        }
        Ok(EndpointUrl(url))
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl Serialize for EndpointUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for EndpointUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for EndpointUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .max_length(Some(MAX_URL_LEN))
            .examples([serde_json::json!("https://example.com/webhooks")])
            .into()
    }
}

impl utoipa::ToSchema for EndpointUrl {}

/// The name of a header an operator sets (custom endpoint headers, a
/// connector's API key header): a valid HTTP header name the host does not
/// own ([`is_host_owned`]: framing, hop-by-hop and the Standard Webhooks
/// signature headers). Kept as written; HTTP compares names
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomHeaderName(String);

impl CustomHeaderName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CustomHeaderName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() > MAX_FIELD_NAME_LEN
            || axum::http::HeaderName::from_bytes(text.as_bytes()).is_err()
        {
            return Err(format!(
                "`{}` is not a valid HTTP header name",
                text.chars().take(80).collect::<String>()
            ));
        }
        if is_host_owned(text) {
            return Err(format!(
                "`{text}` is set by the server and cannot be configured"
            ));
        }
        Ok(CustomHeaderName(text.to_owned()))
    }
}

impl Serialize for CustomHeaderName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CustomHeaderName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CustomHeaderName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .examples([serde_json::json!("X-Api-Key")])
            .into()
    }
}

impl utoipa::ToSchema for CustomHeaderName {}

/// A custom header: the value is text that may hold variables from the
/// event (`{{ channel_value }}`, `${status.status}`), kept as given and
/// filled in per delivery.
// The variables' language (a subset of the renderers'): `delivery::field_template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderField {
    /// The header name.
    pub name: CustomHeaderName,
    /// The value or template.
    pub value: String,
}

/// A query parameter added to the URL; the value may hold template
/// variables like a header's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryField {
    /// The parameter name.
    pub name: String,
    /// The value or template.
    pub value: String,
}

/// Checks header or query `(name, value)` pairs: bounded count and
/// lengths, non-empty names, no line breaks or NUL that could split a
/// request (rendered values are checked again when sent).
pub(super) fn check_fields<'a>(
    list: &str,
    fields: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), FieldError> {
    if fields.len() > MAX_FIELDS {
        return Err(FieldError::new(
            list,
            format!("at most {MAX_FIELDS} entries"),
        ));
    }
    let breaks_request = |text: &str| text.contains(['\r', '\n', '\0']);
    for (at, (name, value)) in fields.enumerate() {
        if name.is_empty() || name.len() > MAX_FIELD_NAME_LEN || breaks_request(name) {
            return Err(FieldError::new(
                format!("{list}[{at}].name"),
                format!("must be 1 to {MAX_FIELD_NAME_LEN} characters without line breaks"),
            ));
        }
        if value.len() > MAX_FIELD_VALUE_LEN || breaks_request(value) {
            return Err(FieldError::new(
                format!("{list}[{at}].value"),
                format!("must be at most {MAX_FIELD_VALUE_LEN} bytes without line breaks"),
            ));
        }
    }
    Ok(())
}
