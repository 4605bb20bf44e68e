//! Splitting a payload into items and reading fields from an item
//! (paths, `@json` steps, conditions, transforms and value maps applied).

use serde_json::Value;
use wasmhook_sdk::PluginError;
use wasmhook_sdk::path::{Segment, value_to_string};
use wasmhook_sdk::time::{TimeFormat, timestamp_ms_with};

use crate::spec::{Condition, FieldSpec, PathRef, Scope, Source, Test, is_json_step, scalar_text};
use crate::transform::apply_all;

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

    /// The values `path` selects from this item (copies: a `@json` step
    /// makes values that are not in the payload).
    fn select(&self, path: &PathRef) -> Vec<Value> {
        let start = match path.scope {
            Scope::Item => Some(self.value),
            Scope::Parent => self.parent,
            Scope::Root => Some(self.root),
        };
        let mut out = Vec::new();
        if let Some(value) = start {
            walk(value, path.path.segments(), &mut out);
        }
        out
    }

    /// Whether every condition holds for this item.
    pub fn holds(&self, conditions: &[Condition]) -> bool {
        conditions.iter().all(|condition| {
            let values = self.select(&condition.path);
            let mut present = values.iter().filter(|v| present(v, &[]));
            match &condition.test {
                Test::Present => present.next().is_some(),
                Test::Absent => present.next().is_none(),
                Test::OneOf(allowed) => {
                    present.any(|v| allowed.contains(&scalar_text(v).trim().to_lowercase()))
                }
            }
        })
    }

    /// Every value `spec` gives, in order of preference: its `when` holds,
    /// the value is present (not null, not empty, not ignored), then
    /// transformed and mapped.
    fn candidates(&self, spec: &FieldSpec) -> Vec<Value> {
        if !self.holds(&spec.when) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for source in &spec.sources {
            match source {
                Source::Path(path) => found.extend(
                    self.select(path)
                        .into_iter()
                        .filter(|v| present(v, &spec.ignore)),
                ),
                Source::Value(constant) if !constant.is_null() => found.push(constant.clone()),
                Source::Value(_) => {}
                Source::Spec(inner) => found.extend(self.candidates(inner)),
            }
        }
        found
            .into_iter()
            .filter_map(|v| apply_all(&spec.transform, v))
            .filter_map(|v| match &spec.map {
                Some(map) => map.apply(v),
                None => Some(v),
            })
            .filter(|v| present(v, &[]))
            .collect()
    }

    /// The first value of `spec` (see [`Item::candidates`]).
    pub fn value(&self, spec: &FieldSpec) -> Option<Value> {
        self.candidates(spec).into_iter().next()
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
        self.candidates(spec?)
            .iter()
            .find_map(|v| timestamp_ms_with(v, format, offset))
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

/// Follows `segments` from `value`, collecting copies of what they reach.
/// Where a list is expected a single value counts as a list of one, so
/// `to[]`, `to[0]` and `to[-1]` read a form key sent once (`to=a`) the same
/// way as one sent repeatedly (`to=a&to=b`, an array). `@json` parses the
/// text reached so far (text that is not JSON leads nowhere).
fn walk(value: &Value, segments: &[Segment], out: &mut Vec<Value>) {
    let Some((segment, rest)) = segments.split_first() else {
        out.push(value.clone());
        return;
    };
    if is_json_step(segment) {
        match value {
            Value::String(text) => {
                if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                    walk(&parsed, rest, out);
                }
            }
            // Already parsed (an `items` path with `@json` parses in place).
            Value::Object(_) | Value::Array(_) => walk(value, rest, out),
            _ => {}
        }
        return;
    }
    match (segment, value) {
        (_, Value::Null) => {}
        (Segment::Key(key), Value::Object(map)) => {
            if let Some(next) = map.get(key) {
                walk(next, rest, out);
            }
        }
        (Segment::Key(_), _) => {}
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(next) = items.get(*i) {
                walk(next, rest, out);
            }
        }
        (Segment::FromEnd(back), Value::Array(items)) => {
            if let Some(next) = items.len().checked_sub(*back).and_then(|i| items.get(i)) {
                walk(next, rest, out);
            }
        }
        (Segment::Each, Value::Array(items)) => {
            for next in items {
                walk(next, rest, out);
            }
        }
        (Segment::Index(0) | Segment::FromEnd(1) | Segment::Each, single) => {
            walk(single, rest, out)
        }
        _ => {}
    }
}

/// Parses, in place, the JSON text that the `@json` steps of `path` reach
/// (for `items` such as `mandrill_events.@json[]`, whose items must live in
/// the payload); returns the steps left to split on. Text that is not JSON
/// is `invalid_input` naming the path.
pub fn inline_json(root: &mut Value, path: &PathRef) -> Result<Vec<Segment>, PluginError> {
    let segments = path.path.segments();
    parse_in_place(root, segments).map_err(|e| {
        PluginError::invalid_input(format!(
            "the text at `{}` (config.items) is not JSON: {e}",
            path.path.as_str()
        ))
    })?;
    Ok(segments
        .iter()
        .filter(|s| !is_json_step(s))
        .cloned()
        .collect())
}

fn parse_in_place(value: &mut Value, segments: &[Segment]) -> Result<(), serde_json::Error> {
    let Some((segment, rest)) = segments.split_first() else {
        return Ok(());
    };
    if is_json_step(segment) {
        if let Value::String(text) = value {
            *value = serde_json::from_str(text)?;
        }
        return parse_in_place(value, rest);
    }
    match (segment, value) {
        (Segment::Key(key), Value::Object(map)) => match map.get_mut(key) {
            Some(next) => parse_in_place(next, rest),
            None => Ok(()),
        },
        (Segment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(next) => parse_in_place(next, rest),
            None => Ok(()),
        },
        (Segment::FromEnd(back), Value::Array(items)) => {
            let at = items.len().checked_sub(*back);
            match at.and_then(|i| items.get_mut(i)) {
                Some(next) => parse_in_place(next, rest),
                None => Ok(()),
            }
        }
        (Segment::Each, Value::Array(items)) => items
            .iter_mut()
            .try_for_each(|next| parse_in_place(next, rest)),
        (Segment::Each, single @ Value::Object(_)) => parse_in_place(single, rest),
        _ => Ok(()),
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
pub fn split<'a>(root: &'a Value, segments: &[Segment]) -> Option<Vec<Item<'a>>> {
    let mut out = Vec::new();
    let found = expand(root, segments, None, None, root, false, &mut out);
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
        (Segment::FromEnd(back), Value::Array(elements)) => {
            match elements
                .len()
                .checked_sub(*back)
                .and_then(|i| elements.get(i))
            {
                Some(next) => expand(next, rest, element, parent, root, each_seen, out),
                None => false,
            }
        }
        (Segment::Each, Value::Array(elements)) => {
            let mut found = elements.is_empty();
            for next in elements {
                found |= expand(next, rest, Some(next), element, root, true, out);
            }
            found
        }
        // A single value where a batch is expected is a batch of one (an
        // object, or a form key sent once instead of repeatedly).
        (Segment::Each, Value::Object(_) | Value::String(_) | Value::Number(_)) => {
            expand(value, rest, Some(value), element, root, true, out)
        }
        _ => false,
    }
}
