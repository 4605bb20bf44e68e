//! Building one attempt's HTTP request: the endpoint's method and URL with
//! its query parameters, its custom headers, the connector's credentials,
//! the rendered body (in the query string for GET, seed 002) and the
//! Standard Webhooks signature headers. Header and query values may hold
//! variables (`${channel_value}`, `{{ status.status }}`) filled from the
//! event.

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::Value;

use crate::domain::connector::{Connector, ConnectorAuth};
use crate::domain::delivery::SentRequest;
use crate::domain::endpoint::{Endpoint, HttpMethod};
use crate::ids::DeliveryId;

use super::outbound::OutboundRequest;
use super::signing;

/// The user agent of every delivery.
pub const USER_AGENT: &str = concat!("wasmhook/", env!("CARGO_PKG_VERSION"));

/// A body as the renderer made it.
#[derive(Debug, Clone)]
pub struct Body {
    /// `Content-Type` to send.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// An event as JSON text (as stored, or written from a value), parsed only
/// when a header or query template takes a value from it: most endpoints'
/// requests need the text alone, which goes to the renderer as is.
#[derive(Debug)]
pub struct EventJson {
    text: String,
    parsed: OnceLock<Value>,
}

impl EventJson {
    /// An event stored as `text`.
    pub fn from_text(text: String) -> Self {
        EventJson {
            text,
            parsed: OnceLock::new(),
        }
    }

    /// An event made as a value (the test send's sample).
    pub fn from_value(value: Value) -> Self {
        EventJson {
            text: value.to_string(),
            parsed: OnceLock::from(value),
        }
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The event as a value; text that is not JSON (it is written by the
    /// store, so only a corrupt record) reads as `null`, every variable
    /// then filling in empty.
    pub fn value(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(&self.text).unwrap_or(Value::Null))
    }

    /// `template` with its variables filled from the event (see [`fill`]);
    /// a template without variables is taken as is, without parsing.
    fn fill(&self, template: &str) -> String {
        if template.contains("${") || template.contains("{{") {
            fill(template, self.value())
        } else {
            template.to_owned()
        }
    }
}

/// An attempt's request, and what of it the attempt log may show.
#[derive(Debug, Clone)]
pub struct Built {
    /// What is sent.
    pub request: OutboundRequest,
    /// The same without secrets, for the attempt log.
    pub shown: SentRequest,
}

/// Why no request could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A filled-in header or query value is not usable.
    #[error("{field}: {detail}")]
    BadValue {
        /// `headers[0]`, `query[1]`…
        field: String,
        /// Why.
        detail: String,
    },
}

/// Fills `${path}` and `{{ path }}` variables of `template` from `data`;
/// a missing value is empty, text as is, anything else as JSON.
pub fn fill(template: &str, data: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    loop {
        let dollar = rest.find("${").map(|at| (at, "${", "}"));
        let braces = rest.find("{{").map(|at| (at, "{{", "}}"));
        let next = match (dollar, braces) {
            (Some(d), Some(b)) => Some(if d.0 < b.0 { d } else { b }),
            (d, b) => d.or(b),
        };
        let Some((at, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        let after_open = &rest[at + open.len()..];
        let Some(end) = after_open.find(close) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let path = after_open[..end].trim();
        match wasmhook_sdk::path::get(data, path) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => out.push_str(text),
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after_open[end + close.len()..];
    }
}

fn checked(field: String, value: String) -> Result<String, BuildError> {
    if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
        return Err(BuildError::BadValue {
            field,
            detail: "the filled-in value contains a line break or NUL".into(),
        });
    }
    Ok(value)
}

/// The credential header a connector adds: name (lower case) and value.
/// Deliveries and workflow blocks both use it.
pub(crate) fn credential(auth: &ConnectorAuth) -> (String, String) {
    match auth {
        ConnectorAuth::Basic { username, password } => {
            let pair = format!("{username}:{}", password.expose());
            (
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            )
        }
        ConnectorAuth::Bearer { token } => {
            ("authorization".into(), format!("Bearer {}", token.expose()))
        }
        ConnectorAuth::ApiKey { header, value } => (
            header.as_str().to_ascii_lowercase(),
            value.expose().to_owned(),
        ),
    }
}

/// Builds the request of one attempt. `event` is the canonical event (the
/// variables' data); `body` the rendered body; `now_ms` is the
/// `webhook-timestamp` and picks the signing secrets still valid.
pub fn build(
    endpoint: &Endpoint,
    connector: Option<&Connector>,
    event: &EventJson,
    body: Body,
    delivery: DeliveryId,
    now_ms: u64,
) -> Result<Built, BuildError> {
    let config = &endpoint.config;
    let mut url = config.url.as_url().clone();
    {
        let mut pairs = url.query_pairs_mut();
        for (index, field) in config.query.iter().enumerate() {
            let value = checked(format!("query[{index}]"), event.fill(&field.value))?;
            pairs.append_pair(&field.name, &value);
        }
    }
    let is_get = config.method == HttpMethod::Get;
    if is_get && !body.bytes.is_empty() {
        // GET carries the rendered fields in the query string (seed 002):
        // the form renderer's `a=1&b=2`, appended as is.
        let extra = String::from_utf8_lossy(&body.bytes).into_owned();
        let query = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{extra}"),
            _ => extra,
        };
        url.set_query(Some(&query));
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let body_bytes = if is_get { Vec::new() } else { body.bytes };

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut shown_headers: Vec<(String, String)> = Vec::new();
    let mut add = |name: String, value: String, secret: bool| {
        let shown = if secret {
            "***".to_owned()
        } else {
            value.clone()
        };
        shown_headers.push((name.clone(), shown));
        headers.push((name, value));
    };
    add("user-agent".into(), USER_AGENT.into(), false);
    if !is_get {
        add("content-type".into(), body.content_type, false);
    }
    for (index, field) in config.headers.iter().enumerate() {
        let value = checked(format!("headers[{index}]"), event.fill(&field.value))?;
        add(field.name.as_str().to_ascii_lowercase(), value, false);
    }
    if let Some(connector) = connector {
        let (name, value) = credential(&connector.auth);
        add(name, value, true);
    }
    let id = delivery.to_string();
    let signature = signing::endpoint_signature_headers(endpoint, &id, now_ms, &body_bytes);
    for (name, value) in signature.pairs() {
        add(name.to_owned(), value.to_owned(), false);
    }
    let shown = SentRequest {
        method: config.method.as_str().to_owned(),
        url: url.to_string(),
        headers: shown_headers,
        body_bytes: body_bytes.len() as u64,
    };
    Ok(Built {
        request: OutboundRequest {
            method: reqwest::Method::from_bytes(config.method.as_str().as_bytes())
                .unwrap_or(reqwest::Method::POST),
            url,
            headers,
            body: body_bytes,
            timeout: None,
        },
        shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_are_filled_from_the_event() {
        let event = json!({"channel_value": "+1555", "status": {"status": "read", "code": 7}});
        assert_eq!(fill("to=${channel_value}", &event), "to=+1555");
        assert_eq!(
            fill("{{ status.status }}/{{status.code}}", &event),
            "read/7"
        );
        assert_eq!(fill("x${missing}y", &event), "xy");
        assert_eq!(fill("plain ${unclosed", &event), "plain ${unclosed");
    }
}
