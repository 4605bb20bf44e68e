//! The template language of an endpoint's header and query values: plain
//! variable substitution from the event, a subset of the renderer plugins'
//! dialect (`plugins/common/templating`) that needs no template engine in
//! the host and no plugin call per header.
//!
//! # What it supports
//!
//! - `${path}`, its quiet form `$!{path}`, and `{{ path }}` (spaces inside
//!   the braces are ignored), where `path` is a plain path into the event in
//!   the notation of [`wasmhook_sdk::path`]: `channel_value`,
//!   `status.status`, `reference.vendor_message_id`, `items[0].id`,
//!   `"key.with.dots"`. The event is the root, as in a renderer template.
//! - `$${` for a literal `${`.
//!
//! A missing or `null` value fills in empty, text as it is, numbers and
//! booleans as written, objects and arrays as compact JSON — what the
//! renderers print for the same path with no escaping.
//!
//! # What it does not
//!
//! No filters (`{{ x | upper }}`), expressions or Jinja tags (`{% if %}`):
//! what is between the braces is only ever a path, and one that does not
//! parse (or selects nothing) fills in empty; `{% … %}` is plain text. An
//! opening `${` or `{{` without its closing brace leaves the rest of the
//! value as written. Values are not escaped: the query string is
//! percent-encoded when the URL is built, and a header value that is not
//! valid in HTTP fails the attempt (see [`request`](super::request)).

use serde_json::Value;

/// Whether `template` holds anything [`render_field_template`] replaces.
pub fn has_variables(template: &str) -> bool {
    template.contains("${") || template.contains("$!{") || template.contains("{{")
}

/// `template` with its variables replaced by their values in `event` (the
/// language is this module's).
pub fn render_field_template(template: &str, event: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['$', '{']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
            continue;
        }
        let (open, close) = if tail.starts_with("${") {
            (2, "}")
        } else if tail.starts_with("$!{") {
            (3, "}")
        } else if tail.starts_with("{{") {
            (2, "}}")
        } else {
            // A lone `$` or `{` (both one byte) is text.
            out.push_str(&tail[..1]);
            rest = &tail[1..];
            continue;
        };
        let Some(end) = tail[open..].find(close) else {
            out.push_str(tail);
            return out;
        };
        push_value(&mut out, event, tail[open..open + end].trim());
        rest = &tail[open + end + close.len()..];
    }
    out.push_str(rest);
    out
}

/// Appends the value at `path` in `event` as text.
fn push_value(out: &mut String, event: &Value, path: &str) {
    match wasmhook_sdk::path::get(event, path) {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => out.push_str(text),
        Some(other) => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str) -> String {
        let event = json!({
            "channel_value": "+1555",
            "status": {"status": "read", "code": 7, "ok": true},
            "items": [{"id": "a"}],
            "key.with.dots": "dotted",
            "nothing": null,
        });
        render_field_template(template, &event)
    }

    #[test]
    fn variables_are_filled_from_the_event() {
        assert_eq!(render("to=${channel_value}"), "to=+1555");
        assert_eq!(render("{{ status.status }}/{{status.code}}"), "read/7");
        assert_eq!(render("$!{ items[0].id }"), "a");
        assert_eq!(render("${\"key.with.dots\"}"), "dotted");
        assert_eq!(
            render("{{ status.ok }} {{ items }}"),
            r#"true [{"id":"a"}]"#
        );
    }

    #[test]
    fn missing_values_are_empty_and_the_rest_is_text() {
        assert_eq!(render("x${missing}y{{ nothing }}z"), "xyz");
        assert_eq!(render("plain ${unclosed"), "plain ${unclosed");
        assert_eq!(render("a {{ open"), "a {{ open");
        assert_eq!(render("$5 {x} {% if a %}"), "$5 {x} {% if a %}");
        assert_eq!(render("$${channel_value}"), "${channel_value}");
    }

    #[test]
    fn what_is_not_a_path_is_not_evaluated() {
        assert_eq!(render("[{{ channel_value | upper }}]"), "[]");
    }

    #[test]
    fn only_templates_with_variables_need_the_event() {
        assert!(has_variables("a ${b}"));
        assert!(has_variables("a $!{b}"));
        assert!(has_variables("{{ b }}"));
        assert!(!has_variables("Bearer abc {x} $5"));
    }
}
