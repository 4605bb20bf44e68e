//! The block's configuration, as the operator writes it.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A webhook block (seed 001's "Webhook" workflow block, seed 004's
/// custom webhook). Unknown keys are refused so typos are named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// The webhook's name (informational; the host files the block's data
    /// under the block's name).
    #[serde(default)]
    pub name: Option<String>,
    /// A description (informational).
    #[serde(default)]
    pub description: Option<String>,
    /// `GET` (default), `POST`, `PUT` or `DELETE`, any case.
    #[serde(default)]
    pub method: Method,
    /// The URL template; substituted values are percent-encoded.
    pub url: String,
    /// Name/value pairs sent as query parameters (or headers).
    #[serde(default)]
    pub params: Vec<Param>,
    /// Send `params` as request headers instead of query parameters.
    #[serde(default)]
    pub params_in_headers: bool,
    /// Header name → value template, in the order written.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The connector whose credentials the host adds.
    #[serde(default)]
    pub connector: Option<String>,
    /// The request body (POST, PUT, DELETE).
    #[serde(default)]
    pub body: Option<Body>,
    /// How to read the response (default `auto`: by its content type).
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// A timeout shorter than the host's default, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// Undefined variables are an error instead of empty.
    #[serde(default)]
    pub strict: bool,
}

/// The HTTP methods a block may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `GET` (the default).
    #[default]
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.trim().to_ascii_uppercase().as_str() {
            "GET" => Ok(Method::Get),
            "POST" => Ok(Method::Post),
            "PUT" => Ok(Method::Put),
            "DELETE" => Ok(Method::Delete),
            _ => Err(serde::de::Error::custom(format!(
                "method `{name}` is not one of GET, POST, PUT, DELETE"
            ))),
        }
    }
}

/// One query parameter (or header, with `params_in_headers`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// The parameter name.
    pub name: String,
    /// The value: a template (default), literal text or a variable path,
    /// as `type` says. Numbers and booleans are taken as text.
    #[serde(deserialize_with = "scalar_text")]
    pub value: String,
    /// How `value` is read (seed 004's "Text or Variable").
    #[serde(default, rename = "type")]
    pub kind: ParamKind,
}

/// How a parameter value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// A template: `{{ contact.email }}`, `${email}`, or plain text.
    #[default]
    Template,
    /// Literal text, never interpreted.
    Text,
    /// A variable path such as `contact.email` or `email`.
    Variable,
}

fn scalar_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "expected text, got {other}"
        ))),
    }
}

/// The request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// `json`, `xml` or `text`: sets the content type and how the rendered
    /// body is checked.
    pub format: BodyKind,
    /// The body template. Optional for `json` (then the body is
    /// `{"event", "contact", "data"}`), required otherwise.
    #[serde(default)]
    pub template: Option<String>,
}

/// A body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    /// `application/json`; the rendered body must be JSON.
    Json,
    /// `application/xml`; the rendered body must be well-formed XML.
    Xml,
    /// `text/plain; charset=utf-8`.
    Text,
}

impl BodyKind {
    /// The content type a body of this format is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            BodyKind::Json => "application/json",
            BodyKind::Xml => "application/xml",
            BodyKind::Text => "text/plain; charset=utf-8",
        }
    }
}

/// How the response is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// By the response's content type (JSON, XML, otherwise text).
    #[default]
    Auto,
    /// JSON whatever the content type says.
    Json,
    /// XML, as a JSON value (see `wasmhook_sdk::xml`).
    Xml,
    /// The body as a string.
    Text,
}
