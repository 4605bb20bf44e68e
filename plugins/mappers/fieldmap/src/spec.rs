//! Where a field's value comes from: paths with a scope, fallbacks,
//! constants, conditions (`when`), `transform` steps and value maps, each
//! read from the config with errors that name the offending key.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use wasmhook_sdk::path::{Path, Segment};

use crate::transform::{Transform, ValueMap};

/// The path step that parses the JSON text found so far (`a.@json.b`).
pub const JSON_STEP: &str = "@json";

/// Which value a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The current item (the default).
    Item,
    /// The enclosing element of a nested batch (`$parent.…`).
    Parent,
    /// The whole payload (`$root.…`).
    Root,
}

/// A parsed path and where it starts.
#[derive(Debug, Clone)]
pub struct PathRef {
    /// Where the path starts.
    pub scope: Scope,
    /// The path; a `@json` key step parses the string reached so far.
    pub path: Path,
    /// The path as written, scope included, for messages.
    pub text: String,
}

impl PathRef {
    /// Parses `$root.a.b`, `$parent.a`, `$`, `a[0].b`; the error says what
    /// is wrong with the text.
    pub fn parse(text: &str) -> Result<PathRef, String> {
        let trimmed = text.trim();
        let (scope, rest) = if let Some(rest) = trimmed.strip_prefix("$root") {
            (Scope::Root, rest)
        } else if let Some(rest) = trimmed.strip_prefix("$parent") {
            (Scope::Parent, rest)
        } else {
            (Scope::Item, trimmed)
        };
        if scope != Scope::Item && !(rest.is_empty() || rest.starts_with(['.', '['])) {
            return Err(format!("path `{text}`: expected `.` after the scope"));
        }
        if scope == Scope::Item && rest.is_empty() {
            return Err("empty path (use `$` for the item itself)".to_string());
        }
        let path = Path::parse(rest.strip_prefix('.').unwrap_or(rest))
            .map_err(|e| e.replace(rest, text))?;
        Ok(PathRef {
            scope,
            path,
            text: trimmed.to_string(),
        })
    }

    /// Whether the path parses JSON text on the way (`@json`).
    pub fn parses_json(&self) -> bool {
        self.path.segments().iter().any(is_json_step)
    }
}

/// Whether `segment` is the `@json` step.
pub fn is_json_step(segment: &Segment) -> bool {
    matches!(segment, Segment::Key(key) if key == JSON_STEP)
}

/// Where one canonical field comes from, and what is done to the value.
#[derive(Debug, Clone, Default)]
pub struct FieldSpec {
    /// Tried in order; the first that gives a value wins.
    pub sources: Vec<Source>,
    /// Values (as text) that count as absent, e.g. `"0"` for "no error".
    pub ignore: Vec<String>,
    /// Read the field only when all these hold (for the item).
    pub when: Vec<Condition>,
    /// Text operations applied to the value found, in order.
    pub transform: Vec<Transform>,
    /// Vendor value → value, after `transform`.
    pub map: Option<ValueMap>,
}

/// One place a field's value can come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Read at a path.
    Path(PathRef),
    /// A constant.
    Value(Value),
    /// A nested spec, with its own `when`, `transform`, `map`.
    Spec(Box<FieldSpec>),
}

const SPEC_KEYS: &str = "`path` or `value`, with optional `ignore`, `when`, `transform`, `map`";

impl FieldSpec {
    /// A spec from its JSON form (see the crate doc); errors name the key
    /// inside the spec (`when.equals: …`, `transform[1]: …`).
    pub fn from_value(value: &Value) -> Result<FieldSpec, String> {
        match value {
            Value::String(_) | Value::Array(_) => Ok(FieldSpec {
                sources: sources(value)?,
                ..FieldSpec::default()
            }),
            Value::Object(object) => FieldSpec::from_object(object),
            other => Err(format!(
                "expected a path, a list of paths, {{\"path\": …}} or {{\"value\": …}}, got {other}"
            )),
        }
    }

    fn from_object(object: &Map<String, Value>) -> Result<FieldSpec, String> {
        if let Some(unknown) = object.keys().find(|k| {
            !matches!(
                k.as_str(),
                "value" | "path" | "ignore" | "when" | "transform" | "map"
            )
        }) {
            return Err(format!("unknown key `{unknown}`, expected {SPEC_KEYS}"));
        }
        let sources = match (object.get("value"), object.get("path")) {
            (Some(constant), None) if !object.contains_key("ignore") => {
                vec![Source::Value(constant.clone())]
            }
            (None, Some(paths)) => sources(paths).map_err(|e| format!("path: {e}"))?,
            (Some(_), None) => return Err("`ignore` needs `path`, not `value`".to_string()),
            _ => return Err("expected either `{\"path\": …}` or `{\"value\": …}`".to_string()),
        };
        let ignore = match object.get("ignore") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(scalar_text).collect(),
            Some(other) => vec![scalar_text(other)],
        };
        let when = match object.get("when") {
            None => Vec::new(),
            Some(when) => Condition::list(when).map_err(|e| format!("when{e}"))?,
        };
        let transform = match object.get("transform") {
            None => Vec::new(),
            Some(steps) => Transform::list(steps).map_err(|e| format!("transform{e}"))?,
        };
        let map = match object.get("map") {
            None => None,
            Some(map) => Some(ValueMap::from_value(map).map_err(|e| format!("map: {e}"))?),
        };
        Ok(FieldSpec {
            sources,
            ignore,
            when,
            transform,
            map,
        })
    }
}

/// A path, or a list whose elements are paths or nested specs.
fn sources(value: &Value) -> Result<Vec<Source>, String> {
    let path = |text: &str| PathRef::parse(text).map(Source::Path);
    match value {
        Value::String(text) => Ok(vec![path(text)?]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(text) => path(text),
                Value::Object(object) => FieldSpec::from_object(object)
                    .map(|spec| Source::Spec(Box::new(spec)))
                    .map_err(|e| format!("[{i}]: {e}")),
                other => Err(format!("expected a path or {{\"path\": …}}, got {other}")),
            })
            .collect(),
        other => Err(format!("expected a path or a list of paths, got {other}")),
    }
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FieldSpec::from_value(&Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// A test on the payload or an item: `{"path": "type", "equals": ["a", "b"]}`,
/// `{"path": "statuses"}` (present), `{"path": "status", "present": false}`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Where the tested value is.
    pub path: PathRef,
    /// What it must be.
    pub test: Test,
}

/// What a [`Condition`] requires of the value at its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// Some value is there (not null, not empty).
    Present,
    /// Nothing is there.
    Absent,
    /// Some value equals one of these (as text, case-insensitively;
    /// stored in lower case).
    OneOf(Vec<String>),
}

impl Condition {
    /// One condition or a list of them (all must hold); an error starts
    /// with the place inside (`[1].path: …` or `: …`) so callers can prefix
    /// the key.
    pub fn list(value: &Value) -> Result<Vec<Condition>, String> {
        match value {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, item)| Condition::from_value(item).map_err(|e| format!("[{i}]{e}")))
                .collect(),
            other => Ok(vec![Condition::from_value(other)?]),
        }
    }

    fn from_value(value: &Value) -> Result<Condition, String> {
        let Value::Object(object) = value else {
            return Err(format!(
                ": expected {{\"path\": …}} with optional `equals` or `present`, got {value}"
            ));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "path" | "equals" | "present"))
        {
            return Err(format!(
                ": unknown key `{unknown}`, expected `path` with optional `equals` or `present`"
            ));
        }
        let path = match object.get("path") {
            Some(Value::String(text)) => PathRef::parse(text).map_err(|e| format!(".path: {e}"))?,
            Some(other) => return Err(format!(".path: expected a path, got {other}")),
            None => return Err(": `path` is missing".to_string()),
        };
        let test = match (object.get("equals"), object.get("present")) {
            (Some(_), Some(_)) => {
                return Err(": use either `equals` or `present`, not both".to_string());
            }
            (Some(Value::Array(values)), None) if !values.is_empty() => Test::OneOf(
                values
                    .iter()
                    .map(|v| scalar_text(v).trim().to_lowercase())
                    .collect(),
            ),
            (Some(value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))), None) => {
                Test::OneOf(vec![scalar_text(value).trim().to_lowercase()])
            }
            (Some(other), None) => {
                return Err(format!(
                    ".equals: expected a value or a non-empty list of values, got {other}"
                ));
            }
            (None, None | Some(Value::Bool(true))) => Test::Present,
            (None, Some(Value::Bool(false))) => Test::Absent,
            (None, Some(other)) => {
                return Err(format!(".present: expected true or false, got {other}"));
            }
        };
        Ok(Condition { path, test })
    }

    /// The condition in words, for "no shape matches" messages.
    pub fn describe(&self) -> String {
        let path = &self.path.text;
        match &self.test {
            Test::Present => format!("`{path}` present"),
            Test::Absent => format!("`{path}` absent"),
            Test::OneOf(values) => format!("`{path}` = {}", values.join(" or ")),
        }
    }
}

/// A scalar as text (strings as they are, others as JSON).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
