//! `http-block`: seed 001's workflow **Webhook** block (and seed 004's
//! custom webhook): one GET/POST/PUT/DELETE call through the host, whose
//! parsed response becomes the block's data (`data.<block name>…` in later
//! templates, e.g. `{{ data.WH5.promocode }}`).
//!
//! # Configuration
//!
//! ```json
//! {
//!   "method": "GET",
//!   "url": "https://crm.example.com/contacts?email=${email}",
//!   "params": [{"name": "city", "value": "{{ contact.TOWN }}"},
//!              {"name": "source", "value": "wasmhook", "type": "text"},
//!              {"name": "id", "value": "contact.id", "type": "variable"}],
//!   "params_in_headers": false,
//!   "headers": {"X-Request-Id": "{{ event.id }}"},
//!   "connector": "crm-basic",
//!   "body": {"format": "json", "template": "{\"email\": \"{{ email }}\"}"},
//!   "response_format": "auto",
//!   "timeout_ms": 5000
//! }
//! ```
//!
//! - `method`: GET (default), POST, PUT, DELETE, any case. A GET has no body.
//! - `url`: a template; every substituted value is percent-encoded
//!   (`${email}` → `a%40b.com`), so a value cannot add path segments or
//!   parameters (`| safe` opts out). Must be an absolute http(s) URL; whether
//!   plain http or a host is allowed is the host's decision.
//! - `params`: `{name, value, type}` with `type` `template` (default),
//!   `text` (literal) or `variable` (a path such as `contact.email`); sent
//!   form-encoded in the query, or as headers with `params_in_headers`.
//! - `headers`: name → value template, sent in order; a value that would
//!   contain a line break is refused.
//! - `connector`: passed to the host, which adds that connector's
//!   credentials (Basic, Bearer, API key); the block never sees a secret.
//! - `body`: `format` `json` | `xml` | `text` sets `Content-Type` (unless
//!   `headers` sets one) and how the rendered body is checked: JSON must
//!   parse, XML must be well-formed. JSON and XML templates escape what
//!   they print (see the `templating` crate). A `json` body without a
//!   template is `{"event", "contact", "data"}`.
//! - `response_format`: `auto` (default: by the response's content type,
//!   JSON → value, XML → value, anything else → string), `json`, `xml`,
//!   `text`. An empty response is `null`.
//! - `timeout_ms`: a shorter timeout than the host's default.
//! - `strict`: undefined variables are an error naming them (default: empty).
//! - `name`, `description`: informational.
//!
//! # Template variables
//!
//! `event`, `contact` and `data` (earlier blocks' results), plus the
//! top-level fields of the event and of the contact directly, so that
//! seed 001's `${email}` works: **the event's field wins, then the
//! contact's** (an event field that is `null` falls back to the contact's).
//! `event`, `contact` and `data` always mean the three inputs.
//!
//! # Errors
//!
//! A non-2xx answer is `upstream`: `HTTP 503 from https://api.example.com/x:
//! <first 200 characters of the body>`; transport failures are `upstream`
//! naming the kind: `GET https://…: refused: …`, `…: timed out`,
//! `…: connection failed: …`. URLs in messages are shown without their
//! query (it may carry personal data). Template and configuration problems
//! are `invalid_config` naming the setting (`config.url: template line 1: …`).

mod config;
mod response;

use serde_json::{Map, Value, json};
use templating::{Escape, Options, check_json, check_xml};
use wasmhook_sdk::prelude::*;

pub use config::{BlockConfig, Body, BodyKind, Method, Param, ParamKind, ResponseFormat};

/// Runs the block: renders the request, sends it through the host and
/// returns the parsed response.
#[block]
pub fn run(input: BlockInput, config: Config) -> Result<Value, PluginError> {
    let config: BlockConfig = config.parse()?;
    let request = build_request(&input, &config)?;
    let target = format!(
        "{} {}",
        request.method,
        response::without_query(&request.url)
    );
    let answer =
        host::send(&request).map_err(|e| response::transport(e, &target, config.timeout_ms))?;
    response::read(
        &answer,
        config.response_format,
        response::without_query(&request.url),
    )
}

/// The request the block sends for `input` (exposed for tests and for
/// `wasmhook plugin run` style dry runs).
pub fn build_request(input: &BlockInput, config: &BlockConfig) -> Result<HttpRequest, PluginError> {
    let context = context(input);
    let strict = config.strict;
    let render = |what: &str, template: &str, escape: Escape| {
        templating::render(template, &context, &Options { strict, escape })
            .map_err(|e| PluginError::new(e.kind, format!("config.{what}: {}", e.message)))
    };

    let mut url = render("url", config.url.trim(), Escape::Url)?;
    // Schemes are case-insensitive (`HTTPS://` is https), as the host reads
    // them: one URL rule for endpoints and blocks.
    let has_prefix = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    if !(has_prefix("https://") || has_prefix("http://")) {
        return Err(PluginError::invalid_config(format!(
            "config.url: `{url}` is not an absolute http(s) URL"
        )));
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut has_query = false;
    for (i, param) in config.params.iter().enumerate() {
        let what = format!("params[{i}].value");
        let value = match param.kind {
            ParamKind::Text => param.value.clone(),
            ParamKind::Template => render(&what, &param.value, Escape::None)?,
            ParamKind::Variable => {
                render(&what, &format!("${{{}}}", param.value.trim()), Escape::None)?
            }
        };
        if param.name.trim().is_empty() {
            return Err(PluginError::invalid_config(format!(
                "config.params[{i}].name is empty"
            )));
        }
        if config.params_in_headers {
            headers.push(header(&format!("params[{i}]"), &param.name, value)?);
        } else {
            query.append_pair(&param.name, &value);
            has_query = true;
        }
    }
    if has_query {
        url = with_query(&url, &query.finish());
    }

    for (name, template) in &config.headers {
        let what = format!("headers.{name}");
        let Value::String(template) = template else {
            return Err(PluginError::invalid_config(format!(
                "config.{what}: expected a text template"
            )));
        };
        let value = render(&what, template, Escape::None)?;
        headers.push(header(&what, name, value)?);
    }

    let body = match &config.body {
        None => None,
        Some(_) if config.method == Method::Get => {
            return Err(PluginError::invalid_config(
                "config.body: a GET request has no body; use POST or PUT",
            ));
        }
        Some(body) => {
            let text = render_body(body, input, &context, strict)?;
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push((
                    "Content-Type".to_string(),
                    body.format.content_type().to_string(),
                ));
            }
            Some(text.into_bytes())
        }
    };
    let accept = match config.response_format {
        ResponseFormat::Json => Some("application/json"),
        ResponseFormat::Xml => Some("application/xml"),
        ResponseFormat::Text | ResponseFormat::Auto => None,
    };
    if let Some(accept) = accept
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
    {
        headers.push(("Accept".to_string(), accept.to_string()));
    }

    Ok(HttpRequest {
        method: config.method.as_str().to_string(),
        url,
        headers,
        body,
        connector: config.connector.clone().filter(|c| !c.trim().is_empty()),
        timeout_ms: config.timeout_ms,
    })
}

/// The template context (see the crate doc for the precedence).
pub fn context(input: &BlockInput) -> Value {
    let mut map = Map::new();
    for source in [&input.event, &input.contact] {
        if let Value::Object(fields) = source {
            for (key, value) in fields {
                let taken = map.get(key).is_some_and(|v: &Value| !v.is_null());
                if !taken {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
    }
    map.insert("event".into(), input.event.clone());
    map.insert("contact".into(), input.contact.clone());
    map.insert("data".into(), input.data.clone());
    Value::Object(map)
}

fn render_body(
    body: &Body,
    input: &BlockInput,
    context: &Value,
    strict: bool,
) -> Result<String, PluginError> {
    let template = body.template.as_deref().filter(|t| !t.trim().is_empty());
    let escape = match body.format {
        BodyKind::Json => Escape::Json,
        BodyKind::Xml => Escape::Xml,
        BodyKind::Text => Escape::None,
    };
    let Some(template) = template else {
        return match body.format {
            BodyKind::Json => Ok(
                json!({"event": input.event, "contact": input.contact, "data": input.data})
                    .to_string(),
            ),
            _ => Err(PluginError::invalid_config(
                "config.body.template is required for xml and text bodies",
            )),
        };
    };
    let text = templating::render(template, context, &Options { strict, escape })
        .map_err(|e| PluginError::new(e.kind, format!("config.body.template: {}", e.message)))?;
    let checked = match body.format {
        BodyKind::Json => check_json(&text).map_err(|why| format!("is not valid JSON: {why}")),
        BodyKind::Xml => check_xml(&text).map_err(|why| format!("is not well-formed XML: {why}")),
        BodyKind::Text => Ok(()),
    };
    checked.map_err(|why| {
        PluginError::invalid_config(format!("config.body: the rendered body {why}"))
    })?;
    Ok(text)
}

/// A header pair, refusing names that are not HTTP tokens and values with
/// line breaks (which would inject headers).
fn header(what: &str, name: &str, value: String) -> Result<(String, String), PluginError> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(PluginError::invalid_config(format!(
            "config.{what}: `{name}` is not a valid header name"
        )));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(PluginError::invalid_input(format!(
            "config.{what}: the value of header `{name}` contains a line break"
        )));
    }
    Ok((name.to_string(), value))
}

/// `url` with `pairs` appended to its query (before any `#fragment`).
fn with_query(url: &str, pairs: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with(['?', '&']) {
        ""
    } else {
        "&"
    };
    format!("{base}{separator}{pairs}{fragment}")
}

#[cfg(test)]
mod tests;
