//! The renderer world: what a renderer is asked to render and the body it
//! returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A body format.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Rendered {
    /// Content type to send the body with.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}
