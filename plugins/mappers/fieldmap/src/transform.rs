//! Reshaping a field's value without code: text `transform` steps (strip a
//! `:0` suffix, take a part of a split, lower case…) and value maps
//! (`{"image": "media", "*": "text"}`) for any field.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::scalar_text;

/// One text operation. Non-text values (numbers, booleans) are read as
/// their JSON text first; objects and arrays are left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// `"lowercase"`.
    Lowercase,
    /// `"uppercase"`.
    Uppercase,
    /// `"trim"`: surrounding whitespace.
    Trim,
    /// `{"strip_prefix": "tel:"}`: removed when present.
    StripPrefix(String),
    /// `{"strip_suffix": ":0"}`: removed when present.
    StripSuffix(String),
    /// `{"split": ":", "index": 0}`: one part; a negative index counts
    /// from the end; an index past the parts leaves nothing.
    Split {
        /// The separator.
        separator: String,
        /// Which part (`-1` is the last).
        index: i64,
    },
    /// `{"replace": " ", "with": ""}`: every occurrence.
    Replace {
        /// What to replace.
        from: String,
        /// What to put instead.
        to: String,
    },
    /// `{"prepend": "+"}`.
    Prepend(String),
    /// `{"append": "@example.com"}`.
    Append(String),
}

const NAMES: &str =
    "lowercase, uppercase, trim, strip_prefix, strip_suffix, split, replace, prepend, append";

impl Transform {
    /// One step or a list of steps; an error starts with the place inside
    /// (`[1]: …` or `: …`) so callers can prefix the key.
    pub fn list(value: &Value) -> Result<Vec<Transform>, String> {
        match value {
            Value::Array(steps) => steps
                .iter()
                .enumerate()
                .map(|(i, step)| Transform::from_value(step).map_err(|e| format!("[{i}]: {e}")))
                .collect(),
            step => Ok(vec![
                Transform::from_value(step).map_err(|e| format!(": {e}"))?,
            ]),
        }
    }

    fn from_value(value: &Value) -> Result<Transform, String> {
        let text = |key: &str, value: &Value| {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}` expects text, got {value}"))
        };
        match value {
            Value::String(name) => match name.as_str() {
                "lowercase" => Ok(Transform::Lowercase),
                "uppercase" => Ok(Transform::Uppercase),
                "trim" => Ok(Transform::Trim),
                "strip_prefix" | "strip_suffix" | "split" | "replace" | "prepend" | "append" => {
                    Err(format!("`{name}` needs an argument: {{\"{name}\": …}}"))
                }
                other => Err(format!("unknown transform `{other}` (known: {NAMES})")),
            },
            Value::Object(object) => {
                let Some((name, argument)) = object
                    .iter()
                    .find(|(k, _)| !matches!(k.as_str(), "index" | "with"))
                else {
                    return Err(format!("expected one of {NAMES}"));
                };
                let allowed: &[&str] = match name.as_str() {
                    "split" => &["split", "index"],
                    "replace" => &["replace", "with"],
                    _ => &[name.as_str()],
                };
                if let Some(extra) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
                    return Err(format!("`{name}`: unexpected key `{extra}`"));
                }
                match name.as_str() {
                    "strip_prefix" => Ok(Transform::StripPrefix(text(name, argument)?)),
                    "strip_suffix" => Ok(Transform::StripSuffix(text(name, argument)?)),
                    "prepend" => Ok(Transform::Prepend(text(name, argument)?)),
                    "append" => Ok(Transform::Append(text(name, argument)?)),
                    "split" => {
                        let separator = text(name, argument)?;
                        if separator.is_empty() {
                            return Err("`split`: the separator must not be empty".to_string());
                        }
                        let index = match object.get("index") {
                            None => 0,
                            Some(index) => index.as_i64().ok_or_else(|| {
                                format!("`split`: `index` must be a whole number, got {index}")
                            })?,
                        };
                        Ok(Transform::Split { separator, index })
                    }
                    "replace" => {
                        let from = text(name, argument)?;
                        if from.is_empty() {
                            return Err("`replace`: the text to replace must not be empty".into());
                        }
                        let to = match object.get("with") {
                            None => return Err("`replace`: `with` is missing".to_string()),
                            Some(with) => text("with", with)?,
                        };
                        Ok(Transform::Replace { from, to })
                    }
                    "lowercase" | "uppercase" | "trim" => {
                        Err(format!("`{name}` takes no argument: write \"{name}\""))
                    }
                    other => Err(format!("unknown transform `{other}` (known: {NAMES})")),
                }
            }
            other => Err(format!(
                "expected a transform name or {{name: argument}}, got {other}"
            )),
        }
    }

    /// The step applied to `text`; `None` when nothing is left (a split
    /// part that does not exist).
    pub fn apply(&self, text: &str) -> Option<String> {
        Some(match self {
            Transform::Lowercase => text.to_lowercase(),
            Transform::Uppercase => text.to_uppercase(),
            Transform::Trim => text.trim().to_string(),
            Transform::StripPrefix(prefix) => text
                .strip_prefix(prefix.as_str())
                .unwrap_or(text)
                .to_string(),
            Transform::StripSuffix(suffix) => text
                .strip_suffix(suffix.as_str())
                .unwrap_or(text)
                .to_string(),
            Transform::Split { separator, index } => {
                let parts: Vec<&str> = text.split(separator.as_str()).collect();
                let at = if *index < 0 {
                    parts
                        .len()
                        .checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
                } else {
                    usize::try_from(*index).ok()?
                };
                parts.get(at)?.to_string()
            }
            Transform::Replace { from, to } => text.replace(from.as_str(), to),
            Transform::Prepend(prefix) => format!("{prefix}{text}"),
            Transform::Append(suffix) => format!("{text}{suffix}"),
        })
    }
}

/// Applies `steps` to `value`; `None` when a step leaves nothing or the
/// result is empty (an empty value counts as absent, as everywhere).
pub fn apply_all(steps: &[Transform], value: Value) -> Option<Value> {
    if steps.is_empty() || value.is_object() || value.is_array() {
        return Some(value);
    }
    let mut text = scalar_text(&value);
    for step in steps {
        text = step.apply(&text)?;
    }
    (!text.trim().is_empty()).then_some(Value::String(text))
}

/// Vendor value → value for any field: keys match case-insensitively (and
/// trimmed), `"*"` catches the rest, a `null` target means "absent", and a
/// value with no entry and no `"*"` is kept as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueMap(BTreeMap<String, Value>);

impl ValueMap {
    /// Reads `{"vendor value": value, …}`.
    pub fn from_value(value: &Value) -> Result<ValueMap, String> {
        let Value::Object(entries) = value else {
            return Err(format!(
                "expected an object {{vendor value: value}}, got {value}"
            ));
        };
        let mut map = BTreeMap::new();
        for (key, target) in entries {
            if target.is_object() || target.is_array() {
                return Err(format!(
                    "\"{key}\": expected a text, number, boolean or null, got {target}"
                ));
            }
            map.insert(key.trim().to_lowercase(), target.clone());
        }
        Ok(ValueMap(map))
    }

    /// The mapped value; `None` when the map says `null`.
    pub fn apply(&self, value: Value) -> Option<Value> {
        let key = scalar_text(&value).trim().to_lowercase();
        match self.0.get(&key).or_else(|| self.0.get("*")) {
            Some(Value::Null) => None,
            Some(target) => Some(target.clone()),
            None => Some(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(value: Value) -> Vec<Transform> {
        Transform::list(&value).unwrap()
    }

    #[test]
    fn steps_apply_in_order() {
        let id = steps(json!([{"strip_suffix": ":0"}, "uppercase"]));
        assert_eq!(
            apply_all(&id, json!("58f86fab-85c5:0")),
            Some(json!("58F86FAB-85C5"))
        );
        let last = steps(json!({"split": "/", "index": -1}));
        assert_eq!(apply_all(&last, json!("a/b/c")), Some(json!("c")));
        assert_eq!(
            apply_all(&steps(json!({"split": "/", "index": 5})), json!("a/b")),
            None
        );
        assert_eq!(
            apply_all(&steps(json!({"split": "/", "index": -3})), json!("a/b")),
            None
        );
        let phone = steps(
            json!([{"strip_prefix": "tel:"}, {"replace": " ", "with": ""}, {"prepend": "+"}]),
        );
        assert_eq!(
            apply_all(&phone, json!("tel:44 7700 900")),
            Some(json!("+447700900"))
        );
        // Numbers are read as text; objects are left alone.
        assert_eq!(
            apply_all(&steps(json!({"append": "s"})), json!(5)),
            Some(json!("5s"))
        );
        assert_eq!(apply_all(&id, json!({"a": 1})), Some(json!({"a": 1})));
        // A step that leaves nothing makes the field absent.
        assert_eq!(
            apply_all(&steps(json!({"strip_prefix": "x"})), json!("x")),
            None
        );
    }

    #[test]
    fn transform_mistakes_are_named() {
        let error = |value: Value| Transform::list(&value).unwrap_err();
        assert!(error(json!("upper")).contains("unknown transform `upper`"));
        assert!(
            error(json!(["trim", {"strip_suffix": 1}]))
                .starts_with("[1]: `strip_suffix` expects text")
        );
        assert!(error(json!("split")).contains("needs an argument"));
        assert!(error(json!({"split": ":", "index": "x"})).contains("whole number"));
        assert!(error(json!({"replace": "a"})).contains("`with` is missing"));
        assert!(error(json!({"strip_prefix": "a", "with": "b"})).contains("unexpected key `with`"));
    }

    #[test]
    fn value_maps_match_loosely_and_keep_the_rest() {
        let map = ValueMap::from_value(&json!({"IMAGE": "media", "none": null})).unwrap();
        assert_eq!(map.apply(json!(" image ")), Some(json!("media")));
        assert_eq!(map.apply(json!("None")), None);
        assert_eq!(map.apply(json!("text")), Some(json!("text")));
        let with_default = ValueMap::from_value(&json!({"1": true, "*": false})).unwrap();
        assert_eq!(with_default.apply(json!(1)), Some(json!(true)));
        assert_eq!(with_default.apply(json!(7)), Some(json!(false)));
        assert!(
            ValueMap::from_value(&json!(["a"]))
                .unwrap_err()
                .contains("expected an object")
        );
    }
}
