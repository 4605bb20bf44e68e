//! `text-renderer`: renders `text/plain; charset=utf-8` request bodies from
//! an event (or `{event, contact, data}` for messages) with the shared
//! `templating` engine.
//!
//! A template is required (a text body has no natural default); values are
//! written as they are, without escaping. Configuration: `strict`
//! (undefined variables are an error). Renderers do not map statuses.

use templating::{Escape, prepare};
use wasmhook_sdk::prelude::*;

/// The content type of every body this renderer produces.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Renders one text body.
#[renderer]
pub fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
    let prepared = prepare(&request, BodyFormat::Text)?;
    let Some(template) = prepared.template else {
        return Err(PluginError::invalid_config(
            "the text renderer needs a `template` (the body to render); `fields` are for json, xml and form",
        ));
    };
    let text = templating::render(
        template,
        &request.data,
        &prepared.config.options(Escape::None),
    )?;
    Ok(Rendered {
        content_type: CONTENT_TYPE.to_string(),
        body: text.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use templating::{example_event, seed_002_config};

    fn request(template: Option<&str>, config: Value) -> RenderRequest {
        RenderRequest {
            template: template.map(String::from),
            format: BodyFormat::Text,
            data: example_event(),
            config,
        }
    }

    #[test]
    fn template_is_required() {
        for config in [json!({}), seed_002_config()] {
            let error = render(request(None, config)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidConfig);
            assert!(error.message.contains("`template`"), "{}", error.message);
        }
    }

    #[test]
    fn renders_text_as_is() {
        let template = "Message ${reference.vendor_message_id} to {{ channel_value }} is {{ status.status | upper }} at {{ status.timestamp | datetime('%H:%M') }} <&>";
        let rendered = render(request(Some(template), json!({}))).unwrap();
        assert_eq!(rendered.content_type, "text/plain; charset=utf-8");
        assert_eq!(
            String::from_utf8(rendered.body).unwrap(),
            "Message msg-1 to +919876543210 is DELIVERED at 10:48 <&>"
        );
    }

    #[test]
    fn bad_template_says_where() {
        let error = render(request(
            Some("line one\n{{ status.status | shout }}"),
            json!({}),
        ))
        .unwrap_err();
        assert_eq!(error.message, "template line 2: unknown filter `shout`");
        let error =
            render(request(Some("{{ contact.name }}"), json!({"strict": true}))).unwrap_err();
        assert_eq!(
            error.message,
            "template line 1: `contact.name` is undefined"
        );
    }

    #[test]
    fn unicode_and_hostile_values_pass_through() {
        let mut req = request(Some("{{ v }}"), json!({}));
        req.data = json!({"v": "é \u{1F600} <x> & a=b"});
        assert_eq!(
            render(req).unwrap().body,
            "é \u{1F600} <x> & a=b".as_bytes()
        );
    }
}
