//! Mailgun webhook mapper: turns Mailgun's JSON webhooks
//! (`{"signature": {...}, "event-data": {...}}`) into canonical `email`
//! status events, one per POST. A bare `event-data` object (the Events API
//! structure, which the webhook's `event-data` equals) is accepted too.
//!
//! | Mailgun `event`                 | canonical status | notes |
//! |---------------------------------|------------------|-------|
//! | `accepted`                      | `queued` | Mailgun queued the message; it has not left Mailgun yet (the vendor INDEX suggests `sent`; we follow the plugin policy "accepted → queued") |
//! | `delivered`                     | `delivered` | description = the receiving server's answer |
//! | `opened`                        | `read` | |
//! | `clicked`                       | `clicked` | link = `url` |
//! | `unsubscribed`                  | `unsubscribed` | |
//! | `complained`                    | `spam` | |
//! | `failed`, `severity` `permanent` | `failed`, hard_bounce = true | except `reason` `suppress-unsubscribe` / `suppress-complaint`: not sent because the user opted out, hard_bounce = false |
//! | `failed`, `severity` `temporary` | `deferred` | Mailgun retries |
//! | `failed`, no severity           | `failed` | hard_bounce unknown |
//! | `rejected`                      | `failed` | description = `reject.reason` |
//! | `stored`                        | no event | an inbound message was stored for a route: not a delivery status |
//!
//! Fields: recipient = `recipient` (else `envelope.targets`; a `rejected`
//! event names none); vendor_message_id = `message.headers.message-id`, else
//! the event `id`; timestamp = `timestamp` (float epoch seconds, rounded to
//! the millisecond); error_code (failed/deferred only) =
//! `delivery-status.code`; description = `delivery-status.description`, else
//! `delivery-status.message`, else `reason`. vendor_response = the
//! `event-data` object.
//!
//! Config: `{"signing_key": "..."}` (optional). When set, the webhook's
//! `signature` must be the hex HMAC-SHA256 of `timestamp` + `token` under
//! that key, else the callback is refused (`invalid_input`, "signature does
//! not match"); a bare event-data object (no signature) is refused too.
//! Replay protection (a maximum age of `signature.timestamp`) is left to
//! the host's deduplication.

use serde::Deserialize;
use wasmhook_sdk::prelude::*;

mod signature;

/// `vendor_name` of every event.
pub const VENDOR: &str = "mailgun";

/// The mapper's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Mailgun's HTTP webhook signing key; enables signature checks.
    #[serde(default)]
    signing_key: Option<String>,
}

/// Maps one Mailgun webhook POST.
#[mapper]
fn map(callback: Callback, config: Config) -> Result<Vec<Event>, PluginError> {
    let settings: Settings = config.parse()?;
    let body = callback.json_value()?;
    let Value::Object(mut fields) = body else {
        return Err(PluginError::invalid_input(
            "expected a JSON object (a Mailgun webhook)",
        ));
    };
    let (signature, event_data) = match fields.remove("event-data") {
        Some(event_data) => (fields.remove("signature"), event_data),
        None if fields.contains_key("event") => (None, Value::Object(fields)),
        None => {
            return Err(PluginError::unsupported(
                "neither `event-data` nor `event` is present: not a Mailgun webhook",
            ));
        }
    };
    if let Some(key) = settings.signing_key.as_deref().filter(|k| !k.is_empty()) {
        signature::verify(signature.as_ref(), key)?;
    }
    Ok(map_event(event_data)?.into_iter().collect())
}

/// Maps one `event-data` object; `None` for events that are not about a
/// sent message (`stored`).
fn map_event(data: Value) -> Result<Option<Event>, PluginError> {
    let name = match data.get("event") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(_) => {
            return Err(PluginError::invalid_input(
                "field `event-data.event` must be a non-empty string",
            ));
        }
        None => {
            return Err(PluginError::invalid_input(
                "field `event-data.event` is missing",
            ));
        }
    };
    if name == "stored" {
        host::debug("mailgun: `stored` (inbound message stored) is not a delivery status");
        return Ok(None);
    }
    let severity = path::get_str(&data, "severity");
    let reason = path::get_str(&data, "reason");
    let (status, hard_bounce) = status_of(&name, severity.as_deref(), reason.as_deref())
        .ok_or_else(|| {
            PluginError::unsupported(format!("Mailgun event `{name}` is not handled"))
        })?;
    let code = match status {
        Status::Failed | Status::Deferred => path::get_str(&data, "delivery-status.code"),
        _ => None,
    };
    let description = if name == "rejected" {
        path::get_str(&data, "reject.reason").or_else(|| path::get_str(&data, "reject.description"))
    } else {
        path::get_str(&data, "delivery-status.description")
            .or_else(|| path::get_str(&data, "delivery-status.message"))
            .or(reason)
    };
    let link = match status {
        Status::Clicked => path::get_str(&data, "url"),
        _ => None,
    };
    let timestamp = path::get(&data, "timestamp")
        .and_then(|t| time::timestamp_ms_with(t, &time::TimeFormat::EpochSeconds, None));
    Ok(Some(
        Event::status(Channel::Email, status, VENDOR)
            .recipient(
                path::get_str(&data, "recipient")
                    .or_else(|| path::get_str(&data, "envelope.targets")),
            )
            .message_id(
                path::get_str(&data, "message.headers.message-id")
                    .or_else(|| path::get_str(&data, "id")),
            )
            .timestamp(timestamp)
            .vendor_status(Some(name))
            .error(code, description)
            .hard_bounce(hard_bounce)
            .link(link)
            .raw(data),
    ))
}

/// The canonical status and hard-bounce flag of a Mailgun event; `None` for
/// events this mapper does not handle.
fn status_of(
    event: &str,
    severity: Option<&str>,
    reason: Option<&str>,
) -> Option<(Status, Option<bool>)> {
    Some(match event {
        "accepted" => (Status::Queued, None),
        "delivered" => (Status::Delivered, None),
        "opened" => (Status::Read, None),
        "clicked" => (Status::Clicked, None),
        "unsubscribed" => (Status::Unsubscribed, None),
        "complained" => (Status::Spam, None),
        "rejected" => (Status::Failed, None),
        "failed" => match severity {
            Some("temporary") => (Status::Deferred, None),
            // Suppressed because the user opted out or complained: the
            // address itself works.
            Some("permanent") => {
                let opted_out =
                    matches!(reason, Some("suppress-unsubscribe" | "suppress-complaint"));
                (Status::Failed, Some(!opted_out))
            }
            _ => (Status::Failed, None),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
