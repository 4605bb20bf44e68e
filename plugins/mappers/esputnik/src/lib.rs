//! eSputnik (Yespo) activity webhooks → canonical events (`vendor_name` =
//! `esputnik`).
//!
//! eSputnik POSTs a JSON array of activities; each item becomes one event
//! whose `vendor_response` is that item (a single object outside an array
//! is taken as a one-item batch). The `GET` eSputnik sends to test a newly
//! saved URL, or any empty body, gives no events (the host answers 200).
//!
//! | `activityStatus` | canonical | also |
//! |---|---|---|
//! | `DELIVERED` | delivered | |
//! | `UNDELIVERED` | failed | `statusDescription` → description; `hardBounce` → hard_bounce (eSputnik: the contact is blacklisted) |
//! | `READ` | read | |
//! | `CLICKED` | clicked | `clickEventLink` → link |
//! | `UNSUBSCRIBED` | unsubscribed | |
//! | `SPAM` | spam | |
//! | `SUBSCRIPTION_CHANGED` | subscription_changed | the new categories stay in the raw item (`statusData.subscription`) |
//! | anything else | (skipped) | logged as a warning; the rest of the batch still maps |
//!
//! Unknown statuses are skipped rather than failing the call because
//! eSputnik retries a failed delivery and holds every later one back until
//! it succeeds: one activity type added by eSputnik would otherwise stop all
//! reporting. Malformed items (not objects, no `activityStatus`) still fail
//! the batch with `invalid_input`.
//!
//! Other fields: channel from `mediaType` (`email`, `sms`, `viber`, `push`,
//! `webpush`/`mobilepush` → push, `whatsapp`, `rcs`; unknown → other;
//! absent → email if there is an `email`, else sms if there is an `sms`,
//! else other); recipient from `email` for email, else `sms`/`phone`
//! (falling back to whichever is present); `vendor_message_id` = `iid`;
//! `distinct_id` = `externalCustomerId` (the sender's own id for the
//! contact).
//!
//! Time: `activityDateTime` has no zone (`2023-09-14T08:30:03`). It is read
//! in UTC unless the mapper config sets `timezone_offset` (`"+03:00"`,
//! `"-0500"`, `"Z"`), the offset of the account's time zone; a value with
//! its own zone keeps it.

mod settings;

use serde_json::Value;
use wasmhook_sdk::prelude::*;

pub use settings::Settings;

/// `vendor_name` of every event.
pub const VENDOR: &str = "esputnik";

/// Maps one eSputnik callback.
#[mapper]
pub fn map(callback: Callback, config: Config) -> Result<Mapped, PluginError> {
    let settings = Settings::from_config(&config)?;
    if callback.body.trim_ascii().is_empty() {
        host::info("empty callback (eSputnik's URL test): no events");
        return Ok(Mapped::default());
    }
    let items = match callback.json_value()? {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(PluginError::invalid_input(
                "body is neither a JSON array of activities nor one activity object",
            ));
        }
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Some(event) = map_activity(item, i, &settings)? {
            events.push(event);
        }
    }
    Ok(events.into())
}

/// The canonical status of an `activityStatus`; `None` when unknown.
pub fn status_of(name: &str) -> Option<Status> {
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "DELIVERED" => Status::Delivered,
        "UNDELIVERED" => Status::Failed,
        "READ" => Status::Read,
        "CLICKED" => Status::Clicked,
        "UNSUBSCRIBED" => Status::Unsubscribed,
        "SPAM" => Status::Spam,
        "SUBSCRIPTION_CHANGED" => Status::SubscriptionChanged,
        _ => return None,
    })
}

/// The channel of a `mediaType`.
pub fn channel_of(media_type: &str) -> Channel {
    match media_type.trim().to_ascii_lowercase().as_str() {
        "webpush" | "web_push" | "mobilepush" | "mobile_push" | "mob_push" | "push" => {
            Channel::Push
        }
        other => Channel::parse(other).unwrap_or(Channel::Other),
    }
}

/// Maps item `i`; `Ok(None)` for an activity status this mapper skips.
fn map_activity(item: Value, i: usize, settings: &Settings) -> Result<Option<Event>, PluginError> {
    if !item.is_object() {
        return Err(PluginError::invalid_input(format!(
            "activity [{i}] is not an object"
        )));
    }
    let name = path::get_str(&item, "activityStatus").ok_or_else(|| {
        PluginError::invalid_input(format!("field `[{i}].activityStatus` is missing"))
    })?;
    let Some(status) = status_of(&name) else {
        host::warn(&format!(
            "activity [{i}]: activityStatus `{name}` is not mapped; skipped"
        ));
        return Ok(None);
    };
    let email = path::get_str(&item, "email");
    let phone = path::get_str(&item, "sms").or_else(|| path::get_str(&item, "phone"));
    let channel = match path::get_str(&item, "mediaType") {
        Some(media_type) => channel_of(&media_type),
        None if email.is_some() => Channel::Email,
        None if phone.is_some() => Channel::Sms,
        None => Channel::Other,
    };
    let recipient = if channel == Channel::Email {
        email.or(phone)
    } else {
        phone.or(email)
    };
    let mut event = Event::status(channel, status, VENDOR)
        .recipient(recipient)
        .message_id(path::get_str(&item, "iid"))
        .distinct_id(path::get_str(&item, "externalCustomerId"))
        .timestamp(settings.timestamp(item.get("activityDateTime")))
        .vendor_status(Some(name));
    match status {
        Status::Failed => {
            event = event
                .error(None, path::get_str(&item, "statusDescription"))
                .hard_bounce(item.get("hardBounce").and_then(as_bool));
        }
        Status::Clicked => event = event.link(path::get_str(&item, "clickEventLink")),
        _ => {}
    }
    Ok(Some(event.raw(item)))
}

/// A JSON boolean, or `"true"`/`"false"` as text.
fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
