//! The WhatsApp Cloud API webhook shape, shared by the `meta-whatsapp` mapper
//! and the `gupshup` mapper (Gupshup's WhatsApp v3 events are Meta's shape
//! plus a `gs_id` and a few status-level fields).
//!
//! ```text
//! { "object": "whatsapp_business_account",
//!   "entry": [ { "changes": [ { "field": "messages",
//!       "value": { "metadata": {...}, "contacts": [...],
//!                  "statuses": [...], "messages": [...], "errors": [...] } } ] } ] }
//! ```
//!
//! Every item of every `statuses[]`, `messages[]` and (out-of-band)
//! `errors[]` array of every change of every entry becomes one event, in
//! body order. `contacts[]`, `conversation` and `pricing` carry nothing the
//! canonical event has a field for and stay in the raw payload only.
//!
//! | Cloud API `status`  | canonical | note |
//! |---------------------|-----------|------|
//! | `enqueued` (Gupshup)| queued    | accepted by the BSP, WhatsApp has not sent it yet |
//! | `sent`              | sent      | |
//! | `delivered`         | delivered | |
//! | `read`              | read      | |
//! | `played`            | read      | a voice message was played |
//! | `failed`            | failed    | `errors[0]` (or Gupshup's `code`/`reason`) → error code/description |
//! | `deleted`           | (none)    | the user deleted a message: no delivery status, skipped |
//! | anything else       | error     | `unsupported`, naming the status |
//!
//! An `errors[]` array directly under `value` (Meta's out-of-band errors
//! webhook: no message id, no recipient) becomes one `failed` event per
//! error with only the error code and description set, so the operator sees
//! that sending broke (rate limits, account problems) instead of nothing.
//!
//! Each event's `vendor_response` is the item it came from (the status,
//! message or error object), as the batch item.

mod inbound;

use serde_json::Value;
use wasmhook_sdk::prelude::*;

pub use inbound::{location_text, map_message};

/// What differs between the vendors that send this shape.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    /// `vendor_name` of the events (`meta`, `gupshup`).
    pub vendor: &'static str,
    /// Whether a status's `gs_id` (Gupshup's message id, the one its send API
    /// returned) wins over the WhatsApp `id` as `vendor_message_id`.
    pub prefer_gs_id: bool,
}

/// Whether `body` looks like a Cloud API notification (has an `entry` array).
pub fn is_notification(body: &Value) -> bool {
    body.get("entry").is_some_and(Value::is_array)
}

/// Maps a whole notification body into events (possibly none).
pub fn map_notification(body: &Value, flavor: Flavor) -> Result<Vec<Event>, PluginError> {
    if let Some(object) = body.get("object").and_then(Value::as_str)
        && object != "whatsapp_business_account"
    {
        return Err(PluginError::unsupported(format!(
            "`object` is `{object}`; only `whatsapp_business_account` notifications are mapped"
        )));
    }
    let entries = body
        .get("entry")
        .and_then(Value::as_array)
        .ok_or_else(|| PluginError::invalid_input("field `entry` is missing or not an array"))?;
    let mut events = Vec::new();
    for (e, entry) in entries.iter().enumerate() {
        let Some(changes) = entry.get("changes") else {
            continue;
        };
        let changes = changes.as_array().ok_or_else(|| {
            PluginError::invalid_input(format!("field `entry[{e}].changes` is not an array"))
        })?;
        for (c, change) in changes.iter().enumerate() {
            let at = format!("entry[{e}].changes[{c}]");
            // Other fields (template status, account updates, ...) are
            // well-formed notifications with no delivery status in them.
            if let Some(field) = change.get("field").and_then(Value::as_str)
                && field != "messages"
            {
                host::debug(&format!(
                    "{at}: field `{field}` carries no message events; skipped"
                ));
                continue;
            }
            let Some(value) = change.get("value") else {
                return Err(PluginError::invalid_input(format!(
                    "field `{at}.value` is missing"
                )));
            };
            map_value(value, &at, flavor, &mut events)?;
        }
    }
    Ok(events)
}

/// Maps one change `value`: its statuses, messages and errors.
fn map_value(
    value: &Value,
    at: &str,
    flavor: Flavor,
    events: &mut Vec<Event>,
) -> Result<(), PluginError> {
    for (i, status) in items(value, "statuses", at)?.iter().enumerate() {
        if let Some(event) = map_status(status, &format!("{at}.value.statuses[{i}]"), flavor)? {
            events.push(event);
        }
    }
    let business = path::get_str(value, "metadata.display_phone_number");
    for (i, message) in items(value, "messages", at)?.iter().enumerate() {
        let at = format!("{at}.value.messages[{i}]");
        events.push(map_message(message, business.clone(), &at, flavor.vendor)?);
    }
    for error in items(value, "errors", at)? {
        host::warn(&format!(
            "{at}: WhatsApp reported an error for no particular message: {error}"
        ));
        let (code, description) = error_fields(error);
        events.push(
            Event::status(Channel::Whatsapp, Status::Failed, flavor.vendor)
                .error(code, description)
                .raw(error.clone()),
        );
    }
    Ok(())
}

/// The array `value.<key>`, empty when absent.
fn items<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a [Value], PluginError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(PluginError::invalid_input(format!(
            "field `{at}.value.{key}` is not an array"
        ))),
    }
}

/// The canonical status of a Cloud API status name; `Ok(None)` for statuses
/// that are deliberately not events.
pub fn canonical_status(name: &str) -> Result<Option<Status>, PluginError> {
    Ok(Some(match name.to_ascii_lowercase().as_str() {
        "enqueued" => Status::Queued,
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" | "played" => Status::Read,
        "failed" => Status::Failed,
        "deleted" => return Ok(None),
        _ => {
            return Err(PluginError::unsupported(format!(
                "WhatsApp status `{name}` is not one this mapper knows"
            )));
        }
    }))
}

/// Maps one `statuses[]` item.
fn map_status(status: &Value, at: &str, flavor: Flavor) -> Result<Option<Event>, PluginError> {
    let name = path::get_str(status, "status")
        .ok_or_else(|| PluginError::invalid_input(format!("field `{at}.status` is missing")))?;
    let Some(canonical) = canonical_status(&name)? else {
        host::debug(&format!(
            "{at}: status `{name}` is not a delivery status; skipped"
        ));
        return Ok(None);
    };
    let wa_id = path::get_str(status, "id");
    let message_id = if flavor.prefer_gs_id {
        path::get_str(status, "gs_id").or(wa_id)
    } else {
        wa_id
    };
    let mut event = Event::status(Channel::Whatsapp, canonical, flavor.vendor)
        .recipient(path::get_str(status, "recipient_id"))
        .message_id(message_id)
        .idempotency_key(path::get_str(status, "biz_opaque_callback_data"))
        .timestamp(path::get(status, "timestamp").and_then(time::timestamp_ms))
        .vendor_status(Some(name));
    if let Some(error) = status
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first())
    {
        let (code, description) = error_fields(error);
        event = event.error(code, description);
    } else if status.get("code").is_some() || status.get("reason").is_some() {
        // Gupshup's passthrough failures put the error on the status itself.
        event = event.error(
            path::get_str(status, "code"),
            path::get_str(status, "reason"),
        );
    }
    Ok(Some(event.raw(status.clone())))
}

/// Code and description of a Cloud API error object: `message`, else
/// `title`, else `error_data.details` (the details stay in the raw payload).
pub fn error_fields(error: &Value) -> (Option<String>, Option<String>) {
    let description = path::get_str(error, "message")
        .or_else(|| path::get_str(error, "title"))
        .or_else(|| path::get_str(error, "error_data.details"));
    (path::get_str(error, "code"), description)
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: Flavor = Flavor {
        vendor: "meta",
        prefer_gs_id: false,
    };

    fn status_body(status: Value) -> Value {
        json!({"object": "whatsapp_business_account", "entry": [{"changes": [
            {"field": "messages", "value": {"statuses": [status]}}]}]})
    }

    #[test]
    fn status_table() {
        for (name, want) in [
            ("enqueued", Some(Status::Queued)),
            ("sent", Some(Status::Sent)),
            ("delivered", Some(Status::Delivered)),
            ("read", Some(Status::Read)),
            ("played", Some(Status::Read)),
            ("failed", Some(Status::Failed)),
            ("deleted", None),
        ] {
            assert_eq!(canonical_status(name).unwrap(), want, "{name}");
        }
        assert_eq!(
            canonical_status("warning").unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn many_entries_changes_and_statuses_make_many_events() {
        let body = json!({"entry": [
            {"changes": [{"value": {"statuses": [
                {"id": "a", "status": "sent", "timestamp": "1", "recipient_id": "1"},
                {"id": "b", "status": "delivered", "timestamp": "2", "recipient_id": "2"}]}},
                {"field": "messages", "value": {"statuses": [{"id": "c", "status": "read"}]}}]},
            {"changes": [{"value": {"statuses": [{"id": "d", "status": "failed"}]}}]}]});
        let events = map_notification(&body, META).unwrap();
        let ids: Vec<_> = events
            .iter()
            .map(|e| e.reference.vendor_message_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(events[1].status.as_ref().unwrap().timestamp, Some(2000));
    }

    #[test]
    fn gs_id_wins_only_when_asked() {
        let body = status_body(json!({"id": "wamid.1", "gs_id": "gs-1", "status": "sent"}));
        let meta = map_notification(&body, META).unwrap();
        assert_eq!(
            meta[0].reference.vendor_message_id.as_deref(),
            Some("wamid.1")
        );
        let gupshup = Flavor {
            vendor: "gupshup",
            prefer_gs_id: true,
        };
        let events = map_notification(&body, gupshup).unwrap();
        assert_eq!(
            events[0].reference.vendor_message_id.as_deref(),
            Some("gs-1")
        );
        assert_eq!(events[0].vendor_name, "gupshup");
    }

    #[test]
    fn deleted_is_skipped_and_other_fields_ignored() {
        let body = status_body(json!({"id": "x", "status": "deleted"}));
        assert!(map_notification(&body, META).unwrap().is_empty());
        let template = json!({"entry": [{"changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED"}}]}]});
        assert!(map_notification(&template, META).unwrap().is_empty());
    }

    #[test]
    fn opaque_callback_data_is_the_idempotency_key() {
        let body = status_body(
            json!({"id": "x", "status": "sent", "biz_opaque_callback_data": "order-7"}),
        );
        let events = map_notification(&body, META).unwrap();
        assert_eq!(
            events[0].reference.idempotency_key.as_deref(),
            Some("order-7")
        );
    }

    #[test]
    fn malformed_shapes_are_invalid_input_not_panics() {
        for body in [
            json!({"entry": "x"}),
            json!({"entry": [{"changes": {"value": {}}}]}),
            json!({"entry": [{"changes": [{"field": "messages"}]}]}),
            json!({"entry": [{"changes": [{"value": {"statuses": {"id": 1}}}]}]}),
            json!({"entry": [{"changes": [{"value": {"statuses": [{"id": "x"}]}}]}]}),
            json!({"entry": [{"changes": [{"value": {"messages": [{"id": "x"}]}}]}]}),
            json!([1, 2]),
        ] {
            let error = map_notification(&body, META).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidInput, "{body}: {error}");
        }
        let page = json!({"object": "page", "entry": []});
        assert_eq!(
            map_notification(&page, META).unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }
}
