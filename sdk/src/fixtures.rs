//! Fixture expectations shared by native plugin tests and the wasm
//! end-to-end tests, so both assert the same canonical fields.
//!
//! A vendor folder (`plugins/fixtures/<vendor>/`) holds the sample bodies and
//! one `expected.json`: for each sample file name, how it arrives and what a
//! mapper must make of it:
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

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::model::{Callback, ErrorKind};

/// What one sample must map to.
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

/// One sample with its expectation, ready to run.
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
    let dir = dir.as_ref();
    let vendor = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected_path = dir.join("expected.json");
    let text = std::fs::read_to_string(&expected_path)
        .map_err(|e| format!("cannot read {}: {e}", expected_path.display()))?;
    let expectations: BTreeMap<String, Expectation> = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid: {e}", expected_path.display()))?;
    let mut samples = Vec::new();
    for entry in
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?
    {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_file()
            && path
                .file_name()
                .is_some_and(|n| !is_not_a_sample(&n.to_string_lossy()))
        {
            samples.push(path);
        }
    }
    samples.sort();
    for sample in &samples {
        let file = sample.file_name().unwrap_or_default().to_string_lossy();
        if !expectations.contains_key(file.as_ref()) {
            return Err(format!(
                "{vendor}/{file} has no entry in {}",
                expected_path.display()
            ));
        }
    }
    expectations
        .into_iter()
        .map(|(file, expect)| {
            let path = dir.join(&file);
            let body = std::fs::read(&path)
                .map_err(|e| format!("{vendor}/{file} in expected.json: cannot read: {e}"))?;
            let method = expect.method.clone().unwrap_or_else(|| "POST".into());
            let content_type = expect
                .content_type
                .clone()
                .unwrap_or_else(|| content_type_for(&file).to_string());
            let mut callback = if method.eq_ignore_ascii_case("GET") {
                Callback::get(String::from_utf8_lossy(&body).trim().to_string())
            } else {
                Callback::post(&content_type, body)
            };
            callback.method = method.to_ascii_uppercase();
            callback.headers.extend(expect.headers.iter().cloned());
            Ok(FixtureCase {
                name: format!("{vendor}/{file}"),
                callback,
                config: expect
                    .config
                    .clone()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                expect,
            })
        })
        .collect()
}

/// Whether a file in a vendor folder is documentation or expectations
/// rather than a sample.
fn is_not_a_sample(file: &str) -> bool {
    matches!(file, "expected.json" | "README.md" | "config.json") || file.ends_with(".headers.txt")
}

/// The content type a sample file is sent with, by extension.
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

/// Runs `map` over every case of a vendor folder and panics with every
/// mismatch listed (native plugin tests call this).
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
    fn docs_and_configs_are_not_samples() {
        for file in ["expected.json", "README.md", "config.json", "x.headers.txt"] {
            assert!(is_not_a_sample(file), "{file}");
        }
        for file in ["config.form", "sample.json", "readme.json"] {
            assert!(!is_not_a_sample(file), "{file}");
        }
    }

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
