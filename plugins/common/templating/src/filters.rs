//! The webhook filters added to minijinja's built-ins.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use minijinja::{Environment, Error, ErrorKind, Value};

use crate::{plain_text, url_encode, xml_escape};
use wasmhook_sdk::time::parse_offset;

/// Adds `datetime`, `default`, `xml_escape`, `urlencode` and `json` (an
/// alias of `tojson`).
pub(crate) fn register(env: &mut Environment<'_>) {
    env.add_filter("datetime", datetime);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("xml_escape", |value: Value| {
        Value::from_safe_string(xml_escape(&text_of(&value)))
    });
    env.add_filter("urlencode", |value: Value| {
        Value::from_safe_string(url_encode(&text_of(&value)))
    });
    env.add_filter("json", minijinja::filters::tojson);
}

/// The value's text; undefined and `null` are empty.
fn text_of(value: &Value) -> String {
    if value.is_undefined() || value.is_none() {
        String::new()
    } else {
        plain_text(value)
    }
}

/// `value | default(other)`: `other` (or `""`) when `value` is undefined,
/// `null` or an empty string — webhook data has nulls where Jinja would
/// have undefined.
fn default(value: Value, other: Option<Value>) -> Value {
    let missing = value.is_undefined() || value.is_none() || value.as_str() == Some("");
    if missing {
        other.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// `value | datetime(format?, offset?)`: an epoch (s, ms, µs by magnitude)
/// or ISO-8601 timestamp as text in `offset` (UTC by default), with a
/// chrono `strftime` format or RFC 3339 with milliseconds.
fn datetime(value: Value, format: Option<String>, offset: Option<String>) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        return Ok(Value::from(()));
    }
    let json = serde_json::to_value(&value).unwrap_or(serde_json::Value::Null);
    let millis = wasmhook_sdk::time::timestamp_ms(&json).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("datetime: `{}` is not a timestamp", plain_text(&value)),
        )
    })?;
    let utc = DateTime::<Utc>::from_timestamp_millis(millis).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("datetime: {millis} is out of range"),
        )
    })?;
    let zone = match offset.as_deref() {
        None => FixedOffset::east_opt(0).expect("zero offset"),
        Some(text) => parse_offset(text).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("datetime: offset `{text}` is not like +05:30, -0300 or UTC"),
            )
        })?,
    };
    let local = utc.with_timezone(&zone);
    let Some(format) = format else {
        return Ok(Value::from(
            local.to_rfc3339_opts(SecondsFormat::Millis, true),
        ));
    };
    let items: Vec<Item<'_>> = StrftimeItems::new(&format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("datetime: `{format}` is not a valid strftime format"),
        ));
    }
    let mut text = String::new();
    std::fmt::write(
        &mut text,
        format_args!("{}", local.format_with_items(items.into_iter())),
    )
    .map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("datetime: cannot format with `{format}`"),
        )
    })?;
    Ok(Value::from(text))
}
