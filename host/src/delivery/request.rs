//! Building one attempt's HTTP request: the endpoint's method and URL with
//! its query parameters, its custom headers, the connector's credentials,
//! the rendered body (in the query string for GET, seed 002) and the
//! Standard Webhooks signature headers. Header and query values may hold
//! variables (`${channel_value}`, `{{ status.status }}`) filled from the
//! event (the language is [`field_template`](super::field_template)'s).

use std::sync::OnceLock;

use serde_json::Value;

use super::field_template::{has_variables, render_field_template};
use super::signing;
use crate::domain::connector::Connector;
use crate::domain::delivery::SentRequest;
use crate::domain::endpoint::{Endpoint, HttpMethod};
use crate::ids::DeliveryId;
use crate::outbound::{Credential, MASK, OutboundRequest, USER_AGENT};

/// A body as the renderer made it.
#[derive(Debug, Clone)]
pub struct RenderedBody {
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

    /// A header or query `template` with its variables filled from the
    /// event (see [`field_template`](super::field_template)); a template
    /// without variables is taken as is, without parsing the event.
    fn render_field(&self, template: &str) -> String {
        if has_variables(template) {
            render_field_template(template, self.value())
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

/// Refuses a filled-in value that could split the request (a line break
/// or NUL), naming the field: the rule endpoint validation applies to the
/// template, applied again to what the event filled in. Anything else HTTP
/// forbids in a header value (other control characters) is the outbound
/// client's to refuse, as for every request it sends.
fn checked(field: String, value: String) -> Result<String, BuildError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(BuildError::BadValue {
            field,
            detail: "the filled-in value contains a line break or NUL".into(),
        });
    }
    Ok(value)
}

/// Builds the request of one attempt. `event` is the canonical event (the
/// variables' data); `body` the rendered body; `now_ms` is the
/// `webhook-timestamp` and picks the signing secrets still valid.
pub fn build(
    endpoint: &Endpoint,
    connector: Option<&Connector>,
    event: &EventJson,
    body: RenderedBody,
    delivery: DeliveryId,
    now_ms: u64,
) -> Result<Built, BuildError> {
    let config = &endpoint.config;
    let mut url = config.url.as_url().clone();
    {
        let mut pairs = url.query_pairs_mut();
        for (index, field) in config.query.iter().enumerate() {
            let value = checked(format!("query[{index}]"), event.render_field(&field.value))?;
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
            MASK.to_owned()
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
        let value = checked(
            format!("headers[{index}]"),
            event.render_field(&field.value),
        )?;
        add(field.name.as_str().to_ascii_lowercase(), value, false);
    }
    if let Some(connector) = connector {
        let credential = Credential::of(&connector.auth);
        add(credential.name, credential.value, true);
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
