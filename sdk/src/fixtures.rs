//! Sample folders with an `expected.json`, shared by native plugin tests,
//! `wasmhook plugin test` and the wasm end-to-end tests, so all of them
//! assert the same things.
//!
//! A folder (`plugins/fixtures/<vendor>/`, a scaffold's `samples/`) holds
//! one input per file and one `expected.json`: for each file name, how the
//! input is given to the plugin and what must come of it. Every world
//! reads the same layout; what an entry says depends on the world:
//!
//! - mappers: the file is a vendor callback (this module, [`FixtureCase`]);
//! - renderers: the file is the template data (JSON), see [`RenderCase`];
//! - blocks: the file is `{"event", "contact", "data"}`, see [`BlockCase`].
//!
//! For a mapper:
//!
//! ```json
//! {
//!   "wa-v2-inbound-text.json": {
//!     "content_type": "application/json",
//!     "events": [{"event_type": "inbound_message", "reference": {"vendor_message_id": "ABEG..."}}]
//!   },
//!   "sms-dlr-get.txt": {"method": "GET", "events": [ ... ]},
//!   "broken.original.txt": {"error": "invalid_input"}
//! }
//! ```
//!
//! `method` defaults to `POST`; for `GET` the file is the query string.
//! Files that are not samples are skipped: `expected.json`, `*.headers.txt`,
//! `README.md` and `config.json` (a folder's documentation and the mapper
//! config it shows, as in `fixtures/fieldmap-*/`).
//! `content_type` defaults by extension (`.json`, `.form`, `.xml`, else
//! `text/plain`). `config` is the mapper config (default `{}`). Each expected
//! event is a *subset* of the actual one (see [`json_subset`]); the number of
//! events must match exactly.

mod block;
mod folder;
mod renderer;

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::model::{Callback, ErrorKind};

pub use block::{
    BlockCase, BlockExpectation, CannedReply, check_block, check_block_case, request_view,
    try_load_block_cases,
};
pub use renderer::{
    RenderCase, RenderExpectation, check_render_case, check_renderer, try_load_render_cases,
};

/// What one mapper sample must map to, and how its callback arrives.
///
/// ```
/// use wasmhook_sdk::fixtures::Expectation;
///
/// let expect: Expectation =
///     serde_json::from_str(r#"{"method": "GET", "events": [{"channel": "sms"}]}"#)?;
/// assert_eq!(expect.method.as_deref(), Some("GET"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// HTTP method (default `POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// Content type (default by file extension).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Mapper config.
    #[serde(default)]
    pub config: Option<Value>,
    /// Expected events (subsets), when the mapping succeeds.
    #[serde(default)]
    pub events: Option<Vec<Value>>,
    /// Expected error kind, when it must fail.
    #[serde(default)]
    pub error: Option<ErrorKind>,
    /// Expected explicit reply status, if the mapper must answer specially.
    #[serde(default)]
    pub reply_status: Option<u16>,
    /// Why this sample is interesting (documentation only).
    #[serde(default)]
    pub note: Option<String>,
}

/// One mapper sample with its expectation, ready to run.
///
/// ```no_run
/// for case in wasmhook_sdk::fixtures::load_cases("samples") {
///     println!("{}: {} bytes", case.name, case.callback.body.len());
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FixtureCase {
    /// `vendor/file` for messages.
    pub name: String,
    /// The callback as a vendor would send it.
    pub callback: Callback,
    /// The mapper config.
    pub config: Value,
    /// What must come out.
    pub expect: Expectation,
}

/// Loads every case of a vendor folder. Panics (this is test support) with
/// a message naming the file when the folder or `expected.json` is wrong, or
/// when a sample file has no expectation (every sample must be covered).
///
/// ```no_run
/// let cases = wasmhook_sdk::fixtures::load_cases("samples");
/// assert!(!cases.is_empty());
/// ```
pub fn load_cases(dir: impl AsRef<Path>) -> Vec<FixtureCase> {
    try_load_cases(dir).unwrap_or_else(|error| panic!("{error}"))
}

/// Loads every case of a vendor folder, or says what is wrong, naming the
/// file: the folder or `expected.json` unreadable or invalid, a sample
/// file with no expectation (every sample must be covered), an expectation
/// naming a file that is not there.
///
/// ```no_run
/// let cases = wasmhook_sdk::fixtures::try_load_cases("samples")?;
/// for case in &cases {
///     println!("{} ({})", case.name, case.callback.method);
/// }
/// # Ok::<(), String>(())
/// ```
pub fn try_load_cases(dir: impl AsRef<Path>) -> Result<Vec<FixtureCase>, String> {
    let folder = folder::load::<Expectation>(dir.as_ref(), |_| Vec::new())?;
    Ok(folder
        .entries
        .into_iter()
        .map(|entry| {
            let file = entry.file;
            let expect = entry.expect;
            let method = expect.method.clone().unwrap_or_else(|| "POST".into());
            let content_type = expect
                .content_type
                .clone()
                .unwrap_or_else(|| content_type_for(&file).to_string());
            let mut callback = if method.eq_ignore_ascii_case("GET") {
                Callback::get(String::from_utf8_lossy(&entry.bytes).trim().to_string())
            } else {
                Callback::post(&content_type, entry.bytes)
            };
            callback.method = method.to_ascii_uppercase();
            callback.headers.extend(expect.headers.iter().cloned());
            FixtureCase {
                name: format!("{}/{file}", folder.name),
                callback,
                config: expect
                    .config
                    .clone()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                expect,
            }
        })
        .collect())
}

/// The content type a sample file is sent with, by extension.
///
/// ```
/// use wasmhook_sdk::fixtures::content_type_for;
///
/// assert_eq!(content_type_for("dlr.form"), "application/x-www-form-urlencoded");
/// assert_eq!(content_type_for("dlr.txt"), "text/plain");
/// ```
pub fn content_type_for(file: &str) -> &'static str {
    if file.ends_with(".json") {
        "application/json"
    } else if file.ends_with(".form") {
        "application/x-www-form-urlencoded"
    } else if file.ends_with(".xml") {
        "application/xml"
    } else {
        "text/plain"
    }
}

/// Whether `expected` is contained in `actual`: objects by key (extra keys
/// in `actual` are fine), arrays element by element with equal length,
/// scalars by equality. On mismatch returns the path and both values.
///
/// ```
/// use wasmhook_sdk::fixtures::json_subset;
/// use wasmhook_sdk::json;
///
/// let actual = json!({"status": {"status": "delivered", "timestamp": 1}});
/// assert!(json_subset(&json!({"status": {"status": "delivered"}}), &actual).is_ok());
/// assert_eq!(
///     json_subset(&json!({"status": {"status": "read"}}), &actual).unwrap_err(),
///     r#"$.status.status: expected "read", got "delivered""#
/// );
/// ```
pub fn json_subset(expected: &Value, actual: &Value) -> Result<(), String> {
    subset_at(expected, actual, "$")
}

fn subset_at(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let path = format!("{at}.{key}");
                match have.get(key) {
                    Some(found) => subset_at(value, found, &path)?,
                    None if value.is_null() => {}
                    None => return Err(format!("{path}: missing, expected {value}")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(format!(
                    "{at}: expected {} items, got {}: {actual}",
                    want.len(),
                    have.len()
                ));
            }
            for (i, (w, h)) in want.iter().zip(have).enumerate() {
                subset_at(w, h, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{at}: expected {expected}, got {actual}")),
    }
}

/// Whether a body is as expected. A JSON string in `expected` is the exact
/// text of the body (a difference names the first line that differs); any
/// other value means the body must be JSON containing it ([`json_subset`]).
///
/// ```
/// use wasmhook_sdk::fixtures::check_body;
/// use wasmhook_sdk::json;
///
/// assert!(check_body(&json!("Hi Ana\nbye"), b"Hi Ana\nbye").is_ok());
/// let why = check_body(&json!("Hi Ana\nbye"), b"Hi Ana\nciao").unwrap_err();
/// assert_eq!(why, "line 2: expected `bye`, got `ciao`");
/// assert!(check_body(&json!({"text": "hi"}), br#"{"text": "hi", "room": null}"#).is_ok());
/// ```
pub fn check_body(expected: &Value, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    match expected {
        Value::String(want) => text_difference(want, &text),
        _ => {
            let have: Value = serde_json::from_str(&text)
                .map_err(|e| format!("expected a JSON body, got text that is not JSON ({e})"))?;
            json_subset(expected, &have)
        }
    }
}

/// The first line where `have` differs from `want`, said for a person.
fn text_difference(want: &str, have: &str) -> Result<(), String> {
    if want == have {
        return Ok(());
    }
    let (mut wanted, mut had) = (want.split('\n'), have.split('\n'));
    for line in 1.. {
        match (wanted.next(), had.next()) {
            (Some(w), Some(h)) if w == h => continue,
            (Some(w), Some(h)) => {
                return Err(format!("line {line}: expected `{w}`, got `{h}`"));
            }
            (Some(w), None) => return Err(format!("line {line}: expected `{w}`, got no line")),
            (None, Some(h)) => return Err(format!("line {line}: expected no line, got `{h}`")),
            (None, None) => break,
        }
    }
    // Only reachable if the texts differ in a way `split` hides.
    Err(format!("expected {want:?}, got {have:?}"))
}

/// Whether a plugin's refusal is the one expected (`expected` none: no
/// refusal was).
fn check_refusal(
    expected: Option<ErrorKind>,
    error: &crate::model::PluginError,
) -> Result<(), String> {
    match expected {
        Some(kind) if kind == error.kind => Ok(()),
        Some(kind) => Err(format!(
            "expected error `{}`, got {error}",
            error_kind_name(kind)
        )),
        None => Err(format!("refused: {error}")),
    }
}

/// An error kind as `expected.json` spells it (`invalid_config`).
fn error_kind_name(kind: ErrorKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// Runs `map` over every case of a vendor folder and panics with every
/// mismatch listed (native plugin tests call this).
///
/// ```ignore
/// #[test]
/// fn every_sample_maps_as_expected() {
///     wasmhook_sdk::fixtures::check_vendor(
///         concat!(env!("CARGO_MANIFEST_DIR"), "/samples"),
///         |case| map(case.callback.clone(), Config(case.config.clone())).map(Mapped::from),
///     );
/// }
/// ```
pub fn check_vendor<F>(dir: impl AsRef<Path>, mut map: F)
where
    F: FnMut(&FixtureCase) -> Result<crate::model::Mapped, crate::model::PluginError>,
{
    let mut failures = Vec::new();
    let cases = load_cases(dir);
    assert!(!cases.is_empty(), "no fixture cases");
    for case in &cases {
        if let Err(why) = check_case(case, map(case)) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

/// Checks one mapping result against its case's expectation.
///
/// ```no_run
/// use wasmhook_sdk::fixtures::{check_case, load_cases};
///
/// let case = &load_cases("samples")[0];
/// let outcome = check_case(case, Ok(wasmhook_sdk::Mapped::default()));
/// ```
pub fn check_case(
    case: &FixtureCase,
    result: Result<crate::model::Mapped, crate::model::PluginError>,
) -> Result<(), String> {
    match (result, &case.expect.error) {
        (Err(error), Some(kind)) if error.kind == *kind => Ok(()),
        (Err(error), Some(kind)) => Err(format!("expected a {kind:?} error, got {error}")),
        (Err(error), None) => Err(format!("mapping failed: {error}")),
        (Ok(mapped), Some(kind)) => Err(format!(
            "expected a {kind:?} error, got {} event(s)",
            mapped.events.len()
        )),
        (Ok(mapped), None) => {
            if let Some(status) = case.expect.reply_status {
                let got = mapped.reply.as_ref().map(|r| r.status);
                if got != Some(status) {
                    return Err(format!("expected reply status {status}, got {got:?}"));
                }
            }
            let want = Value::Array(case.expect.events.clone().unwrap_or_default());
            let have = serde_json::to_value(&mapped.events).map_err(|e| e.to_string())?;
            json_subset(&want, &have)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_reports_the_path() {
        let actual = json!({"a": {"b": [1, {"c": "x", "d": 2}]}, "e": null});
        assert!(json_subset(&json!({"a": {"b": [1, {"c": "x"}]}}), &actual).is_ok());
        let error = json_subset(&json!({"a": {"b": [1, {"c": "y"}]}}), &actual).unwrap_err();
        assert!(error.starts_with("$.a.b[1].c"), "{error}");
        assert!(json_subset(&json!({"e": null, "f": null}), &actual).is_ok());
        assert!(json_subset(&json!({"a": {"b": [1]}}), &actual).is_err());
    }
}
