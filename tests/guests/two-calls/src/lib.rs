//! A custom block that calls two URLs through the host's outbound HTTP: it
//! GETs `config.first_url`, takes `config.field` (default `id`) from that
//! JSON answer and POSTs `{"<field>": <value>}` as JSON to
//! `config.second_url`, returning `{"first": <answer 1>, "second": <answer 2>}`.
//!
//! Every failure is a value: a request the host did not complete (refused,
//! timed out, …), a non-2xx answer or a body that is not JSON comes back as
//! a `PluginError` naming the request; the block never traps.

use wasmhook_sdk::prelude::*;

#[block]
fn run(_input: BlockInput, config: Config) -> Result<Value, PluginError> {
    let url = |key: &str| {
        config
            .get_str(key)
            .map(str::to_owned)
            .ok_or_else(|| PluginError::invalid_config(format!("config.{key}: required (a URL)")))
    };
    let first_url = url("first_url")?;
    let second_url = url("second_url")?;
    let field = config.get_str("field").unwrap_or("id");

    let first = send_json("first", "GET", &first_url, None)?;
    let value = first.get(field).cloned().ok_or_else(|| {
        PluginError::invalid_input(format!(
            "first request GET {first_url}: the answer has no `{field}` field: {first}"
        ))
    })?;
    let body = json!({ field: value });
    let second = send_json("second", "POST", &second_url, Some(&body))?;
    Ok(json!({"first": first, "second": second}))
}

/// Sends one request through the host and parses its JSON answer; `which`
/// names the request in every error.
fn send_json(
    which: &str,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, PluginError> {
    let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
    if body.is_some() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    let request = HttpRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        headers,
        body: body.map(|value| value.to_string().into_bytes()),
        ..HttpRequest::default()
    };
    let named = |what: String| format!("{which} request {method} {url}: {what}");
    let response =
        host::send(&request).map_err(|error| PluginError::upstream(named(error.to_string())))?;
    if !(200..300).contains(&response.status) {
        return Err(PluginError::upstream(named(format!(
            "status {}",
            response.status
        ))));
    }
    serde_json::from_slice(&response.body).map_err(|error| {
        PluginError::invalid_input(named(format!("the answer is not JSON: {error}")))
    })
}
