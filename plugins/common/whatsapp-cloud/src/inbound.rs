//! Cloud API `messages[]` items (what the end user sent) as inbound events.
//!
//! | `type`        | text                         | payload              | media |
//! |---------------|------------------------------|----------------------|-------|
//! | `text`        | `text.body`                  |                      |       |
//! | `interactive` | `button_reply`/`list_reply` `.title`, `nfm_reply.body` | `.id` / `nfm_reply.response_json` | |
//! | `button`      | `button.text` (template quick reply) | `button.payload` | |
//! | `image` `document` `audio` `video` `sticker` | `caption` | | `id`, `mime_type`, `caption`, `url` |
//! | `location`    | `"lat,long"` + name/address  |                      |       |
//! | `reaction`    | `reaction.emoji`; context id = `reaction.message_id` | | |
//! | `system`      | `system.body`                |                      |       |
//! | anything else | none (the type is kept, the raw item has the rest) | | |

use serde_json::Value;
use wasmhook_sdk::prelude::*;

const MEDIA_TYPES: [&str; 5] = ["image", "document", "audio", "video", "sticker"];

/// Maps one `messages[]` item; `business` is the number that received it
/// (`metadata.display_phone_number`).
pub fn map_message(
    message: &Value,
    business: Option<String>,
    at: &str,
    vendor: &str,
) -> Result<Event, PluginError> {
    let from = path::get_str(message, "from")
        .ok_or_else(|| PluginError::invalid_input(format!("field `{at}.from` is missing")))?;
    let kind = path::get_str(message, "type").unwrap_or_else(|| "unknown".to_string());
    let mut inbound = InboundMessage::new(from, kind.clone());
    inbound.to = business;
    match kind.as_str() {
        "text" => inbound.text = path::get_str(message, "text.body"),
        "interactive" => {
            let interactive = message.get("interactive").unwrap_or(&Value::Null);
            if let Some(reply) = interactive
                .get("button_reply")
                .or_else(|| interactive.get("list_reply"))
            {
                inbound.text = path::get_str(reply, "title");
                inbound.payload = path::get_str(reply, "id");
            } else if let Some(flow) = interactive.get("nfm_reply") {
                inbound.text = path::get_str(flow, "body");
                inbound.payload = path::get_str(flow, "response_json");
            }
        }
        "button" => {
            inbound.text = path::get_str(message, "button.text");
            inbound.payload = path::get_str(message, "button.payload");
        }
        "location" => {
            let location = message.get("location").unwrap_or(&Value::Null);
            inbound.text = location_text(
                location.get("latitude"),
                location.get("longitude"),
                path::get_str(location, "name"),
                path::get_str(location, "address"),
            );
        }
        "reaction" => inbound.text = path::get_str(message, "reaction.emoji"),
        "system" => inbound.text = path::get_str(message, "system.body"),
        media if MEDIA_TYPES.contains(&media) => {
            let item = message.get(media).unwrap_or(&Value::Null);
            let caption = path::get_str(item, "caption");
            inbound.text = caption.clone();
            inbound.media.push(Media {
                url: path::get_str(item, "url").or_else(|| path::get_str(item, "link")),
                id: path::get_str(item, "id"),
                mime_type: path::get_str(item, "mime_type"),
                caption,
            });
        }
        _ => {}
    }
    inbound.context = context(message);
    let timestamp = path::get(message, "timestamp").and_then(time::timestamp_ms);
    Ok(Event::inbound(Channel::Whatsapp, inbound, vendor)
        .message_id(path::get_str(message, "id"))
        .timestamp(timestamp)
        .raw(message.clone()))
}

/// The quoted message: `context.from`/`context.id`, or for a reaction the
/// message reacted to.
fn context(message: &Value) -> Option<MessageContext> {
    if let Some(context) = message.get("context") {
        let context = MessageContext {
            from: path::get_str(context, "from"),
            id: path::get_str(context, "id"),
        };
        if context.from.is_some() || context.id.is_some() {
            return Some(context);
        }
    }
    path::get_str(message, "reaction.message_id").map(|id| MessageContext {
        from: None,
        id: Some(id),
    })
}

/// A shared location as text: `"lat,long"`, followed by ` (name, address)`
/// when given. `None` without coordinates.
pub fn location_text(
    latitude: Option<&Value>,
    longitude: Option<&Value>,
    name: Option<String>,
    address: Option<String>,
) -> Option<String> {
    let latitude = latitude.and_then(path::value_to_string)?;
    let longitude = longitude.and_then(path::value_to_string)?;
    let label: Vec<String> = name.into_iter().chain(address).collect();
    Some(if label.is_empty() {
        format!("{latitude},{longitude}")
    } else {
        format!("{latitude},{longitude} ({})", label.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(message: Value) -> InboundMessage {
        map_message(&message, Some("15550001111".into()), "m", "meta")
            .unwrap()
            .inbound_message
            .unwrap()
    }

    #[test]
    fn list_reply_title_and_id() {
        let message = map(json!({"from": "1", "id": "w", "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": "row-1", "title": "Row", "description": "d"}}}));
        assert_eq!(message.text.as_deref(), Some("Row"));
        assert_eq!(message.payload.as_deref(), Some("row-1"));
        assert_eq!(message.to.as_deref(), Some("15550001111"));
    }

    #[test]
    fn media_keeps_id_mime_and_caption() {
        let message = map(
            json!({"from": "1", "id": "w", "type": "image", "timestamp": "1700000000",
            "image": {"id": "media-1", "mime_type": "image/jpeg", "caption": "look", "sha256": "x"}}),
        );
        assert_eq!(message.media.len(), 1);
        assert_eq!(message.media[0].id.as_deref(), Some("media-1"));
        assert_eq!(message.media[0].mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(message.media[0].caption.as_deref(), Some("look"));
        assert_eq!(message.timestamp, Some(1_700_000_000_000));
        let document = map(json!({"from": "1", "type": "document",
            "document": {"id": "d", "mime_type": "application/pdf", "filename": "a.pdf"}}));
        assert_eq!(document.media[0].id.as_deref(), Some("d"));
        assert_eq!(document.text, None);
    }

    #[test]
    fn location_reaction_and_unknown_types() {
        let location = map(json!({"from": "1", "type": "location",
            "location": {"latitude": 38.9, "longitude": -77.03, "name": "Office", "address": "Main St"}}));
        assert_eq!(
            location.text.as_deref(),
            Some("38.9,-77.03 (Office, Main St)")
        );
        let reaction = map(json!({"from": "1", "type": "reaction",
            "reaction": {"message_id": "wamid.orig", "emoji": "👍"}}));
        assert_eq!(reaction.text.as_deref(), Some("👍"));
        assert_eq!(reaction.context.unwrap().id.as_deref(), Some("wamid.orig"));
        let order = map(json!({"from": "1", "type": "order", "order": {}}));
        assert_eq!(order.message_type, "order");
        assert_eq!(order.text, None);
        assert_eq!(location_text(Some(&json!(1)), None, None, None), None);
    }
}
