//! Seed 001's `${name}` variables, turned into Jinja before compiling.

use std::borrow::Cow;

use wasmhook_sdk::PluginError;

use crate::ROOT;

/// Rewrites `${path}` / `$!{path}` into `{{ … }}` and `$${` into a literal
/// `${`; other text is untouched (line numbers stay the same). A plain path
/// (`a.b[0].c`, `err-code`) becomes an accessor expression; anything else
/// inside the braces is passed through as a Jinja expression.
pub fn translate(template: &str) -> Result<Cow<'_, str>, PluginError> {
    if !template.contains("${") && !template.contains("$!{") {
        return Ok(Cow::Borrowed(template));
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            // Escaped: a literal `${` (plain text to Jinja, which only
            // reads `{{`, `{%` and `{#`).
            out.push_str("${");
            rest = after;
            continue;
        }
        let open = if tail.starts_with("${") {
            2
        } else if tail.starts_with("$!{") {
            3
        } else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let Some(close) = tail[open..].find('}') else {
            let line = template[..template.len() - tail.len()]
                .matches('\n')
                .count()
                + 1;
            return Err(PluginError::invalid_config(format!(
                "template line {line}: `{}` without a closing `}}`",
                &tail[..open]
            )));
        };
        let inner = tail[open..open + close].trim();
        out.push_str("{{ ");
        out.push_str(&path_expression(inner).unwrap_or_else(|| inner.to_string()));
        out.push_str(" }}");
        rest = &tail[open + close + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

/// `a.b[0].c` → `a.b[0].c`; `err-code` → `__root__["err-code"]`;
/// `a.x-y` → `a["x-y"]`. `None` when `path` is not a plain path.
fn path_expression(path: &str) -> Option<String> {
    if path.is_empty()
        || path.contains([
            '|', '(', ')', ' ', '\'', '"', '{', '}', '+', '~', '=', '<', '>',
        ])
    {
        return None;
    }
    let mut expression = String::new();
    for (i, segment) in path.split('.').enumerate() {
        let (key, indexes) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        if key.is_empty() || !indexes_ok(indexes) {
            return None;
        }
        if is_identifier(key) {
            if i > 0 {
                expression.push('.');
            }
            expression.push_str(key);
        } else {
            if i == 0 {
                expression.push_str(ROOT);
            }
            expression.push_str(&format!("[{}]", serde_json::Value::String(key.to_string())));
        }
        expression.push_str(indexes);
    }
    Some(expression)
}

/// `[0][12]` (or nothing).
fn indexes_ok(indexes: &str) -> bool {
    let mut rest = indexes;
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return false;
        };
        let Some(close) = inner.find(']') else {
            return false;
        };
        if close == 0 || !inner[..close].bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        rest = &inner[close + 1..];
    }
    true
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_accessors() {
        assert_eq!(translate("${email}").unwrap(), "{{ email }}");
        assert_eq!(translate("x=${a.b[0].c}&y").unwrap(), "x={{ a.b[0].c }}&y");
        assert_eq!(
            translate("${err-code}").unwrap(),
            "{{ __root__[\"err-code\"] }}"
        );
        assert_eq!(
            translate("${contact.first-name}").unwrap(),
            "{{ contact[\"first-name\"] }}"
        );
        assert_eq!(translate("$!{email}").unwrap(), "{{ email }}");
        assert_eq!(
            translate("${ email | upper }").unwrap(),
            "{{ email | upper }}"
        );
    }

    #[test]
    fn escapes_and_plain_dollars() {
        assert_eq!(translate("$${email}").unwrap(), "${email}");
        assert_eq!(translate("cost $5").unwrap(), "cost $5");
        assert_eq!(translate("no vars").unwrap(), "no vars");
    }

    #[test]
    fn unclosed_names_the_line() {
        let error = translate("a\nb ${email").unwrap_err();
        assert_eq!(error.message, "template line 2: `${` without a closing `}`");
    }
}
