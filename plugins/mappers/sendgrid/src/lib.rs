//! SendGrid Event Webhook mapper: turns SendGrid's batched delivery and
//! engagement events into canonical `email` status events.
//!
//! SendGrid POSTs a JSON array of events (`application/json`), one canonical
//! event per array item; a single event object (not wrapped in an array) is
//! accepted as a one-event batch. Each item keeps itself, parsed, as its
//! `vendor_response`.
//!
//! | SendGrid `event`      | canonical status       | notes |
//! |-----------------------|------------------------|-------|
//! | `processed`           | `queued`               | SendGrid accepted the message and will send it; it has not left SendGrid yet (the vendor INDEX suggests `sent`; we follow the plugin policy "accepted → queued") |
//! | `deferred`            | `deferred`             | the receiving server asked to retry later; description = `response` |
//! | `delivered`           | `delivered`            | description = `response` (`250 OK`) |
//! | `open`                | `read`                 | |
//! | `click`               | `clicked`              | link = `url` |
//! | `bounce` (`type` `bounce` or absent) | `failed`, hard_bounce = true  | error_code = `status` (`5.0.0`), description = `reason` |
//! | `bounce` (`type` `blocked`)          | `failed`, hard_bounce = false | blocked by the receiver, the address itself may be fine |
//! | `dropped`             | `failed`               | SendGrid did not send it (suppressed, invalid...); hard_bounce left unset: the drop says nothing new about the address |
//! | `spamreport`          | `spam`                 | |
//! | `unsubscribe`, `group_unsubscribe` | `unsubscribed` | |
//! | `group_resubscribe`   | `subscription_changed` | |
//!
//! Anything else is skipped with a warning; a batch in which nothing could
//! be mapped is refused as `unsupported`.
//!
//! Fields: recipient = `email`; timestamp = `timestamp` (epoch seconds);
//! error_code (failed/deferred only) = `status`; description = `reason`, else
//! `response`. vendor_message_id = `sg_message_id` with its `.filter…` suffix
//! stripped, because that prefix is the `X-Message-Id` SendGrid returns when
//! the message is sent (the only id the sender knows); the full id stays in
//! `vendor_response`, as does `sg_event_id` (SendGrid's per-event id, which
//! is not a sender-attached idempotency key).

use wasmhook_sdk::prelude::*;

/// `vendor_name` of every event.
const VENDOR: &str = "sendgrid";

/// Maps one Event Webhook POST.
#[mapper]
pub fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
    let body = callback.json_value()?;
    let items = match body {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => {
            return Err(PluginError::invalid_input(format!(
                "expected a JSON array of SendGrid events, got {}",
                kind_of(&other)
            )));
        }
    };
    let total = items.len();
    let mut events = Vec::with_capacity(total);
    for (index, item) in items.into_iter().enumerate() {
        if let Some(event) = map_item(item).map_err(|e| in_item(e, index))? {
            events.push(event);
        }
    }
    if total > 0 && events.is_empty() {
        return Err(PluginError::unsupported(format!(
            "none of the {total} SendGrid event(s) has an event type this mapper handles"
        )));
    }
    Ok(events.into())
}

/// Maps one array item; `None` (with a warning) for an event type this
/// mapper does not know, so one new SendGrid event type cannot make a whole
/// batch fail.
fn map_item(item: Value) -> Result<Option<Event>, PluginError> {
    if !item.is_object() {
        return Err(PluginError::invalid_input(format!(
            "expected an event object, got {}",
            kind_of(&item)
        )));
    }
    let name = match item.get("event") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(other) if !other.is_null() => {
            return Err(PluginError::invalid_input(format!(
                "field `event` must be a string, got {}",
                kind_of(other)
            )));
        }
        _ => return Err(PluginError::invalid_input("field `event` is missing")),
    };
    let Some((status, hard_bounce)) = status_of(&name, path::get_str(&item, "type").as_deref())
    else {
        host::warn(&format!("sendgrid: skipping event type `{name}`"));
        return Ok(None);
    };
    let error_code = match status {
        Status::Failed | Status::Deferred => path::get_str(&item, "status"),
        _ => None,
    };
    let description = path::get_str(&item, "reason").or_else(|| path::get_str(&item, "response"));
    let link = match status {
        Status::Clicked => path::get_str(&item, "url"),
        _ => None,
    };
    let event = Event::status(Channel::Email, status, VENDOR)
        .recipient(path::get_str(&item, "email"))
        .message_id(path::get_str(&item, "sg_message_id").map(|id| x_message_id(&id).to_string()))
        .timestamp(path::get(&item, "timestamp").and_then(time::timestamp_ms))
        .vendor_status(Some(name))
        .error(error_code, description)
        .hard_bounce(hard_bounce)
        .link(link)
        .raw(item);
    Ok(Some(event))
}

/// The canonical status and hard-bounce flag of a SendGrid `event` (and the
/// bounce `type`); `None` for event types this mapper does not handle.
fn status_of(event: &str, bounce_type: Option<&str>) -> Option<(Status, Option<bool>)> {
    Some(match event {
        "processed" => (Status::Queued, None),
        "deferred" => (Status::Deferred, None),
        "delivered" => (Status::Delivered, None),
        "open" => (Status::Read, None),
        "click" => (Status::Clicked, None),
        // A bounce without `type` is the classic hard bounce; `blocked` means
        // the receiving server refused the message, not that the address is
        // gone.
        "bounce" => match bounce_type {
            Some(kind) if kind.eq_ignore_ascii_case("blocked") => (Status::Failed, Some(false)),
            _ => (Status::Failed, Some(true)),
        },
        "dropped" => (Status::Failed, None),
        "spamreport" => (Status::Spam, None),
        "unsubscribe" | "group_unsubscribe" => (Status::Unsubscribed, None),
        "group_resubscribe" => (Status::SubscriptionChanged, None),
        _ => return None,
    })
}

/// The `X-Message-Id` part of an `sg_message_id`: everything before
/// `.filter…` (SendGrid appends the id of the filter server that processed
/// the message). Ids without that suffix are kept whole.
fn x_message_id(sg_message_id: &str) -> &str {
    match sg_message_id.find(".filter") {
        Some(at) if at > 0 => &sg_message_id[..at],
        _ => sg_message_id,
    }
}

/// Prefixes an item's error with its position in the batch.
fn in_item(error: PluginError, index: usize) -> PluginError {
    PluginError::new(error.kind, format!("event [{index}]: {}", error.message))
}

/// A short name of a JSON value's type, for error messages.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
