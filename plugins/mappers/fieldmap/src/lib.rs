//! `fieldmap`: onboard a vendor with configuration only (seeds 002 and 004).
//! The source's mapper config says where the canonical fields are in the
//! vendor's callback — JSON, form, XML or a GET query alike (everything is
//! read through `Callback::payload()`; form and query values are strings,
//! XML follows `wasmhook_sdk::xml`).
//!
//! # Configuration
//!
//! ```json
//! {
//!   "vendor": "infobip",
//!   "channel": "sms",
//!   "items": "results[]",
//!   "fields": {
//!     "channel_value": "to",
//!     "vendor_message_id": "messageId",
//!     "idempotency_key": "callbackData",
//!     "status": "status.groupName",
//!     "timestamp": ["doneAt", "sentAt"],
//!     "error_code": {"path": "error.name", "ignore": ["NO_ERROR"]},
//!     "description": "status.description",
//!     "hard_bounce": "error.permanent"
//!   },
//!   "statuses": {"PENDING": "sent", "DELIVERED": "delivered", "UNDELIVERABLE": "failed",
//!                "EXPIRED": "failed", "REJECTED": "failed"}
//! }
//! ```
//!
//! | key | meaning |
//! |---|---|
//! | `vendor` | required: the events' `vendor_name` |
//! | `channel` | a channel name (`sms`, `whatsapp`, …) or `{"path": …, "map": {"SMS": "sms", "*": "other"}, "missing": "sms"}`; default: `whatsapp` when the address has a `whatsapp:` prefix, else `other` |
//! | `items` | path of the batch: `results[]`, `statuses[].recipients[]`, `data`; fields are read relative to each item. Default: a top-level array is the batch, an object is a batch of one. A payload without this path is `unsupported`; an empty batch gives no events |
//! | `event_type` | `status` (default), `inbound_message`, or `{"path": "status", "map": {"*": "status"}, "missing": "inbound_message"}` |
//! | `fields` | where each canonical field is (below) |
//! | `statuses` | vendor status → canonical status or `{"status": "failed", "hard_bounce": true}` |
//! | `timestamp_format` | `auto` (default: epoch s/ms by magnitude, ISO-8601, `YYYY-MM-DD HH:MM:SS`), `epoch_s`, `epoch_ms`, `iso8601`, `compact` (`YYMMDDHHMM[SS]`), or a strftime pattern such as `%d/%m/%Y %H:%M` |
//! | `timezone` | offset of times written without one: `+05:30`, `-0300`, `UTC` (default) |
//! | `shapes` | payload shapes of one source, `[{"when": …, "name": …, <any key above but vendor>}]` (below) |
//!
//! **Fields**: `channel_value`, `vendor_message_id`, `idempotency_key`,
//! `distinct_id`, `status`, `timestamp`, `error_code`, `description`,
//! `hard_bounce`, `link`, `inbound_from`, `inbound_to`, `inbound_text`,
//! `inbound_type`. Each is a path, a list of fallbacks (the first that
//! gives a value wins; an element is a path or an object as below),
//! `{"value": constant}`, or an object:
//!
//! | key | meaning |
//! |---|---|
//! | `path` | a path or a list of fallback paths |
//! | `value` | a constant instead of `path` |
//! | `ignore` | values that mean "none", such as an error code `0` (with `path`) |
//! | `when` | read the field only if this condition holds for the item (a list: all must hold), e.g. `{"path": "type", "equals": "message-failed"}` |
//! | `transform` | text steps applied in order (one or a list): `"lowercase"`, `"uppercase"`, `"trim"`, `{"strip_prefix": "tel:"}`, `{"strip_suffix": ":0"}`, `{"split": ":", "index": 0}` (negative counts from the end), `{"replace": " ", "with": ""}`, `{"prepend": "+"}`, `{"append": "…"}` |
//! | `map` | value map after `transform`, for any field: `{"image": "media", "*": "text"}`; case-insensitive, `"*"` catches the rest, a `null` target makes the field absent, a value without entry (and no `"*"`) is kept |
//!
//! Null and empty values count as absent (also after `transform`/`map`),
//! so the next fallback is tried. A map on `fields.status` runs before
//! `statuses` and its result is the `vendor_status`.
//!
//! **Paths**: `a.b`, `a[0].b`, `a[-1]` (the last element, `[-2]` the one
//! before), `a[]` (every element), `"quoted.key"`, `$` = the item itself,
//! `$root.a` = from the whole payload, `$parent.a` = from the enclosing
//! element of a nested batch. `@json` parses the JSON text reached so far
//! and continues into it: `mandrill_events.@json[0].msg.email`, or as
//! `items`, `mandrill_events.@json[]` (text that is not JSON is absent in a
//! field and `invalid_input` in `items`). Where a list is expected a single
//! value counts as a list of one: form and query keys sent repeatedly
//! (`to=a&to=b`) are arrays and a key sent once is a plain value, yet
//! `to[]`, `to[0]` and `to[-1]` read both alike.
//!
//! **Conditions** (`when` of a field or a shape): `{"path": P}` — something
//! is at `P`; `{"path": P, "present": false}` — nothing is; `{"path": P,
//! "equals": "x"}` or `"equals": ["x", "y"]` — a value at `P` is one of
//! these (as text, case-insensitively). A list of conditions needs all.
//!
//! **Shapes**: one source, several payload shapes (a batch report and a
//! per-recipient one; WhatsApp `statuses` and `messages`; an inbound form
//! POST and a status GET). Each entry of `shapes` has a `when`, tested on
//! the whole payload, an optional `name` for messages, and any of
//! `channel`, `items`, `event_type`, `fields`, `statuses`,
//! `timestamp_format`, `timezone`. The first shape whose `when` holds is
//! laid over the top-level settings: each key it sets replaces the shared
//! one, except `fields` (field by field) and `statuses` (entry by entry).
//! No shape matching is `unsupported`, naming what each shape needs
//! (`the payload matches none of config.shapes: status needs `status`
//! present; inbound needs `from` present`). Without `shapes` the top-level
//! settings apply to every payload, as in v1.
//!
//! A **fixed channel** for payloads that do not carry one is `"channel":
//! "whatsapp"` (at the top or in a shape).
//!
//! **Selectors** (`channel`, `event_type` as `{path, map, missing}`): the
//! value at `path` is looked up in `map` case-insensitively; a value that
//! already is a canonical name needs no entry; `"*"` catches any other
//! value; `missing` is used when `path` holds nothing (default: `status`,
//! and for the channel the address prefix or `other`). An unmapped value
//! without `"*"` is `invalid_input` listing the known ones.
//!
//! # Status policy
//!
//! The vendor's status text (`fields.status`, kept as `vendor_status`) is
//! looked up in this order:
//!
//! | step | example |
//! |---|---|
//! | 1. `statuses`, case-insensitively | `"UNDELIVERABLE": "failed"` |
//! | 2. the text is itself a canonical status | `delivered` → `delivered` |
//! | 3. the `"*"` default of `statuses` | `"*": "sent"` |
//! | 4. otherwise `invalid_input` naming the status and the known ones | |
//!
//! A status event without `fields.status` uses `"*"`. `hard_bounce` is
//! reported on `failed` and `deferred` events only (a `statuses` entry's
//! `hard_bounce` wins over `fields.hard_bounce`). Addresses keep the
//! vendor's form except a channel prefix (`whatsapp:+1…` → `+1…`).
//!
//! **Inbound messages**: `from` is `inbound_from` (else `channel_value`),
//! `type` is `inbound_type` (else `text`), `text` is `inbound_text`.
//!
//! `vendor_response` is the item when it is an object, else its enclosing
//! element, else the whole payload. Configuration mistakes are
//! `invalid_config` naming the key (`config.fields.stauts: unknown field`,
//! `config.fields.status: path `a[`: `[` without `]``,
//! `config.fields.status: transform[1]: `strip_suffix` expects text`,
//! `config.shapes[0]: missing field `when``).

mod config;
mod extract;
mod shapes;
mod spec;
mod transform;

use wasmhook_sdk::prelude::*;

use config::Named;
pub use config::{FieldmapConfig, Fields, Selector, StatusTarget};
use extract::Item;
pub use shapes::Shape;
pub use spec::{Condition, FieldSpec, PathRef, Scope, Source, Test};
pub use transform::{Transform, ValueMap};

/// Maps one callback with the source's fieldmap configuration.
#[mapper]
pub fn map(callback: Callback, config: Config) -> Result<Mapped, PluginError> {
    let config: FieldmapConfig = config.parse()?;
    let mut payload = callback.payload()?;
    let config = config.for_payload(&payload)?;
    let segments = match &config.items {
        Some(items) if items.parses_json() => extract::inline_json(&mut payload, items)?,
        Some(items) => items.path.segments().to_vec(),
        None => Vec::new(),
    };
    let items = extract::split(&payload, &segments).ok_or_else(|| {
        let path = config
            .items
            .as_ref()
            .map(|p| p.path.as_str())
            .unwrap_or("$");
        PluginError::unsupported(format!(
            "the payload has nothing at `{path}` (config.items)"
        ))
    })?;
    let batch = items.len() > 1 || config.items.is_some() || payload.is_array();
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let event = map_item(item, &config).map_err(|e| {
            if batch {
                PluginError::new(e.kind, format!("item {i}: {}", e.message))
            } else {
                e
            }
        })?;
        events.push(event);
    }
    Ok(events.into())
}

/// One item as a canonical event.
fn map_item(item: &Item<'_>, config: &FieldmapConfig) -> Result<Event, PluginError> {
    let fields = &config.fields;
    let event_type = match &config.event_type {
        None => EventType::Status,
        Some(selector) => select(item, selector, EventType::Status, "config.event_type")?,
    };
    let address = item.text(fields.channel_value.as_ref());
    let prefix_channel = address.as_deref().and_then(prefixed_channel);
    let channel = match &config.channel {
        None => prefix_channel.unwrap_or(Channel::Other),
        Some(selector) => select(
            item,
            selector,
            prefix_channel.unwrap_or(Channel::Other),
            "config.channel",
        )?,
    };
    let address = address.map(|a| strip_prefix(&a, channel));
    let timestamp = item.timestamp(
        fields.timestamp.as_ref(),
        &config.timestamp_format,
        config.timezone,
    );
    let event = match event_type {
        EventType::Status => {
            let vendor_status = item.text(fields.status.as_ref());
            let target = status_of(vendor_status.as_deref(), config)?;
            let hard_bounce = match target.status {
                Status::Failed | Status::Deferred => target
                    .hard_bounce
                    .or_else(|| item.flag(fields.hard_bounce.as_ref())),
                _ => None,
            };
            Event::status(channel, target.status, &config.vendor)
                .recipient(address)
                .vendor_status(vendor_status)
                .error(
                    item.text(fields.error_code.as_ref()),
                    item.text(fields.description.as_ref()),
                )
                .hard_bounce(hard_bounce)
                .link(item.text(fields.link.as_ref()))
        }
        EventType::InboundMessage => {
            let from = item
                .text(fields.inbound_from.as_ref())
                .map(|a| strip_prefix(&a, channel))
                .or(address)
                .ok_or_else(|| {
                    PluginError::invalid_input(
                        "inbound message without a sender (config.fields.inbound_from or channel_value)",
                    )
                })?;
            let mut message = InboundMessage::new(
                from,
                item.text(fields.inbound_type.as_ref())
                    .unwrap_or_else(|| "text".to_string()),
            );
            message.to = item
                .text(fields.inbound_to.as_ref())
                .map(|a| strip_prefix(&a, channel));
            message.text = item.text(fields.inbound_text.as_ref());
            Event::inbound(channel, message, &config.vendor)
        }
    };
    Ok(event
        .timestamp(timestamp)
        .message_id(item.text(fields.vendor_message_id.as_ref()))
        .idempotency_key(item.text(fields.idempotency_key.as_ref()))
        .distinct_id(item.text(fields.distinct_id.as_ref()))
        .raw(item.raw().clone()))
}

/// The canonical status of a vendor status (see the crate doc's policy).
fn status_of(
    vendor_status: Option<&str>,
    config: &FieldmapConfig,
) -> Result<StatusTarget, PluginError> {
    let default = config.statuses.get("*").copied();
    let Some(text) = vendor_status else {
        return default.ok_or_else(|| match &config.fields.status {
            None => PluginError::invalid_config(
                "config.fields.status is not set and config.statuses has no \"*\" default",
            ),
            Some(_) => PluginError::invalid_input(
                "no status at config.fields.status and config.statuses has no \"*\" default",
            ),
        });
    };
    let key = text.trim().to_lowercase();
    if let Some(target) = config.statuses.get(&key) {
        return Ok(*target);
    }
    if let Some(status) = Status::parse(&key) {
        return Ok(StatusTarget {
            status,
            hard_bounce: None,
        });
    }
    default.ok_or_else(|| {
        let known: Vec<&str> = config.statuses.keys().map(String::as_str).collect();
        PluginError::invalid_input(format!(
            "vendor status `{text}` is not in config.statuses (known: {}) and there is no \"*\" default",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ))
    })
}

/// A `Selector`'s value for `item`: constant, or read and mapped.
fn select<T: Named + Copy>(
    item: &Item<'_>,
    selector: &Selector<T>,
    fallback: T,
    what: &str,
) -> Result<T, PluginError> {
    let (path, map, missing) = match selector {
        Selector::Constant(value) => return Ok(*value),
        Selector::Mapped { path, map, missing } => (path, map, missing),
    };
    let Some(text) = item.text(Some(path)) else {
        return Ok(missing.unwrap_or(fallback));
    };
    let key = text.trim().to_lowercase();
    if let Some(value) = map
        .get(&key)
        .copied()
        .or_else(|| T::from_name(&key))
        .or_else(|| map.get("*").copied())
    {
        return Ok(value);
    }
    let known: Vec<&str> = map.keys().map(String::as_str).collect();
    Err(PluginError::invalid_input(format!(
        "`{text}` is not a {} and not in {what}.map (known: {}) and there is no \"*\" default",
        T::WHAT,
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// The channel named by an address prefix such as `whatsapp:`.
fn prefixed_channel(address: &str) -> Option<Channel> {
    let (prefix, _) = address.split_once(':')?;
    Channel::parse(prefix).filter(|c| *c != Channel::Other)
}

/// `whatsapp:+1555…` → `+1555…` when the prefix names `channel`.
fn strip_prefix(address: &str, channel: Channel) -> String {
    match address.split_once(':') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(channel.as_str()) => {
            rest.trim().to_string()
        }
        _ => address.to_string(),
    }
}

#[cfg(test)]
mod tests;
