//! `form-renderer`: renders `application/x-www-form-urlencoded` request
//! bodies from an event (or `{event, contact, data}` for messages) with the
//! shared `templating` engine. For GET endpoints the host puts the same
//! string into the query (seed 002's "send method GET").
//!
//! | given | body |
//! |---|---|
//! | no template, no `fields` | the data flattened to dot paths: `status.status=delivered&reference.vendor_message_id=…`, arrays as `tags[0]=…` |
//! | `config.fields` | `txid=…&msgid=…` in the order the fields were written (seed 002's operator-chosen names) |
//! | a template | the rendered text, which must be a valid form string |
//!
//! Values are form-encoded (space as `+`, UTF-8 percent-encoded). In the
//! flattened default `null`, `{}` and `[]` are left out (a canonical event
//! has many nulls); a field that renders `null` is sent empty (`err=`), so
//! the receiver always gets the parameters it was configured with.
//! Numbers and booleans are their JSON text.
//!
//! **Templates.** `{{ x }}` is form-encoded, so `a={{ x }}&b={{ y }}` is safe
//! whatever the values hold; leading and trailing whitespace of the output
//! is dropped. Output that is not a form string (spaces, raw non-ASCII,
//! bad `%` escapes, a pair without a name) is refused naming the byte.
//!
//! Configuration: `fields`, `strict` (undefined variables are an error).
//! Renderers do not map statuses.

use serde_json::Value;
use templating::{Escape, check_form, prepare, render_fields, text};
use wasmhook_sdk::prelude::*;

/// The content type of every body this renderer produces.
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Renders one form body.
#[renderer]
pub fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
    let prepared = prepare(&request, BodyFormat::Form)?;
    let body = if let Some(template) = prepared.template {
        let rendered = templating::render(
            template,
            &request.data,
            &prepared.config.options(Escape::Form),
        )?;
        let rendered = rendered.trim().to_string();
        check_form(&rendered).map_err(|why| {
            PluginError::invalid_config(format!("template output is not a form string: {why}"))
        })?;
        rendered
    } else {
        let pairs = match &prepared.config.fields {
            Some(fields) => render_fields(fields, &request.data, prepared.config.strict)?
                .into_iter()
                .map(|(name, value)| (name, text(&value)))
                .collect(),
            None => flatten(&request.data),
        };
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pairs {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    };
    Ok(Rendered {
        content_type: CONTENT_TYPE.to_string(),
        body: body.into_bytes(),
    })
}

/// The scalars of `data` as `(dot.path, text)` pairs, in document order;
/// array items as `name[i]`; nulls and empty containers left out. A scalar
/// at the top is `value=…`.
pub fn flatten(data: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    match data {
        Value::Object(_) | Value::Array(_) => walk(data, String::new(), &mut pairs),
        Value::Null => {}
        scalar => pairs.push(("value".to_string(), text(scalar))),
    }
    pairs
}

fn walk(value: &Value, path: String, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, child_path, pairs);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let base = if path.is_empty() {
                    "item".to_string()
                } else {
                    path.clone()
                };
                walk(item, format!("{base}[{i}]"), pairs);
            }
        }
        Value::Null => {}
        scalar => pairs.push((path, text(scalar))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use templating::{example_event, seed_002_config};

    fn request(template: Option<&str>, data: Value, config: Value) -> RenderRequest {
        RenderRequest {
            template: template.map(String::from),
            format: BodyFormat::Form,
            data,
            config,
        }
    }

    fn body(rendered: Rendered) -> String {
        assert_eq!(rendered.content_type, "application/x-www-form-urlencoded");
        String::from_utf8(rendered.body).unwrap()
    }

    #[test]
    fn default_flattens_to_dot_paths() {
        let out = body(render(request(None, example_event(), json!({}))).unwrap());
        assert_eq!(
            out,
            "id=evt_01HZX&version=1.0&event_type=status&channel=sms&channel_value=%2B919876543210\
             &status.status=delivered&status.vendor_status=DELIVERED&status.timestamp=1672310923000\
             &reference.vendor_message_id=msg-1&reference.idempotency_key=tx-9&vendor_name=gupshup\
             &source=gupshup-sms&received_at=1672310923456\
             &vendor_response.gupshup.externalId=msg-1&vendor_response.gupshup.status=SUCCESS"
        );
        let arrays = body(
            render(request(
                None,
                json!({"tags": ["a", {"b": true}], "e": []}),
                json!({}),
            ))
            .unwrap(),
        );
        assert_eq!(arrays, "tags%5B0%5D=a&tags%5B1%5D.b=true");
    }

    #[test]
    fn seed_002_fields_in_order() {
        let out = body(render(request(None, example_event(), seed_002_config())).unwrap());
        assert_eq!(
            out,
            "txid=tx-9&msgid=msg-1&status=delivered&err=&mobile=%2B919876543210&dlr_time=2022-12-29+10%3A48%3A43"
        );
    }

    #[test]
    fn template_renders_a_form_string() {
        let template = "to={{ channel_value }}&state={{ status.status | upper }}&at={{ status.timestamp | datetime('%Y-%m-%d %H:%M') }}\n";
        let out = body(render(request(Some(template), example_event(), json!({}))).unwrap());
        assert_eq!(
            out,
            "to=%2B919876543210&state=DELIVERED&at=2022-12-29+10%3A48"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        let error = render(request(
            Some("a={{ x | nope }}"),
            example_event(),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (
                ErrorKind::InvalidConfig,
                "template line 1: unknown filter `nope`"
            )
        );
        let error = render(request(Some("a=b c"), example_event(), json!({}))).unwrap_err();
        assert_eq!(
            error.message,
            "template output is not a form string: character ` ` at byte 3 must be percent-encoded"
        );
        let error = render(request(
            Some("a=1&={{ channel }}"),
            example_event(),
            json!({}),
        ))
        .unwrap_err();
        assert!(error.message.contains("has no name"), "{}", error.message);
    }

    #[test]
    fn hostile_values_are_encoded() {
        let data = json!({"v": "a&b=c d+é\u{1F600}%<>#"});
        let expected = "a%26b%3Dc+d%2B%C3%A9%F0%9F%98%80%25%3C%3E%23";
        let templated = body(render(request(Some("v={{ v }}"), data.clone(), json!({}))).unwrap());
        assert_eq!(templated, format!("v={expected}"));
        let fields = body(
            render(request(
                None,
                data.clone(),
                json!({"fields": {"a&b": "{{ v }}"}}),
            ))
            .unwrap(),
        );
        assert_eq!(fields, format!("a%26b={expected}"));
        let default = body(render(request(None, data.clone(), json!({}))).unwrap());
        assert_eq!(default, format!("v={expected}"));
        // Round trip: the receiver decodes exactly the original value.
        let decoded: Vec<(String, String)> = form_urlencoded::parse(templated.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            decoded,
            vec![("v".to_string(), data["v"].as_str().unwrap().to_string())]
        );
    }
}
