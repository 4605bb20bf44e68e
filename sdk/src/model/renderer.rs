//! The renderer world: what a renderer is asked to render and the body it
//! returns.
//!
//! A renderer is `fn(RenderRequest) -> Result<Rendered, PluginError>`:
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! #[renderer]
//! fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
//!     let name = path::get_str(&request.data, "contact.name").unwrap_or_default();
//!     let text = request.template.unwrap_or_else(|| "Hello {name}".into()).replace("{name}", &name);
//!     Ok(Rendered { content_type: "text/plain".into(), body: text.into_bytes() })
//! }
//!
//! # fn main() {
//! let request = RenderRequest {
//!     template: None,
//!     format: BodyFormat::Text,
//!     data: json!({"contact": {"name": "Ada"}}),
//!     config: json!({}),
//! };
//! assert_eq!(render(request).unwrap().body, b"Hello Ada");
//! # }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A body format; `json` unless the request says otherwise.
///
/// ```
/// use wasmhook_sdk::BodyFormat;
///
/// assert_eq!(BodyFormat::default(), BodyFormat::Json);
/// let format: BodyFormat = serde_json::from_str("\"xml\"").unwrap();
/// assert_eq!(format, BodyFormat::Xml);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/json`.
    #[default]
    Json,
    /// `application/xml`.
    Xml,
    /// `text/plain`.
    Text,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl BodyFormat {
    /// The format's name (`json`, `xml`, `text`, `form`).
    ///
    /// ```
    /// use wasmhook_sdk::BodyFormat;
    ///
    /// assert_eq!(BodyFormat::Form.as_str(), "form");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Xml => "xml",
            BodyFormat::Text => "text",
            BodyFormat::Form => "form",
        }
    }
}

/// What a renderer is asked to render.
///
/// ```
/// use wasmhook_sdk::{BodyFormat, RenderRequest, json};
///
/// let request = RenderRequest {
///     template: Some("<msg>{{text}}</msg>".into()),
///     format: BodyFormat::Xml,
///     data: json!({"text": "hi"}),
///     config: json!({"indent": false}),
/// };
/// assert_eq!(request.format.as_str(), "xml");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RenderRequest {
    /// Template text; `None` for the renderer's default.
    pub template: Option<String>,
    /// Format wanted.
    pub format: BodyFormat,
    /// The data the template sees.
    pub data: Value,
    /// Renderer configuration for this call.
    pub config: Value,
}

/// A rendered body.
///
/// ```
/// use wasmhook_sdk::Rendered;
///
/// let rendered = Rendered {
///     content_type: "application/json".into(),
///     body: br#"{"text":"hi"}"#.to_vec(),
/// };
/// assert_eq!(std::str::from_utf8(&rendered.body).unwrap(), r#"{"text":"hi"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Rendered {
    /// Content type to send the body with.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}
