//! Reading a callback: headers, query strings and bodies in the formats
//! vendors send (JSON, form-encoded, XML, text), each turned into
//! `serde_json::Value` so one mapping works whatever the wire format.
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! let form = Callback::form("id=m-1&status=DELIVERED");
//! let json = Callback::json(r#"{"id": "m-1", "status": "DELIVERED"}"#);
//! assert_eq!(form.payload().unwrap(), json.payload().unwrap());
//! ```

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::model::{Callback, PluginError, find_field};
use crate::xml::xml_to_value;

/// How a callback body is encoded, from its content type (or a sniff of the
/// body when the vendor sent none or a misleading one such as SNS's
/// `text/plain` for JSON).
///
/// ```
/// use wasmhook_sdk::prelude::*;
///
/// assert_eq!(Callback::post("text/plain", "[1, 2]").body_kind(), BodyKind::Json);
/// assert_eq!(Callback::post("text/plain", "<ok/>").body_kind(), BodyKind::Xml);
/// assert_eq!(Callback::post("text/plain", "hello").body_kind(), BodyKind::Text);
/// assert_eq!(Callback::get("id=1").body_kind(), BodyKind::Empty);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` (or any `+json` type) or a body that starts like
    /// JSON.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::post("application/vnd.api+json", r#"{"data": {}}"#);
    /// assert_eq!(callback.body_kind(), BodyKind::Json);
    /// ```
    Json,
    /// `application/x-www-form-urlencoded`, or a `name=value` body sent
    /// without a content type.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback { body: b"id=1&status=ok".to_vec(), ..Callback::default() };
    /// assert_eq!(callback.body_kind(), BodyKind::Form);
    /// ```
    Form,
    /// `application/xml`, `text/xml` (or any `+xml` type) or a body
    /// starting with `<`.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::post("application/soap+xml", "<Envelope/>");
    /// assert_eq!(callback.body_kind(), BodyKind::Xml);
    /// ```
    Xml,
    /// Anything else.
    Text,
    /// No body at all.
    Empty,
}

impl Callback {
    /// A `POST` callback with a JSON body.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::json(r#"{"id": "m-1"}"#);
    /// assert_eq!(callback.method, "POST");
    /// assert_eq!(callback.content_type.as_deref(), Some("application/json"));
    /// assert_eq!(callback.json_value().unwrap(), json!({"id": "m-1"}));
    /// ```
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Callback::post("application/json", body)
    }

    /// A `POST` callback with a form-encoded body.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::form("MessageSid=SM1&MessageStatus=delivered");
    /// assert_eq!(callback.header("content-type"), Some("application/x-www-form-urlencoded"));
    /// assert_eq!(callback.form_params().get("MessageStatus"), Some("delivered"));
    /// ```
    pub fn form(body: impl Into<Vec<u8>>) -> Self {
        Callback::post("application/x-www-form-urlencoded", body)
    }

    /// A `POST` callback with `content_type` and `body`.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::post("text/xml; charset=utf-8", "<ok/>");
    /// assert_eq!(callback.header("Content-Type"), Some("text/xml; charset=utf-8"));
    /// assert_eq!(callback.body_kind(), BodyKind::Xml);
    /// ```
    pub fn post(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Callback {
            method: "POST".into(),
            headers: vec![("Content-Type".into(), content_type.into())],
            query: String::new(),
            content_type: Some(content_type.into()),
            body: body.into(),
        }
    }

    /// A `GET` callback carrying its data in the query string (a leading
    /// `?` is dropped).
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::get("?id=m-1&status=SENT");
    /// assert_eq!(callback.method, "GET");
    /// assert_eq!(callback.query, "id=m-1&status=SENT");
    /// assert_eq!(callback.query_params().get("status"), Some("SENT"));
    /// ```
    pub fn get(query: impl Into<String>) -> Self {
        Callback {
            method: "GET".into(),
            query: query.into().trim_start_matches('?').to_string(),
            ..Callback::default()
        }
    }

    /// The first header named `name` (case-insensitive).
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let mut callback = Callback::json("{}");
    /// callback.headers.push(("X-Signature".into(), "abc".into()));
    /// assert_eq!(callback.header("x-signature"), Some("abc"));
    /// assert_eq!(callback.header("X-Missing"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let callback = Callback::post("text/plain", b"caf\xc3\xa9 \xff".to_vec());
    /// assert_eq!(callback.text(), "café \u{FFFD}");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// How the body is encoded: the content type decides, except that JSON
    /// and XML bodies are recognised under `text/plain` too.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let sns = Callback::post("text/plain; charset=UTF-8", r#"{"Type": "Notification"}"#);
    /// assert_eq!(sns.body_kind(), BodyKind::Json);
    /// assert_eq!(Callback::form("a=1").body_kind(), BodyKind::Form);
    /// assert_eq!(Callback::json("  ").body_kind(), BodyKind::Empty);
    /// ```
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

    /// The body parsed as JSON into `T`; the error (`invalid_input`) names
    /// the JSON problem.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use wasmhook_sdk::prelude::*;
    ///
    /// #[derive(Debug, Deserialize, PartialEq)]
    /// struct Report { id: String, attempts: u32 }
    ///
    /// let report: Report = Callback::json(r#"{"id": "m-1", "attempts": 2}"#).json_as().unwrap();
    /// assert_eq!(report, Report { id: "m-1".into(), attempts: 2 });
    /// let error = Callback::json(r#"{"id": 7}"#).json_as::<Report>().unwrap_err();
    /// assert_eq!(error.kind, ErrorKind::InvalidInput);
    /// ```
    pub fn json_as<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::invalid_input(format!("body is not the expected JSON: {e}")))
    }

    /// The body parsed as JSON.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let body = Callback::json(r#"{"to": ["+1", "+2"]}"#).json_value().unwrap();
    /// assert_eq!(path::get_str(&body, "to[-1]").as_deref(), Some("+2"));
    /// let error = Callback::json("{oops").json_value().unwrap_err();
    /// assert_eq!(error.kind, ErrorKind::InvalidInput);
    /// ```
    pub fn json_value(&self) -> Result<Value, PluginError> {
        self.json_as()
    }

    /// The body parsed as a form (`a=1&b=2`).
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let params = Callback::form("Body=hello+world&To=whatsapp%3A%2B316").form_params();
    /// assert_eq!(params.get("Body"), Some("hello world"));
    /// assert_eq!(params.get("To"), Some("whatsapp:+316"));
    /// ```
    pub fn form_params(&self) -> Params {
        Params::parse(&self.body)
    }

    /// The query string parsed.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let params = Callback::get("id=1&id=2&state=ok").query_params();
    /// assert_eq!(params.all("id").collect::<Vec<_>>(), ["1", "2"]);
    /// assert_eq!(params.get("state"), Some("ok"));
    /// ```
    pub fn query_params(&self) -> Params {
        Params::parse(self.query.as_bytes())
    }

    /// The body parsed as XML into a JSON value (see [`xml_to_value`]).
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let xml = r#"<report id="7"><state>DELIVRD</state></report>"#;
    /// let body = Callback::post("text/xml", xml).xml_value().unwrap();
    /// assert_eq!(body, json!({"report": {"@id": "7", "state": "DELIVRD"}}));
    /// ```
    pub fn xml_value(&self) -> Result<Value, PluginError> {
        xml_to_value(&self.text())
    }

    /// Everything the vendor sent as one JSON value, whatever the encoding:
    /// a JSON body as is; a form or XML body converted; a bodyless request's
    /// query parameters as an object. For form and query data every value is
    /// a string (repeated keys become arrays). Any other text body is an
    /// `invalid_input` error.
    ///
    /// ```
    /// use wasmhook_sdk::prelude::*;
    ///
    /// let xml = Callback::post("application/xml", "<r><id>m-1</id></r>");
    /// assert_eq!(xml.payload().unwrap(), json!({"r": {"id": "m-1"}}));
    /// let get = Callback::get("id=m-1&tag=a&tag=b");
    /// assert_eq!(get.payload().unwrap(), json!({"id": "m-1", "tag": ["a", "b"]}));
    /// let text = Callback::post("text/plain", "hello").payload().unwrap_err();
    /// assert_eq!(text.kind, ErrorKind::InvalidInput);
    /// ```
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
///
/// ```
/// use wasmhook_sdk::Params;
///
/// let params = Params::parse(b"a=1&b=2&a=3");
/// assert_eq!(params.0[1], ("b".to_string(), "2".to_string()));
/// assert_eq!(params.all("a").collect::<Vec<_>>(), ["1", "3"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (`+` is a space).
    ///
    /// ```
    /// use wasmhook_sdk::Params;
    ///
    /// let params = Params::parse(b"name=Jane+Doe&note=50%25");
    /// assert_eq!(params.get("name"), Some("Jane Doe"));
    /// assert_eq!(params.get("note"), Some("50%"));
    /// ```
    pub fn parse(input: &[u8]) -> Self {
        Params(
            form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name` (exact, case-sensitive as vendors define them).
    ///
    /// ```
    /// use wasmhook_sdk::Params;
    ///
    /// let params = Params::parse(b"Status=sent&Status=again");
    /// assert_eq!(params.get("Status"), Some("sent"));
    /// assert_eq!(params.get("status"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, unless it is empty or only whitespace.
    ///
    /// ```
    /// use wasmhook_sdk::Params;
    ///
    /// let params = Params::parse(b"error=&code=+&id=7");
    /// assert_eq!(params.get("error"), Some(""));
    /// assert_eq!(params.non_empty("error"), None);
    /// assert_eq!(params.non_empty("code"), None);
    /// assert_eq!(params.non_empty("id"), Some("7"));
    /// ```
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `name`, in order.
    ///
    /// ```
    /// use wasmhook_sdk::Params;
    ///
    /// let params = Params::parse(b"to=%2B1&from=x&to=%2B2");
    /// assert_eq!(params.all("to").collect::<Vec<_>>(), ["+1", "+2"]);
    /// assert_eq!(params.all("cc").count(), 0);
    /// ```
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A JSON object of the pairs; a repeated name becomes an array.
    ///
    /// ```
    /// use wasmhook_sdk::{Params, json};
    ///
    /// let params = Params::parse(b"id=7&tag=a&tag=b");
    /// assert_eq!(params.to_value(), json!({"id": "7", "tag": ["a", "b"]}));
    /// ```
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
