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
//! Event names are matched without regard to case. Anything else is skipped
//! with a warning; a batch in which nothing could be mapped is refused as
//! `unsupported`. (Written with the SDK's `map` helpers: the status table,
//! the batch and the field errors are theirs.)
//!
//! Fields: recipient = `email`; timestamp = `timestamp` (epoch seconds);
//! error_code (failed/deferred only) = `status`; description = `reason`, else
//! `response`. vendor_message_id = `sg_message_id` with its `.filter…` suffix
//! stripped, because that prefix is the `X-Message-Id` SendGrid returns when
//! the message is sent (the only id the sender knows); the full id stays in
//! `vendor_response`, as does `sg_event_id` (SendGrid's per-event id, which
//! is not a sender-attached idempotency key).

use wasmhook_sdk::map::{StatusTable, events_from_items, require_str};
use wasmhook_sdk::prelude::*;

/// `vendor_name` of every event.
const VENDOR: &str = "sendgrid";

/// SendGrid's `event` names and the statuses they mean (the table above).
const STATUSES: StatusTable = StatusTable::new(
    "SendGrid event",
    &[
        ("processed", Status::Queued),
        ("deferred", Status::Deferred),
        ("delivered", Status::Delivered),
        ("open", Status::Read),
        ("click", Status::Clicked),
        ("bounce", Status::Failed),
        ("dropped", Status::Failed),
        ("spamreport", Status::Spam),
        ("unsubscribe", Status::Unsubscribed),
        ("group_unsubscribe", Status::Unsubscribed),
        ("group_resubscribe", Status::SubscriptionChanged),
    ],
);

/// Maps one Event Webhook POST: a JSON array of events, or one event.
#[mapper]
pub fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
    events_from_items(callback.json_value()?, "SendGrid event", map_item).map(Mapped::from)
}

/// Maps one event; `None` for an event type this mapper does not know.
fn map_item(item: Value) -> Result<Option<Event>, PluginError> {
    let name = require_str(&item, "event")?;
    let Some(status) = STATUSES.get(&name) else {
        return Ok(None);
    };
    let failed = matches!(status, Status::Failed | Status::Deferred);
    Ok(Some(
        Event::status(Channel::Email, status, VENDOR)
            .recipient(path::get_str(&item, "email"))
            .message_id(
                path::get_str(&item, "sg_message_id").map(|id| x_message_id(&id).to_owned()),
            )
            .timestamp(path::get(&item, "timestamp").and_then(time::timestamp_ms))
            .error(
                path::get_str(&item, "status").filter(|_| failed),
                path::get_str(&item, "reason").or_else(|| path::get_str(&item, "response")),
            )
            .hard_bounce(hard_bounce(&name, path::get_str(&item, "type").as_deref()))
            .link(path::get_str(&item, "url").filter(|_| status == Status::Clicked))
            .vendor_status(Some(name))
            .raw(item),
    ))
}

/// Whether a `bounce` is hard: one without `type` is the classic hard
/// bounce; `blocked` means the receiving server refused the message, not
/// that the address is gone. Other events say nothing about it.
fn hard_bounce(event: &str, bounce_type: Option<&str>) -> Option<bool> {
    event
        .eq_ignore_ascii_case("bounce")
        .then(|| !bounce_type.is_some_and(|kind| kind.eq_ignore_ascii_case("blocked")))
}

/// The `X-Message-Id` part of an `sg_message_id`: everything before
/// `.filter…` (SendGrid appends the id of the filter server that processed
/// the message). Ids without that suffix are kept whole.
fn x_message_id(id: &str) -> &str {
    id.find(".filter")
        .filter(|at| *at > 0)
        .map_or(id, |at| &id[..at])
}

#[cfg(test)]
mod tests;
