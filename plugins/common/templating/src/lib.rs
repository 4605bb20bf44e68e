//! The one template engine of the first-party renderers (`json-renderer`,
//! `xml-renderer`, `text-renderer`, `form-renderer`) and the `http-block`:
//! [minijinja](https://docs.rs/minijinja) compiled into the guest, with the
//! conventions webhook UIs expect.
//!
//! # Syntax
//!
//! - Jinja: `{{ status.status }}`, `{% if status.error_code %}…{% endif %}`,
//!   `{% for item in items %}…{% endfor %}`, filters `{{ x | upper }}`.
//! - Seed 001's variables: `${email}`, `${contact.email}`, `${a.b[0].c}`,
//!   `${err-code}` (any key: segments that are not identifiers are looked up
//!   by name), and Velocity's quiet form `$!{email}`. Each `${…}` becomes
//!   `{{ … }}` before compiling; anything that is not a plain path is passed
//!   through as a Jinja expression (`${ email | upper }`). Write `$${` for a
//!   literal `${`. A bare `$name` without braces is plain text.
//!
//! # Values
//!
//! `null` and undefined variables print as nothing, booleans as
//! `true`/`false`, objects and arrays as compact JSON. Undefined variables
//! are lenient by default (empty, and `a.b.c` under a missing `a` is empty
//! too); with [`Options::strict`] they are an error naming the variable
//! (`template line 1: `contact.emial` is undefined`).
//!
//! # Escaping
//!
//! Each output format escapes what `{{ … }}` prints ([`Escape`]): XML
//! escapes `< > & " '`, JSON escapes for use inside a JSON string (numbers,
//! booleans, objects and arrays print as JSON), form and URL percent-encode.
//! `| safe` (and the output of `tojson`, `xml_escape`, `urlencode`) is
//! written as is.
//!
//! # Filters
//!
//! Besides minijinja's built-ins (`upper`, `lower`, `replace`, `trim`,
//! `join`, `length`, …): `tojson`/`json`, `urlencode`, `xml_escape`,
//! `default(x)` (also replaces `null` and `""`, not only undefined), and
//! `datetime(format?, offset?)`: a timestamp (epoch s/ms, ISO-8601) as text,
//! `{{ status.timestamp | datetime("%Y-%m-%d %H:%M:%S") }}`, in UTC or the
//! given offset (`"+05:30"`); without a format it is RFC 3339 with
//! milliseconds.
//!
//! # Errors
//!
//! Every template problem is [`PluginError::invalid_config`] with the line:
//! `template line 3: unknown filter `foo``. Callers prefix where the template
//! came from (`config.fields.txid: template line 1: …`).

mod check;
mod dollar;
mod fields;
mod filters;
mod renderer;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JinjaValue, value::Serde};
use serde_json::Value;
use wasmhook_sdk::PluginError;

pub use check::{check_form, check_json, check_xml};
pub use dollar::translate;
pub use fields::{FieldValue, Fields, RenderConfig, render_fields, text};
pub use renderer::{Prepared, example_event, prepare, seed_002_config};

/// How `{{ … }}` output is escaped for the body format it lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escape {
    /// Written as is (text bodies, header values).
    #[default]
    None,
    /// XML text and attribute values: `&amp; &lt; &gt; &quot; &apos;`.
    Xml,
    /// JSON: strings escaped for use inside quotes, other values as JSON.
    Json,
    /// `application/x-www-form-urlencoded` values (space as `+`).
    Form,
    /// A URL component (percent-encoding, space as `%20`).
    Url,
}

impl Escape {
    /// `text` escaped for this format.
    pub fn apply(self, text: &str) -> String {
        match self {
            Escape::None => text.to_string(),
            Escape::Xml => xml_escape(text),
            Escape::Json => {
                let quoted = Value::String(text.to_string()).to_string();
                quoted[1..quoted.len() - 1].to_string()
            }
            Escape::Form => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
            Escape::Url => url_encode(text),
        }
    }
}

/// How to render.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Undefined variables are an error naming them (default: empty).
    pub strict: bool,
    /// How printed values are escaped.
    pub escape: Escape,
}

impl Options {
    /// Lenient options with `escape`.
    pub fn escaped(escape: Escape) -> Options {
        Options {
            strict: false,
            escape,
        }
    }
}

/// Escapes `& < > " '` for XML text and attributes, and replaces the
/// characters XML 1.0 cannot hold even escaped (control characters other
/// than tab and line breaks) with U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~` (RFC 3986
/// unreserved), like JavaScript's `encodeURIComponent`.
pub fn url_encode(text: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Renders `template` (Jinja and/or `${var}` syntax) against `data`.
pub fn render(template: &str, data: &Value, options: &Options) -> Result<String, PluginError> {
    let source = translate(template)?;
    let context = context(data);
    let env = environment(options, &context);
    let compiled = env
        .template_from_str(&source)
        .map_err(|e| describe(e, &source, data))?;
    compiled
        .render(context)
        .map_err(|e| describe(e, &source, data))
}

/// Evaluates a template to a JSON value: a template that is one expression
/// (`{{ status.timestamp }}`, `${email}`) gives that expression's value with
/// its JSON type (numbers stay numbers, `null` stays `null`, objects stay
/// objects; undefined is `null`); any other template renders to a string.
pub fn eval(template: &str, data: &Value, options: &Options) -> Result<Value, PluginError> {
    let source = translate(template)?;
    let Some(expression) = single_expression(&source) else {
        return render(template, data, options).map(Value::String);
    };
    let context = context(data);
    let env = environment(options, &context);
    let compiled = env
        .compile_expression(expression)
        .map_err(|e| describe(e, &source, data))?;
    let value = compiled
        .eval(context)
        .map_err(|e| describe(e, &source, data))?;
    if value.is_undefined() {
        if options.strict {
            let line = source[..source.find("{{").unwrap_or(0)]
                .matches('\n')
                .count()
                + 1;
            return Err(undefined_error(&source, data, Some(line)));
        }
        return Ok(Value::Null);
    }
    serde_json::to_value(&value).map_err(|e| {
        PluginError::invalid_config(format!("template value cannot be represented as JSON: {e}"))
    })
}

/// The inside of `{{ expr }}` when that is all the template holds.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    Some(inner.trim())
}

/// The template context: `data` itself when it is an object, otherwise
/// `{"data": data}` so that scalars and arrays can still be reached.
fn context(data: &Value) -> JinjaValue {
    match data {
        Value::Object(_) => JinjaValue::from(Serde(data)),
        other => JinjaValue::from(Serde(serde_json::json!({ "data": other }))),
    }
}

/// The name the whole context is reachable under, for `${…}` paths whose
/// first key is not an identifier (`${err-code}` → `__root__["err-code"]`).
pub(crate) const ROOT: &str = "__root__";

fn environment(options: &Options, context: &JinjaValue) -> Environment<'static> {
    let mut env = Environment::new();
    env.add_global(ROOT, context.clone());
    env.set_undefined_behavior(if options.strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Chainable
    });
    filters::register(&mut env);
    let escape = options.escape;
    let strict = options.strict;
    env.set_formatter(move |out, _state, value| {
        if value.is_undefined() {
            if strict {
                return Err(minijinja::Error::from(ErrorKind::UndefinedError));
            }
            return Ok(());
        }
        if value.is_none() {
            return Ok(());
        }
        let text = if value.is_safe() {
            value.as_str().unwrap_or_default().to_string()
        } else {
            escape.apply(&plain_text(value))
        };
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    env
}

/// A value as webhook text: strings as they are, `true`/`false`, numbers
/// as written, objects and arrays as compact JSON.
pub(crate) fn plain_text(value: &JinjaValue) -> String {
    if let Some(text) = value.as_str() {
        return text.to_string();
    }
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(Value::Null) => String::new(),
        Ok(other) => other.to_string(),
        Err(_) => value.to_string(),
    }
}

/// A minijinja error as an operator-facing config error with its line.
fn describe(error: minijinja::Error, source: &str, data: &Value) -> PluginError {
    let line = error.line();
    let message = match error.kind() {
        ErrorKind::UndefinedError => return undefined_error(source, data, line),
        ErrorKind::UnknownFilter | ErrorKind::UnknownFunction | ErrorKind::UnknownTest => {
            let what = match error.kind() {
                ErrorKind::UnknownFilter => "filter",
                ErrorKind::UnknownFunction => "function",
                _ => "test",
            };
            // minijinja says "filter foo is unknown"; name it the usual way.
            let name = error
                .detail()
                .and_then(|d| d.split_whitespace().nth(1))
                .unwrap_or("?");
            format!("unknown {what} `{name}`")
        }
        kind => match error.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    PluginError::invalid_config(at_line(line, &message))
}

fn at_line(line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("template line {line}: {message}"),
        None => format!("template: {message}"),
    }
}

/// Names the first variable the template uses that `data` does not have.
fn undefined_error(source: &str, data: &Value, line: Option<usize>) -> PluginError {
    let env = Environment::new();
    let mut names: Vec<String> = env
        .template_from_str(source)
        .map(|t| t.undeclared_variables(true).into_iter().collect())
        .unwrap_or_default();
    names.sort();
    let missing = names.into_iter().find(|name| !resolves(data, name));
    let message = match missing {
        Some(name) => format!("`{}` is undefined", name.replace(&format!("{ROOT}."), "")),
        None => "a variable is undefined".to_string(),
    };
    PluginError::invalid_config(at_line(line, &message))
}

/// Whether a dotted name (`contact.email`) exists in `data`.
fn resolves(data: &Value, name: &str) -> bool {
    let mut current = data;
    for (i, key) in name.split('.').enumerate() {
        if i == 0 && key == ROOT {
            continue;
        }
        match current {
            Value::Object(map) => match map.get(key) {
                Some(next) => current = next,
                None => return false,
            },
            // Attribute access on arrays, strings or null is not a missing
            // variable of the data; minijinja reports those on its own.
            _ => return true,
        }
    }
    true
}

#[cfg(test)]
mod tests;
