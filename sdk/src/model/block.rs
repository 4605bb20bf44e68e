//! The block world: what a block runs with and the outbound HTTP it asks the
//! host to send.
//!
//! A block is `fn(BlockInput, Config) -> Result<Value, PluginError>`; the
//! value it returns is stored under the block's name for later blocks:
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! #[block]
//! fn tag(input: BlockInput, _config: Config) -> Result<Value, PluginError> {
//!     let status = path::get_str(&input.event, "status.status").unwrap_or_default();
//!     Ok(json!({"final": status == "delivered" || status == "failed"}))
//! }
//!
//! # fn main() {
//! let input = BlockInput { event: json!({"status": {"status": "delivered"}}), ..Default::default() };
//! assert_eq!(tag(input, Config::default()).unwrap(), json!({"final": true}));
//! # }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Field, find_field};

/// What a block runs with.
///
/// ```
/// use wasmhook_sdk::{BlockInput, json, path};
///
/// let input = BlockInput {
///     event: json!({"channel": "sms"}),
///     contact: json!({"email": "ada@example.com"}),
///     data: json!({"lookup": {"tier": "gold"}}),
/// };
/// assert_eq!(path::get_str(&input.data, "lookup.tier").as_deref(), Some("gold"));
/// ```
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

/// An outbound request a block asks the host to send (with
/// [`crate::host::send`]).
///
/// ```
/// use wasmhook_sdk::HttpRequest;
///
/// let request = HttpRequest {
///     method: "POST".into(),
///     url: "https://api.example.com/v1/notes".into(),
///     headers: vec![("content-type".into(), "application/json".into())],
///     body: Some(br#"{"text": "hi"}"#.to_vec()),
///     connector: Some("crm".into()),
///     timeout_ms: Some(2_000),
/// };
/// assert_eq!(request.method, "POST");
/// ```
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
///
/// ```
/// use wasmhook_sdk::HttpResponse;
///
/// let response = HttpResponse { status: 204, headers: vec![], body: vec![] };
/// assert!((200..300).contains(&response.status));
/// ```
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
    ///
    /// ```
    /// use wasmhook_sdk::HttpResponse;
    ///
    /// let response = HttpResponse {
    ///     status: 200,
    ///     headers: vec![("Content-Type".into(), "text/plain".into())],
    ///     body: b"ok".to_vec(),
    /// };
    /// assert_eq!(response.header("content-type"), Some("text/plain"));
    /// assert_eq!(response.header("etag"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }
}

/// Why an outbound request got no response. It converts into an
/// `upstream` [`PluginError`](crate::PluginError), so `?` works in a block.
///
/// ```
/// use wasmhook_sdk::{ErrorKind, HttpError, PluginError};
///
/// let error = HttpError::TooLarge(1_048_576);
/// assert_eq!(error.to_string(), "response larger than 1048576 bytes");
/// let error = PluginError::from(HttpError::Timeout);
/// assert_eq!(error.kind, ErrorKind::Upstream);
/// assert_eq!(error.message, "request timed out");
/// ```
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
