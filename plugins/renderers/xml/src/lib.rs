//! `xml-renderer`: renders `application/xml` request bodies from an event
//! (or `{event, contact, data}` for messages) with the shared `templating`
//! engine.
//!
//! | given | body |
//! |---|---|
//! | no template, no `fields` | the data as XML: `<event><event_type>status</event_type>…</event>` |
//! | `config.fields` | `<event><txid>…</txid><msgid>…</msgid>…</event>` in the order written |
//! | a template | the rendered text, which must be well-formed XML |
//!
//! Every body but a template's starts with `<?xml version="1.0" encoding="UTF-8"?>`.
//! `config.root` names the root element (default `event`).
//!
//! **Data as XML.** An object becomes child elements; an array becomes the
//! element repeated once per item (`"tags": ["a","b"]` →
//! `<tags>a</tags><tags>b</tags>`; items of a top-level array (inside the
//! root) or of an array in an array are `<item>`); `null` is an empty element; numbers
//! and booleans are their JSON text. Names are sanitised to XML names:
//! characters other than letters, digits, `_`, `-` and `.` become `_`, and
//! a name that does not start with a letter or `_` gets a `_` in front
//! (`"err-code"` stays, `"2fa"` → `_2fa`, `"a b"` → `a_b`). Text is escaped
//! (`& < > " '`), and characters XML 1.0 cannot hold (control characters)
//! become U+FFFD.
//!
//! **Templates.** `{{ x }}` is XML-escaped; `{{ x | safe }}` writes markup
//! as is. Output that is not well-formed (unclosed or mismatched elements,
//! unknown entities, two roots) is refused with the line and column.
//!
//! Configuration: `fields`, `root`, `strict` (undefined variables are an
//! error). Renderers do not map statuses.

use serde_json::Value;
use templating::{Escape, check_xml, prepare, render_fields, xml_escape};
use wasmhook_sdk::prelude::*;

/// The content type of every body this renderer produces.
pub const CONTENT_TYPE: &str = "application/xml";

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Renders one XML body.
#[renderer]
pub fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
    let prepared = prepare(&request, BodyFormat::Xml)?;
    let root = match prepared.config.root.as_deref() {
        None => "event",
        Some(root) if is_xml_name(root) => root,
        Some(root) => {
            return Err(PluginError::invalid_config(format!(
                "config.root: `{root}` is not an XML element name"
            )));
        }
    };
    let body = if let Some(template) = prepared.template {
        let text = templating::render(
            template,
            &request.data,
            &prepared.config.options(Escape::Xml),
        )?;
        check_xml(&text).map_err(|why| {
            PluginError::invalid_config(format!("template output is not well-formed XML: {why}"))
        })?;
        text
    } else if let Some(fields) = &prepared.config.fields {
        let mut out = format!("{DECLARATION}<{root}>");
        for (name, value) in render_fields(fields, &request.data, prepared.config.strict)? {
            write_element(&mut out, &sanitize_name(&name), &value);
        }
        out.push_str(&format!("</{root}>"));
        out
    } else if request.data.is_array() {
        // One root element: a top-level array's items are `<item>`s in it.
        let mut out = format!("{DECLARATION}<{root}>");
        write_element(&mut out, "item", &request.data);
        out.push_str(&format!("</{root}>"));
        out
    } else {
        let mut out = DECLARATION.to_string();
        write_element(&mut out, root, &request.data);
        out
    };
    Ok(Rendered {
        content_type: CONTENT_TYPE.to_string(),
        body: body.into_bytes(),
    })
}

/// Writes `value` as element(s) named `name` (see the crate doc).
pub fn write_element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                match item {
                    // An array directly in an array has no name of its own.
                    Value::Array(_) => {
                        out.push_str(&format!("<{name}>"));
                        write_element(out, "item", item);
                        out.push_str(&format!("</{name}>"));
                    }
                    _ => write_element(out, name, item),
                }
            }
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (key, child) in map {
                write_element(out, &sanitize_name(key), child);
            }
            out.push_str(&format!("</{name}>"));
        }
        scalar => {
            let text = match scalar {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("<{name}>{}</{name}>", xml_escape(&text)));
        }
    }
}

/// A JSON key as an XML element name (see the crate doc).
pub fn sanitize_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    name
}

fn is_xml_name(name: &str) -> bool {
    !name.is_empty() && sanitize_name(name) == name
}

#[cfg(test)]
mod tests {
    use super::*;
    use templating::{example_event, seed_002_config};

    fn request(template: Option<&str>, data: Value, config: Value) -> RenderRequest {
        RenderRequest {
            template: template.map(String::from),
            format: BodyFormat::Xml,
            data,
            config,
        }
    }

    fn body(rendered: Rendered) -> String {
        assert_eq!(rendered.content_type, "application/xml");
        String::from_utf8(rendered.body).unwrap()
    }

    #[test]
    fn default_serialises_the_event() {
        let out = body(render(request(None, example_event(), json!({}))).unwrap());
        assert!(out.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><event><id>evt_01HZX</id><version>1.0</version><event_type>status</event_type><channel>sms</channel><channel_value>+919876543210</channel_value><distinct_id/><status><status>delivered</status>"#
        ), "{out}");
        assert!(
            out.contains("<timestamp>1672310923000</timestamp>"),
            "{out}"
        );
        assert!(out.ends_with("<vendor_response><gupshup><externalId>msg-1</externalId><status>SUCCESS</status></gupshup></vendor_response></event>"), "{out}");
        // The output is well-formed and reads back with the SDK's XML reader.
        let back = wasmhook_sdk::xml::xml_to_value(&out).unwrap();
        assert_eq!(back["event"]["reference"]["idempotency_key"], "tx-9");
    }

    #[test]
    fn arrays_repeat_and_names_are_sanitised() {
        let data = json!({"tags": ["a", "b"], "grid": [[1, 2], [3]], "2fa": true, "a b:c": 1, "err-code": "0", "": "e"});
        let out = body(render(request(None, data, json!({"root": "data"}))).unwrap());
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="UTF-8"?><data><tags>a</tags><tags>b</tags><grid><item>1</item><item>2</item></grid><grid><item>3</item></grid><_2fa>true</_2fa><a_b_c>1</a_b_c><err-code>0</err-code><_>e</_></data>"#
        );
        let top = body(render(request(None, json!([1, {"a": null}]), json!({}))).unwrap());
        assert_eq!(
            top,
            r#"<?xml version="1.0" encoding="UTF-8"?><event><item>1</item><item><a/></item></event>"#
        );
    }

    #[test]
    fn seed_002_fields() {
        let out = body(render(request(None, example_event(), seed_002_config())).unwrap());
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="UTF-8"?><event><txid>tx-9</txid><msgid>msg-1</msgid><status>delivered</status><err/><mobile>+919876543210</mobile><dlr_time>2022-12-29 10:48:43</dlr_time></event>"#
        );
        let mut config = seed_002_config();
        config["root"] = json!("dlr");
        let out = body(render(request(None, example_event(), config)).unwrap());
        assert!(
            out.contains("<dlr><txid>tx-9</txid>") && out.ends_with("</dlr>"),
            "{out}"
        );
    }

    #[test]
    fn template_renders_xml() {
        let template = "<dlr id=\"{{ reference.vendor_message_id }}\">\n  <status>{{ status.status | upper }}</status>\n  <at>{{ status.timestamp | datetime('%Y-%m-%dT%H:%M:%S') }}</at>\n</dlr>";
        let out = body(render(request(Some(template), example_event(), json!({}))).unwrap());
        assert_eq!(
            out,
            "<dlr id=\"msg-1\">\n  <status>DELIVERED</status>\n  <at>2022-12-29T10:48:43</at>\n</dlr>"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        let error = render(request(
            Some("<a>{{ x | nope }}</a>"),
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
        let error = render(request(
            Some("<a>\n<b>{{ channel }}</c></a>"),
            example_event(),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidConfig);
        assert!(
            error
                .message
                .starts_with("template output is not well-formed XML: line 2 column"),
            "{}",
            error.message
        );
        let error = render(request(Some("<a>"), example_event(), json!({}))).unwrap_err();
        assert!(
            error.message.ends_with("element `a` is never closed"),
            "{}",
            error.message
        );
        let error = render(request(None, example_event(), json!({"root": "1 bad"}))).unwrap_err();
        assert_eq!(
            error.message,
            "config.root: `1 bad` is not an XML element name"
        );
    }

    #[test]
    fn hostile_values_are_escaped() {
        let hostile = "</v><admin>yes</admin> & \"q\" 'a' é \u{1F600} \u{0007}";
        let data = json!({"v": hostile});
        let templated = body(
            render(request(
                Some("<r a=\"{{ v }}\"><v>{{ v }}</v></r>"),
                data.clone(),
                json!({}),
            ))
            .unwrap(),
        );
        let parsed = wasmhook_sdk::xml::xml_to_value(&templated).unwrap();
        let expected = hostile.replace('\u{0007}', "\u{FFFD}");
        assert_eq!(parsed["r"]["v"], expected.as_str());
        assert_eq!(parsed["r"]["@a"], expected.as_str());
        assert!(templated.contains("&lt;/v&gt;&lt;admin&gt;yes&lt;/admin&gt; &amp; &quot;q&quot; &apos;a&apos; é \u{1F600} \u{FFFD}"), "{templated}");
        let default = body(render(request(None, data.clone(), json!({}))).unwrap());
        assert_eq!(
            default,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><event><v>&lt;/v&gt;&lt;admin&gt;yes&lt;/admin&gt; &amp; &quot;q&quot; &apos;a&apos; é \u{1F600} \u{FFFD}</v></event>"
        );
        let fields =
            body(render(request(None, data, json!({"fields": {"v": "{{ v }}"}}))).unwrap());
        assert!(fields.contains("<v>&lt;/v&gt;&lt;admin&gt;"), "{fields}");
    }
}
