//! Splitting a payload into items and reading fields from an item.

use serde_json::Value;
use wasmhook_sdk::path::{Segment, value_to_string};
use wasmhook_sdk::time::{TimeFormat, timestamp_ms_with};

use crate::config::{FieldSpec, PathRef, Scope, scalar_text};

/// One element of a batch, with what its paths can reach.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The item itself.
    pub value: &'a Value,
    /// The enclosing element of a nested batch (`statuses[].recipients[]`:
    /// the `statuses` element of a recipient), if any.
    pub parent: Option<&'a Value>,
    /// The whole payload.
    pub root: &'a Value,
}

impl<'a> Item<'a> {
    /// What the event keeps as `vendor_response`: the item when it is an
    /// object, else its enclosing element, else the whole payload.
    pub fn raw(&self) -> &'a Value {
        if self.value.is_object() {
            self.value
        } else {
            self.parent.unwrap_or(self.root)
        }
    }

    /// The values `path` selects from this item.
    fn select(&self, path: &PathRef) -> Vec<&'a Value> {
        let start = match path.scope {
            Scope::Item => Some(self.value),
            Scope::Parent => self.parent,
            Scope::Root => Some(self.root),
        };
        start
            .map(|value| path.path.select(value))
            .unwrap_or_default()
    }

    /// The first value of `spec` that is present: not null, not an empty
    /// string, not one of the ignored values.
    pub fn value(&self, spec: &FieldSpec) -> Option<Value> {
        match spec {
            FieldSpec::Value(constant) => Some(constant.clone()).filter(|v| !v.is_null()),
            FieldSpec::Paths { paths, ignore } => paths.iter().find_map(|path| {
                self.select(path)
                    .into_iter()
                    .find(|v| present(v, ignore))
                    .cloned()
            }),
        }
    }

    /// Like [`Item::value`], as text (objects and arrays as compact JSON).
    pub fn text(&self, spec: Option<&FieldSpec>) -> Option<String> {
        let value = self.value(spec?)?;
        value_to_string(&value)
            .or_else(|| (value.is_object() || value.is_array()).then(|| value.to_string()))
    }

    /// The first value of `spec` that reads as a timestamp in `format`.
    pub fn timestamp(
        &self,
        spec: Option<&FieldSpec>,
        format: &TimeFormat,
        offset: Option<chrono::FixedOffset>,
    ) -> Option<i64> {
        match spec? {
            FieldSpec::Value(constant) => timestamp_ms_with(constant, format, offset),
            FieldSpec::Paths { paths, ignore } => paths.iter().find_map(|path| {
                self.select(path)
                    .into_iter()
                    .filter(|v| present(v, ignore))
                    .find_map(|v| timestamp_ms_with(v, format, offset))
            }),
        }
    }

    /// A boolean: JSON booleans, or `true/false`, `yes/no`, `1/0` as text.
    pub fn flag(&self, spec: Option<&FieldSpec>) -> Option<bool> {
        match self.value(spec?)? {
            Value::Bool(flag) => Some(flag),
            other => match scalar_text(&other).trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "hard" | "permanent" => Some(true),
                "false" | "no" | "n" | "0" | "soft" | "transient" => Some(false),
                _ => None,
            },
        }
    }
}

fn present(value: &Value, ignore: &[String]) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) if text.trim().is_empty() => false,
        other => !ignore.iter().any(|i| *i == scalar_text(other)),
    }
}

/// The items of `root` at `items` (see the crate doc); `None` when the
/// path does not lead to anything (the payload is not of this shape).
pub fn split<'a>(root: &'a Value, items: Option<&PathRef>) -> Option<Vec<Item<'a>>> {
    let (start, segments): (&Value, &[Segment]) = match items {
        None => (root, &[]),
        Some(path) => (root, path.path.segments()),
    };
    let mut out = Vec::new();
    let found = expand(start, segments, None, None, root, false, &mut out);
    found.then_some(out)
}

/// Follows `segments`; at each `[]` every element continues on its own,
/// remembering the element of the previous `[]` as the parent. Returns
/// whether the path led anywhere (an empty array counts).
fn expand<'a>(
    value: &'a Value,
    segments: &[Segment],
    element: Option<&'a Value>,
    parent: Option<&'a Value>,
    root: &'a Value,
    each_seen: bool,
    out: &mut Vec<Item<'a>>,
) -> bool {
    let Some((segment, rest)) = segments.split_first() else {
        match value {
            // Without an explicit `[]` an array is the batch itself.
            Value::Array(elements) if !each_seen => {
                out.extend(elements.iter().map(|e| Item {
                    value: e,
                    parent: element,
                    root,
                }));
            }
            Value::Null => return false,
            _ => out.push(Item {
                value,
                parent,
                root,
            }),
        }
        return true;
    };
    match (segment, value) {
        (Segment::Key(key), Value::Object(map)) => match map.get(key) {
            Some(next) => expand(next, rest, element, parent, root, each_seen, out),
            None => false,
        },
        (Segment::Index(index), Value::Array(elements)) => match elements.get(*index) {
            Some(next) => expand(next, rest, element, parent, root, each_seen, out),
            None => false,
        },
        (Segment::Each, Value::Array(elements)) => {
            let mut found = elements.is_empty();
            for next in elements {
                found |= expand(next, rest, Some(next), element, root, true, out);
            }
            found
        }
        // A single object where a batch is expected is a batch of one.
        (Segment::Each, Value::Object(_)) => {
            expand(value, rest, Some(value), element, root, true, out)
        }
        _ => false,
    }
}
