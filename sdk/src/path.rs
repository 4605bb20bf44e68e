//! Dot/array paths into JSON values: `a.b`, `a[0].b`, `a[-1]` (the last
//! element; `[-2]` the one before it), `a[]` (every element), `a[].b` (a
//! field of every element), `"quoted.key"` segments for keys that contain
//! dots. The notation of seed 004 ("key.child", "key[ ]"), used by the
//! `fieldmap` mapper and handy in hand-written mappers.
//!
//! ```
//! use wasmhook_sdk::{json, path};
//!
//! let body = json!({"results": [{"id": "a", "to": ["+1", "+2"]}, {"id": "b"}], "x.y": 1});
//! assert_eq!(path::get_str(&body, "results[0].to[-1]").as_deref(), Some("+2"));
//! assert_eq!(path::get_str(&body, "results[-1].id").as_deref(), Some("b"));
//! assert_eq!(path::get_str(&body, r#""x.y""#).as_deref(), Some("1"));
//! let ids = path::Path::parse("results[].id").unwrap().select(&body);
//! assert_eq!(ids, [&json!("a"), &json!("b")]);
//! ```

use serde_json::Value;

/// One step of a path.
///
/// ```
/// use wasmhook_sdk::path::{Path, Segment::*};
///
/// let path = Path::parse(r#"results[0]."x.y"[-1][]"#).unwrap();
/// let expected = [Key("results".into()), Index(0), Key("x.y".into()), FromEnd(1), Each];
/// assert_eq!(path.segments(), &expected);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
    /// An array index counted from the end: `[-1]` is `FromEnd(1)`, the
    /// last element (vendors append, so the newest entry is often last).
    FromEnd(usize),
    /// Every element of an array.
    Each,
}

/// A parsed path: parse once, select from many values.
///
/// ```
/// use wasmhook_sdk::{json, path::Path};
///
/// let status = Path::parse("events[-1].status").unwrap();
/// let body = json!({"events": [{"status": "sent"}, {"status": "delivered"}]});
/// assert_eq!(status.first(&body), Some(&json!("delivered")));
/// assert_eq!(status.first(&json!({"events": []})), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    segments: Vec<Segment>,
    text: String,
}

impl Path {
    /// Parses `text` (a leading `$` or `$.` is the root, as in JSONPath);
    /// the error says where the syntax broke.
    ///
    /// ```
    /// use wasmhook_sdk::path::{Path, Segment};
    ///
    /// let path = Path::parse("$.data[0]").unwrap();
    /// assert_eq!(path.segments(), &[Segment::Key("data".into()), Segment::Index(0)]);
    /// let error = Path::parse("data[x]").unwrap_err();
    /// assert_eq!(error, "path `data[x]`: `[x]` is not an index");
    /// ```
    pub fn parse(text: &str) -> Result<Path, String> {
        let mut segments = Vec::new();
        let mut rest = text.trim();
        // `$` or `$.` at the start refer to the root, as in JSONPath.
        rest = rest.strip_prefix('$').unwrap_or(rest);
        rest = rest.strip_prefix('.').unwrap_or(rest);
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let close = after
                    .find(']')
                    .ok_or_else(|| format!("path `{text}`: `[` without `]`"))?;
                let inside = after[..close].trim();
                if inside.is_empty() || inside == "*" {
                    segments.push(Segment::Each);
                } else if let Some(back) = inside.strip_prefix('-') {
                    match back.trim().parse() {
                        Ok(0) => {
                            return Err(format!(
                                "path `{text}`: `[{inside}]`: counting from the end starts at `[-1]`"
                            ));
                        }
                        Ok(back) => segments.push(Segment::FromEnd(back)),
                        Err(_) => {
                            return Err(format!("path `{text}`: `[{inside}]` is not an index"));
                        }
                    }
                } else {
                    let index = inside
                        .parse()
                        .map_err(|_| format!("path `{text}`: `[{inside}]` is not an index"))?;
                    segments.push(Segment::Index(index));
                }
                rest = &after[close + 1..];
            } else if let Some(after) = rest.strip_prefix('"') {
                let close = after
                    .find('"')
                    .ok_or_else(|| format!("path `{text}`: unterminated quoted key"))?;
                segments.push(Segment::Key(after[..close].to_string()));
                rest = &after[close + 1..];
            } else {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("path `{text}`: empty key"));
                }
                segments.push(Segment::Key(rest[..end].to_string()));
                rest = &rest[end..];
            }
            if let Some(after) = rest.strip_prefix('.') {
                if after.is_empty() {
                    return Err(format!("path `{text}`: ends with `.`"));
                }
                rest = after;
            } else if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!(
                    "path `{text}`: expected `.` or `[` before `{rest}`"
                ));
            }
        }
        Ok(Path {
            segments,
            text: text.to_string(),
        })
    }

    /// The path as written.
    ///
    /// ```
    /// use wasmhook_sdk::path::Path;
    ///
    /// let path = Path::parse("$.data.id").unwrap();
    /// assert_eq!(path.as_str(), "$.data.id");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments.
    ///
    /// ```
    /// use wasmhook_sdk::path::{Path, Segment};
    ///
    /// let path = Path::parse("to[-1]").unwrap();
    /// assert_eq!(path.segments(), &[Segment::Key("to".into()), Segment::FromEnd(1)]);
    /// ```
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the path has an `[]` step (selects many values).
    ///
    /// ```
    /// use wasmhook_sdk::path::Path;
    ///
    /// assert!(Path::parse("results[].status").unwrap().is_multi());
    /// assert!(!Path::parse("results[0].status").unwrap().is_multi());
    /// ```
    pub fn is_multi(&self) -> bool {
        self.segments.contains(&Segment::Each)
    }

    /// The path up to and including its first `[]`, and the rest after it:
    /// `results[].status` → (`results[]`, `status`). Used to split a batch
    /// into items and read fields relative to each item. `None` when the
    /// path has no `[]`.
    ///
    /// ```
    /// use wasmhook_sdk::{json, path::Path};
    ///
    /// let (items, field) = Path::parse("results[].status").unwrap().split_at_each().unwrap();
    /// let body = json!({"results": [{"status": "sent"}, {"status": "failed"}]});
    /// let statuses: Vec<_> = items.select(&body).iter().filter_map(|i| field.first(i)).collect();
    /// assert_eq!(statuses, [&json!("sent"), &json!("failed")]);
    /// assert_eq!(Path::parse("results[0]").unwrap().split_at_each(), None);
    /// ```
    pub fn split_at_each(&self) -> Option<(Path, Path)> {
        let at = self.segments.iter().position(|s| *s == Segment::Each)?;
        let head = Path {
            segments: self.segments[..=at].to_vec(),
            text: self.text.clone(),
        };
        let tail = Path {
            segments: self.segments[at + 1..].to_vec(),
            text: self.text.clone(),
        };
        Some((head, tail))
    }

    /// Every value the path selects (none when a step is missing). `[]` on
    /// an object selects the object itself, as a one-item batch.
    ///
    /// ```
    /// use wasmhook_sdk::{json, path::Path};
    ///
    /// let body = json!({"to": ["+1", "+2"], "cc": null, "r": {"id": 1}});
    /// assert_eq!(Path::parse("to[]").unwrap().select(&body), [&json!("+1"), &json!("+2")]);
    /// assert_eq!(Path::parse("cc").unwrap().select(&body), [&json!(null)]);
    /// assert_eq!(Path::parse("r[].id").unwrap().select(&body), [&json!(1)]);
    /// assert_eq!(Path::parse("bcc").unwrap().select(&body).len(), 0);
    /// ```
    pub fn select<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                match (segment, value) {
                    (Segment::Key(key), Value::Object(map)) => next.extend(map.get(key)),
                    (Segment::Index(i), Value::Array(items)) => next.extend(items.get(*i)),
                    (Segment::FromEnd(back), Value::Array(items)) => {
                        next.extend(items.len().checked_sub(*back).and_then(|i| items.get(i)));
                    }
                    (Segment::Each, Value::Array(items)) => next.extend(items.iter()),
                    // `a[]` on a single object treats it as a one-element batch.
                    (Segment::Each, Value::Object(_)) => next.push(value),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    /// The first selected value that is not null.
    ///
    /// ```
    /// use wasmhook_sdk::{json, path::Path};
    ///
    /// let body = json!({"attempts": [{"error": null}, {"error": "timeout"}]});
    /// let error = Path::parse("attempts[].error").unwrap();
    /// assert_eq!(error.first(&body), Some(&json!("timeout")));
    /// assert_eq!(Path::parse("attempts[0].error").unwrap().first(&body), None);
    /// ```
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.select(root).into_iter().find(|v| !v.is_null())
    }
}

/// The first non-null value at `path` in `root`; `None` if the path does not
/// parse or selects nothing.
///
/// ```
/// use wasmhook_sdk::{json, path};
///
/// let body = json!({"data": {"id": 7, "note": null}});
/// assert_eq!(path::get(&body, "data.id"), Some(&json!(7)));
/// assert_eq!(path::get(&body, "data.note"), None);
/// assert_eq!(path::get(&body, "data["), None);
/// ```
pub fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    Path::parse(path).ok()?.first(root)
}

/// The value at `path` as text: strings as they are, numbers and booleans
/// printed; empty strings are `None`.
///
/// ```
/// use wasmhook_sdk::{json, path};
///
/// let body = json!({"id": 42, "ok": true, "to": "+1", "memo": ""});
/// assert_eq!(path::get_str(&body, "id").as_deref(), Some("42"));
/// assert_eq!(path::get_str(&body, "ok").as_deref(), Some("true"));
/// assert_eq!(path::get_str(&body, "to").as_deref(), Some("+1"));
/// assert_eq!(path::get_str(&body, "memo"), None);
/// ```
pub fn get_str(root: &Value, path: &str) -> Option<String> {
    get(root, path).and_then(value_to_string)
}

/// A scalar as text (strings trimmed of nothing, numbers printed); empty
/// strings, objects and arrays are `None`.
///
/// ```
/// use wasmhook_sdk::{json, path::value_to_string};
///
/// assert_eq!(value_to_string(&json!(" a ")).as_deref(), Some(" a "));
/// assert_eq!(value_to_string(&json!(1.5)).as_deref(), Some("1.5"));
/// assert_eq!(value_to_string(&json!([1])), None);
/// ```
pub fn value_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dots_indexes_and_each() {
        let v = json!({"a": {"b": [ {"c": 1}, {"c": 2} ]}, "x.y": "dotted"});
        let each = Path::parse("a.b[].c").unwrap();
        assert_eq!(each.select(&v), vec![&json!(1), &json!(2)]);
        assert_eq!(get(&v, "a.b[1].c"), Some(&json!(2)));
        assert_eq!(get(&v, "\"x.y\""), Some(&json!("dotted")));
        assert_eq!(get(&v, "$.a.b[0].c"), Some(&json!(1)));
        assert_eq!(get(&v, "a.missing"), None);
        assert_eq!(get_str(&v, "a.b[0].c").as_deref(), Some("1"));
    }

    #[test]
    fn negative_indexes_count_from_the_end() {
        let v = json!({"to": ["+1", "+2", "+3"], "one": ["x"]});
        assert_eq!(
            Path::parse("to[-1]").unwrap().segments(),
            &[Segment::Key("to".into()), Segment::FromEnd(1)]
        );
        assert_eq!(get(&v, "to[-1]"), Some(&json!("+3")));
        assert_eq!(get(&v, "to[-3]"), Some(&json!("+1")));
        assert_eq!(get(&v, "to[-4]"), None);
        assert_eq!(get(&v, "one[-1]"), Some(&json!("x")));
        assert_eq!(get(&json!({"to": []}), "to[-1]"), None);
    }

    #[test]
    fn split_batch_from_field() {
        let (items, field) = Path::parse("results[].status.name")
            .unwrap()
            .split_at_each()
            .unwrap();
        assert_eq!(
            items.segments(),
            &[Segment::Key("results".into()), Segment::Each]
        );
        assert_eq!(
            field.segments(),
            &[Segment::Key("status".into()), Segment::Key("name".into())]
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        assert!(Path::parse("a[").unwrap_err().contains("without `]`"));
        assert!(Path::parse("a[x]").unwrap_err().contains("not an index"));
        assert!(Path::parse("a[-x]").unwrap_err().contains("not an index"));
        assert!(
            Path::parse("a[-0]")
                .unwrap_err()
                .contains("starts at `[-1]`")
        );
        assert!(Path::parse("a.").unwrap_err().contains("ends with"));
        assert!(Path::parse("a..b").unwrap_err().contains("empty key"));
    }
}
