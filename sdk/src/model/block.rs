//! The block world: what a block runs with and the outbound HTTP it asks the
//! host to send.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Field, find_field};

/// What a block runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BlockInput {
    /// The event that triggered the workflow.
    pub event: Value,
    /// The contact's fields.
    pub contact: Value,
    /// Data of earlier blocks, keyed by block name.
    pub data: Value,
}

/// An outbound request a block asks the host to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HttpRequest {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<Field>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Connector whose credentials the host adds.
    pub connector: Option<String>,
    /// Timeout shorter than the host's default, ms.
    pub timeout_ms: Option<u32>,
}

/// A response to an outbound request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<Field>,
    /// Body (capped by the host).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }
}

/// Why an outbound request got no response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum HttpError {
    /// The host refused to send it.
    Refused(String),
    /// No answer in time.
    Timeout,
    /// The connection failed.
    Connection(String),
    /// The response exceeded the host's cap (bytes).
    TooLarge(u64),
    /// The request was malformed.
    InvalidRequest(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Refused(why) => write!(f, "request refused: {why}"),
            HttpError::Timeout => write!(f, "request timed out"),
            HttpError::Connection(why) => write!(f, "connection failed: {why}"),
            HttpError::TooLarge(cap) => write!(f, "response larger than {cap} bytes"),
            HttpError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}
