//! Reading a callback: headers, query strings and bodies in the formats
//! vendors send (JSON, form-encoded, XML, text), each turned into
//! `serde_json::Value` so one mapping works whatever the wire format.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::model::{Callback, PluginError, find_field};
use crate::xml::xml_to_value;

/// How a callback body is encoded, from its content type (or a sniff of the
/// body when the vendor sent none or a misleading one such as SNS's
/// `text/plain` for JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` or a body that starts like JSON.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/xml`, `text/xml` or a body starting with `<`.
    Xml,
    /// Anything else.
    Text,
    /// No body at all.
    Empty,
}

impl Callback {
    /// A `POST` callback with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Callback::post("application/json", body)
    }

    /// A `POST` callback with a form-encoded body.
    pub fn form(body: impl Into<Vec<u8>>) -> Self {
        Callback::post("application/x-www-form-urlencoded", body)
    }

    /// A `POST` callback with `content_type` and `body`.
    pub fn post(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Callback {
            method: "POST".into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            query: String::new(),
            content_type: Some(content_type.into()),
            body: body.into(),
        }
    }

    /// A `GET` callback carrying its data in the query string.
    pub fn get(query: impl Into<String>) -> Self {
        Callback {
            method: "GET".into(),
            query: query.into().trim_start_matches('?').to_string(),
            ..Callback::default()
        }
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// How the body is encoded: the content type decides, except that JSON
    /// and XML bodies are recognised under `text/plain` too.
    pub fn body_kind(&self) -> BodyKind {
        let trimmed = self.body.trim_ascii_start();
        if trimmed.is_empty() {
            return BodyKind::Empty;
        }
        let mime = self
            .content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime == "application/json" || mime.ends_with("+json") {
            return BodyKind::Json;
        }
        if mime == "application/x-www-form-urlencoded" {
            return BodyKind::Form;
        }
        if mime.ends_with("/xml") || mime.ends_with("+xml") {
            return BodyKind::Xml;
        }
        match trimmed[0] {
            b'{' | b'[' => BodyKind::Json,
            b'<' => BodyKind::Xml,
            _ if mime.is_empty() && looks_like_form(trimmed) => BodyKind::Form,
            _ => BodyKind::Text,
        }
    }

    /// The body parsed as JSON into `T`; the error names the JSON problem.
    pub fn json_as<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::invalid_input(format!("body is not the expected JSON: {e}")))
    }

    /// The body parsed as JSON.
    pub fn json_value(&self) -> Result<Value, PluginError> {
        self.json_as()
    }

    /// The body parsed as a form (`a=1&b=2`).
    pub fn form_params(&self) -> Params {
        Params::parse(&self.body)
    }

    /// The query string parsed.
    pub fn query_params(&self) -> Params {
        Params::parse(self.query.as_bytes())
    }

    /// The body parsed as XML into a JSON value (see [`xml_to_value`]).
    pub fn xml_value(&self) -> Result<Value, PluginError> {
        xml_to_value(&self.text())
    }

    /// Everything the vendor sent as one JSON value, whatever the encoding:
    /// a JSON body as is; a form or XML body converted; a bodyless request's
    /// query parameters as an object. For form and query data every value is
    /// a string (repeated keys become arrays).
    pub fn payload(&self) -> Result<Value, PluginError> {
        match self.body_kind() {
            BodyKind::Json => self.json_value(),
            BodyKind::Form => Ok(self.form_params().to_value()),
            BodyKind::Xml => self.xml_value(),
            BodyKind::Empty => Ok(self.query_params().to_value()),
            BodyKind::Text => Err(PluginError::invalid_input(format!(
                "body of content type `{}` is neither JSON, form nor XML",
                self.content_type.as_deref().unwrap_or("none")
            ))),
        }
    }
}

fn looks_like_form(body: &[u8]) -> bool {
    body.contains(&b'=')
        && body
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'{' | b'}' | b'<' | b'>' | b'"'))
}

/// Decoded `name=value` pairs of a form body or query string, in order,
/// repeated names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (`+` is a space).
    pub fn parse(input: &[u8]) -> Self {
        Params(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name` (exact, case-sensitive as vendors define them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value of `name`.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A JSON object of the pairs; a repeated name becomes an array.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        for (key, value) in &self.0 {
            match object.get_mut(key) {
                None => {
                    object.insert(key.clone(), Value::String(value.clone()));
                }
                Some(Value::Array(values)) => values.push(Value::String(value.clone())),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value.clone())]);
                }
            }
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_plus_and_percent_decode() {
        let callback = Callback::form("To=whatsapp%3A%2B316&Body=hello+world&Body=again");
        let params = callback.form_params();
        assert_eq!(params.get("To"), Some("whatsapp:+316"));
        assert_eq!(params.get("Body"), Some("hello world"));
        assert_eq!(
            params.to_value()["Body"],
            serde_json::json!(["hello world", "again"])
        );
    }

    #[test]
    fn json_under_text_plain_is_sniffed() {
        let callback = Callback::post("text/plain; charset=UTF-8", r#" {"Type":"Notification"}"#);
        assert_eq!(callback.body_kind(), BodyKind::Json);
        assert_eq!(callback.payload().unwrap()["Type"], "Notification");
    }

    #[test]
    fn get_callback_payload_is_its_query() {
        let callback = Callback::get("?externalId=1&status=SUCCESS");
        assert_eq!(callback.payload().unwrap()["status"], "SUCCESS");
    }

    #[test]
    fn bad_json_names_the_problem() {
        let error = Callback::json("{oops").json_value().unwrap_err();
        assert!(error.message.contains("not the expected JSON"), "{error}");
    }
}
