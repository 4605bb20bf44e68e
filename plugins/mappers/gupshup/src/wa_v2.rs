//! Gupshup WhatsApp v2 callbacks: `message-event` (statuses) and `message`
//! (what the end user sent). Both are one event per body, so the event's
//! `vendor_response` is the whole body.
//!
//! ```text
//! {"app": "...", "timestamp": <ms>, "version": 2, "type": "message-event",
//!  "payload": {"id": "...", "gsId": "...", "type": "sent", "destination": "91...",
//!              "payload": {"ts": <s>} | {"code": 1002, "reason": "..."}}}
//! ```
//!
//! Inbound `payload.type` → canonical inbound message:
//!
//! | type | text | payload | media |
//! |---|---|---|---|
//! | `text` | `payload.text` | | |
//! | `button_reply`, `list_reply`, `quick_reply`, `button` | `title` (else `text`, `reply`) | `postbackText` (else `id`, `payload`) | |
//! | `image`, `file`, `audio`, `video`, `sticker` | `caption` | | `url`, `contentType`, `caption` |
//! | `location` | `"lat,long"` + name/address | | |
//! | others (`contact`, ...) | none; type kept, raw body has the rest | | |
//!
//! `payload.context` (the quoted message) → context id = its `gsId` (the id
//! our status events use), else its WhatsApp `id`.

use serde_json::Value;
use wasmhook_sdk::prelude::*;

use crate::VENDOR;

/// The canonical status of a v2 `message-event` type; `Ok(None)` for types
/// that are deliberately not events.
pub fn status_of(kind: &str) -> Result<Option<Status>, PluginError> {
    Ok(Some(match kind {
        "enqueued" => Status::Queued,
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" => Status::Read,
        "failed" => Status::Failed,
        "deleted" => return Ok(None),
        other => {
            return Err(PluginError::unsupported(format!(
                "WhatsApp message-event type `{other}` is not mapped"
            )));
        }
    }))
}

fn payload_of(body: &Value) -> Result<&Value, PluginError> {
    body.get("payload")
        .filter(|p| p.is_object())
        .ok_or_else(|| PluginError::invalid_input("field `payload` is missing or not an object"))
}

/// Maps a `message-event` body (zero or one event).
pub fn map_message_event(body: &Value) -> Result<Vec<Event>, PluginError> {
    let payload = payload_of(body)?;
    let kind = path::get_str(payload, "type")
        .ok_or_else(|| PluginError::invalid_input("field `payload.type` is missing"))?;
    let Some(status) = status_of(&kind)? else {
        host::debug(&format!(
            "message-event `{kind}` is not a delivery status; no event"
        ));
        return Ok(Vec::new());
    };
    // `ts` (seconds) is when the status happened; the envelope `timestamp`
    // (ms) is when Gupshup emitted the callback, the best we have otherwise.
    let timestamp = path::get(payload, "ts")
        .or_else(|| path::get(payload, "payload.ts"))
        .and_then(time::timestamp_ms)
        .or_else(|| path::get(body, "timestamp").and_then(time::timestamp_ms));
    let mut event = Event::status(Channel::Whatsapp, status, VENDOR)
        .recipient(path::get_str(payload, "destination"))
        .message_id(path::get_str(payload, "gsId").or_else(|| path::get_str(payload, "id")))
        .timestamp(timestamp)
        .vendor_status(Some(kind));
    let code = path::get_str(payload, "payload.code");
    let reason = path::get_str(payload, "payload.reason");
    if code.is_some() || reason.is_some() {
        event = event.error(code, reason);
    }
    Ok(vec![event.raw(body.clone())])
}

/// Maps a `message` (inbound) body into one event.
pub fn map_inbound(body: &Value) -> Result<Vec<Event>, PluginError> {
    let payload = payload_of(body)?;
    let from = path::get_str(payload, "source")
        .or_else(|| path::get_str(payload, "sender.phone"))
        .ok_or_else(|| {
            PluginError::invalid_input(
                "fields `payload.source` and `payload.sender.phone` are missing",
            )
        })?;
    let kind = path::get_str(payload, "type").unwrap_or_else(|| "unknown".to_string());
    let content = payload.get("payload").unwrap_or(&Value::Null);
    let mut message = InboundMessage::new(from, kind.clone());
    match kind.as_str() {
        "text" => message.text = path::get_str(content, "text"),
        "button_reply" | "list_reply" | "quick_reply" | "button" => {
            message.text = first_str(content, &["title", "text", "reply"]);
            message.payload = first_str(content, &["postbackText", "id", "payload"]);
        }
        "image" | "file" | "audio" | "video" | "sticker" => {
            let caption = path::get_str(content, "caption");
            message.text = caption.clone();
            message.media.push(Media {
                url: path::get_str(content, "url"),
                id: None,
                mime_type: path::get_str(content, "contentType"),
                caption,
            });
        }
        "location" => {
            message.text = whatsapp_cloud::location_text(
                content.get("latitude"),
                content.get("longitude"),
                path::get_str(content, "name"),
                path::get_str(content, "address"),
            );
        }
        _ => {}
    }
    message.context = payload.get("context").and_then(|context| {
        let id = path::get_str(context, "gsId").or_else(|| path::get_str(context, "id"))?;
        Some(MessageContext {
            from: None,
            id: Some(id),
        })
    });
    let event = Event::inbound(Channel::Whatsapp, message, VENDOR)
        .message_id(path::get_str(payload, "id"))
        .timestamp(path::get(body, "timestamp").and_then(time::timestamp_ms))
        .raw(body.clone());
    Ok(vec![event])
}

/// The first of `keys` that `value` has as a non-empty scalar.
fn first_str(value: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| value.get(key).and_then(path::value_to_string))
}
