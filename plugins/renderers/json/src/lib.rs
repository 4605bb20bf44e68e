//! `json-renderer`: renders `application/json` request bodies from an event
//! (or `{event, contact, data}` for messages) with the shared `templating`
//! engine.
//!
//! | given | body |
//! |---|---|
//! | no template, no `fields` | the data as JSON, unchanged (a canonical event passes through) |
//! | `config.fields` | a JSON object of the fields in the order written |
//! | a template | the rendered text, which must parse as JSON |
//!
//! **Field types.** A field whose template is one expression
//! (`"{{ status.timestamp }}"`, `"${channel_value}"`) keeps the JSON type of
//! its value: numbers stay numbers, `null` stays `null`, objects stay
//! objects, strings stay strings (a phone number or id made of digits is
//! still a string). Any other template (`"id-{{ x }}"`) is a string; a
//! non-string constant (`"version": 2`) is written as given. The choice
//! follows the data instead of guessing from the rendered text.
//!
//! **Templates.** `{{ x }}` writes strings escaped for use *inside* JSON
//! quotes (`"name": "{{ contact.name }}"` is safe whatever the name holds),
//! and numbers, booleans, objects and arrays as JSON; `{{ x | tojson }}`
//! writes any value as a complete JSON value, strings with their quotes.
//! Output that is not JSON is refused with the line and column.
//!
//! Configuration: `fields`, `strict` (undefined variables are an error).
//! No vendor statuses are involved: renderers do not map statuses.

use serde_json::{Map, Value};
use templating::{Escape, check_json, prepare, render_fields};
use wasmhook_sdk::prelude::*;

/// The content type of every body this renderer produces.
pub const CONTENT_TYPE: &str = "application/json";

/// Renders one JSON body.
#[renderer]
pub fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
    let prepared = prepare(&request, BodyFormat::Json)?;
    let body = if let Some(template) = prepared.template {
        let text = templating::render(
            template,
            &request.data,
            &prepared.config.options(Escape::Json),
        )?;
        check_json(&text).map_err(|why| {
            PluginError::invalid_config(format!("template output is not valid JSON: {why}"))
        })?;
        text
    } else if let Some(fields) = &prepared.config.fields {
        let object: Map<String, Value> =
            render_fields(fields, &request.data, prepared.config.strict)?
                .into_iter()
                .collect();
        Value::Object(object).to_string()
    } else {
        request.data.to_string()
    };
    Ok(Rendered {
        content_type: CONTENT_TYPE.to_string(),
        body: body.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use templating::{example_event, seed_002_config};

    fn request(template: Option<&str>, data: Value, config: Value) -> RenderRequest {
        RenderRequest {
            template: template.map(String::from),
            format: BodyFormat::Json,
            data,
            config,
        }
    }

    fn body(rendered: Rendered) -> String {
        assert_eq!(rendered.content_type, "application/json");
        String::from_utf8(rendered.body).unwrap()
    }

    #[test]
    fn default_passes_the_event_through_unchanged() {
        let event = example_event();
        let out = body(render(request(None, event.clone(), json!({}))).unwrap());
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), event);
        // Key order is kept too (the host may sign these bytes).
        assert!(
            out.starts_with(r#"{"id":"evt_01HZX","version":"1.0","event_type":"status""#),
            "{out}"
        );
        let blank = body(render(request(Some("  "), event.clone(), Value::Null)).unwrap());
        assert_eq!(blank, out);
    }

    #[test]
    fn seed_002_fields() {
        let out = body(render(request(None, example_event(), seed_002_config())).unwrap());
        assert_eq!(
            out,
            r#"{"txid":"tx-9","msgid":"msg-1","status":"delivered","err":null,"mobile":"+919876543210","dlr_time":"2022-12-29 10:48:43"}"#
        );
    }

    #[test]
    fn field_types_follow_the_data() {
        let config = json!({"fields": {
            "ts": "{{ status.timestamp }}", "id": "id-{{ reference.vendor_message_id }}",
            "ref": "${reference}", "v": 2, "source": "wasmhook"
        }});
        let out = body(render(request(None, example_event(), config)).unwrap());
        assert_eq!(
            out,
            r#"{"ts":1672310923000,"id":"id-msg-1","ref":{"vendor_message_id":"msg-1","idempotency_key":"tx-9"},"v":2,"source":"wasmhook"}"#
        );
    }

    #[test]
    fn template_renders_json() {
        let template = "{\n  \"to\": \"{{ channel_value }}\",\n  \"ts\": {{ status.timestamp }},\n  \"ref\": {{ reference | tojson }},\n  \"err\": {{ status.error_code | tojson }}\n}";
        let out = body(render(request(Some(template), example_event(), json!({}))).unwrap());
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["to"], "+919876543210");
        assert_eq!(parsed["ts"], 1_672_310_923_000_i64);
        assert_eq!(parsed["ref"]["idempotency_key"], "tx-9");
        assert_eq!(parsed["err"], Value::Null);
    }

    #[test]
    fn bad_templates_say_why() {
        let error = render(request(
            Some("{\"a\": {{ x | nope }}}"),
            example_event(),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidConfig);
        assert_eq!(error.message, "template line 1: unknown filter `nope`");
        // A string without quotes is not JSON: line and column are named.
        let error = render(request(
            Some("{\n\"a\": {{ channel }}\n}"),
            example_event(),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidConfig);
        assert!(
            error.message.starts_with(
                "template output is not valid JSON: expected value at line 2 column 6"
            ),
            "{}",
            error.message
        );
        let error = render(request(Some("{}"), example_event(), seed_002_config())).unwrap_err();
        assert!(error.message.contains("not both"), "{}", error.message);
        let error = render(request(None, example_event(), json!({"fields": "x"}))).unwrap_err();
        assert!(
            error.message.starts_with("config.fields:"),
            "{}",
            error.message
        );
        let mut wrong = request(None, example_event(), json!({}));
        wrong.format = BodyFormat::Xml;
        assert_eq!(render(wrong).unwrap_err().kind, ErrorKind::Unsupported);
    }

    #[test]
    fn hostile_values_cannot_break_out_of_strings() {
        let data = json!({"name": "\"}, \"admin\": true, \"x\": \"<&>\n\u{1F600}"});
        let out = body(
            render(request(
                Some(r#"{"name": "{{ name }}"}"#),
                data.clone(),
                json!({}),
            ))
            .unwrap(),
        );
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, json!({"name": data["name"]}));
        let fields = body(
            render(request(
                None,
                data.clone(),
                json!({"fields": {"n": "{{ name }}"}}),
            ))
            .unwrap(),
        );
        assert_eq!(
            serde_json::from_str::<Value>(&fields).unwrap(),
            json!({"n": data["name"]})
        );
    }

    #[test]
    fn strict_names_missing_variables() {
        let config = json!({"strict": true, "fields": {"email": "{{ contact.email }}"}});
        let error = render(request(None, example_event(), config)).unwrap_err();
        assert_eq!(
            error.message,
            "config.fields.email: template line 1: `contact.email` is undefined"
        );
    }
}
