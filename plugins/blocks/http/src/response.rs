//! Reading the response, and saying what went wrong with it.

use serde_json::Value;
use wasmhook_sdk::{HttpError, HttpResponse, PluginError};

use crate::config::ResponseFormat;

/// How many characters of a response body an error quotes.
const EXCERPT_CHARS: usize = 200;

/// The response as the block's data: JSON as a value, XML as a value (see
/// `wasmhook_sdk::xml`), anything else as a string; an empty body is
/// `null`. A non-2xx status is an upstream error quoting the body.
pub fn read(
    response: &HttpResponse,
    format: ResponseFormat,
    target: &str,
) -> Result<Value, PluginError> {
    if !(200..300).contains(&response.status) {
        return Err(PluginError::upstream(format!(
            "HTTP {} from {target}: {}",
            response.status,
            excerpt(&response.body)
        )));
    }
    if response.body.trim_ascii().is_empty() {
        return Ok(Value::Null);
    }
    let text = String::from_utf8_lossy(&response.body);
    let format = match format {
        ResponseFormat::Auto => sniff(response.header("content-type"), &text),
        explicit => explicit,
    };
    match format {
        ResponseFormat::Json => serde_json::from_str(&text).map_err(|e| {
            PluginError::upstream(format!(
                "response from {target} is not JSON ({e}): {}",
                excerpt(&response.body)
            ))
        }),
        ResponseFormat::Xml => wasmhook_sdk::xml::xml_to_value(&text).map_err(|e| {
            let why = e.message.trim_start_matches("body is ");
            PluginError::upstream(format!(
                "response from {target} is {why}: {}",
                excerpt(&response.body)
            ))
        }),
        ResponseFormat::Text | ResponseFormat::Auto => Ok(Value::String(text.into_owned())),
    }
}

/// The format of a response by its content type, or by its first character
/// when it has none (a body that then fails to parse is kept as text).
fn sniff(content_type: Option<&str>, text: &str) -> ResponseFormat {
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") || mime == "text/json" {
        return ResponseFormat::Json;
    }
    if mime.ends_with("/xml") || mime.ends_with("+xml") {
        return ResponseFormat::Xml;
    }
    if mime.is_empty() {
        let trimmed = text.trim_start();
        if trimmed.starts_with(['{', '[']) && serde_json::from_str::<Value>(text).is_ok() {
            return ResponseFormat::Json;
        }
        if trimmed.starts_with('<') && wasmhook_sdk::xml::xml_to_value(text).is_ok() {
            return ResponseFormat::Xml;
        }
    }
    ResponseFormat::Text
}

/// A transport failure as an upstream error that says which kind it was.
pub fn transport(error: HttpError, target: &str, timeout_ms: Option<u32>) -> PluginError {
    let why = match error {
        HttpError::Refused(why) => format!("refused: {why}"),
        HttpError::Timeout => match timeout_ms {
            Some(ms) => format!("timed out after {ms} ms"),
            None => "timed out".to_string(),
        },
        HttpError::Connection(why) => format!("connection failed: {why}"),
        HttpError::TooLarge(cap) => format!("response larger than the {cap}-byte limit"),
        HttpError::InvalidRequest(why) => format!("invalid request: {why}"),
    };
    PluginError::upstream(format!("{target}: {why}"))
}

/// The first characters of a body on one line, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        return "(empty body)".to_string();
    }
    match line.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// A URL without its query and fragment, for messages: the query may carry
/// personal data (`?email=…`).
pub fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}
