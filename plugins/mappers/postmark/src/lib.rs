//! Postmark webhook mapper: turns Postmark's delivery, bounce, spam
//! complaint, open, click and subscription-change webhooks into canonical
//! `email` status events (one event per POST; the body is its
//! `vendor_response`).
//!
//! | `RecordType`         | canonical status | timestamp | notes |
//! |----------------------|------------------|-----------|-------|
//! | `Delivery`           | `delivered` | `DeliveredAt` | description = `Details` (the receiving server's answer) |
//! | `Bounce`             | by `Type` (below) | `BouncedAt` | error_code = `TypeCode` (else `Type`) on failed/deferred; description = `Details`, else `Description` |
//! | `SpamComplaint`      | `spam` | `BouncedAt` | |
//! | `Open`               | `read` | `ReceivedAt` | |
//! | `Click`              | `clicked` (link = `OriginalLink`) | `ReceivedAt` | |
//! | `SubscriptionChange` | `unsubscribed` if `SuppressSending`, else `subscription_changed` (reactivated) | `ChangedAt` | description = `SuppressionReason` (`ManualSuppression`, `HardBounce`, `SpamComplaint`): a suppression caused by a bounce or complaint also arrives as its own Bounce/SpamComplaint webhook |
//!
//! Bounce `Type` (or `TypeCode` when `Type` is missing):
//!
//! | Postmark bounce type | canonical status |
//! |----------------------|------------------|
//! | `HardBounce` (1), `BadEmailAddress` (100000), `ManuallyDeactivated` (100002) | `failed`, hard_bounce = true |
//! | `Transient` (2), `SoftBounce` (4096), `DnsError` (256) | `deferred` (temporary; Postmark keeps the address active) |
//! | `SpamComplaint` (100001) | `spam` |
//! | `Unsubscribe` (16) | `unsubscribed` |
//! | `Subscribe` (32) | `subscription_changed` |
//! | `AutoResponder` (64) | `delivered` (an out-of-office reply means the mailbox got it) |
//! | any other (`SpamNotification`, `Blocked`, `DMARCPolicy`, `VirusNotification`, `ChallengeVerification`, `AddressChange`, `Unknown`, ...) | `failed`, hard_bounce = `Inactive` (whether Postmark deactivated the address) |
//!
//! Old webhooks without `RecordType` (see Postmark's "enable delivery
//! webhooks" support article) are recognised by their fields: `DeliveredAt` →
//! Delivery, `BouncedAt` → Bounce (SpamComplaint when `Type` says so),
//! `ChangedAt` + `SuppressSending` → SubscriptionChange, `OriginalLink` →
//! Click, `ReceivedAt` + `FirstOpen` → Open.
//!
//! recipient = `Recipient`, else `Email` (bounces and complaints);
//! vendor_message_id = `MessageID`; timestamps are ISO-8601 with up to seven
//! fractional digits and a `Z` or `-05:00` style offset. vendor_status = the
//! bounce `Type` for bounces, else the `RecordType`.

use wasmhook_sdk::prelude::*;

/// `vendor_name` of every event.
pub const VENDOR: &str = "postmark";

/// Maps one Postmark webhook POST.
#[mapper]
fn map(callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
    let body = callback.json_value()?;
    if !body.is_object() {
        return Err(PluginError::invalid_input(
            "expected a JSON object (one Postmark webhook record)",
        ));
    }
    let record_type = match path::get_str(&body, "RecordType") {
        Some(record_type) => record_type,
        None => infer_record_type(&body)
            .map(str::to_string)
            .ok_or_else(|| {
                PluginError::unsupported(
                    "no `RecordType`, and the fields match no known Postmark webhook",
                )
            })?,
    };
    let text = |key: &str| path::get_str(&body, key);
    let at = |key: &str| path::get(&body, key).and_then(time::timestamp_ms);
    let base = |status: Status, vendor_status: String| {
        Event::status(Channel::Email, status, VENDOR)
            .recipient(text("Recipient").or_else(|| text("Email")))
            .message_id(text("MessageID"))
            .vendor_status(Some(vendor_status))
    };
    let event = match record_type.as_str() {
        "Delivery" => base(Status::Delivered, record_type.clone())
            .timestamp(at("DeliveredAt"))
            .error(None, text("Details")),
        "Bounce" => {
            let bounce_type = text("Type");
            let type_code = path::get(&body, "TypeCode").and_then(Value::as_i64);
            let name = bounce_type
                .clone()
                .or_else(|| type_code.and_then(type_name).map(str::to_string));
            let inactive = path::get(&body, "Inactive").and_then(Value::as_bool);
            let (status, hard_bounce) = bounce_status(name.as_deref(), inactive);
            let code = match status {
                Status::Failed | Status::Deferred => {
                    type_code.map(|c| c.to_string()).or(bounce_type)
                }
                _ => None,
            };
            base(status, name.unwrap_or(record_type.clone()))
                .timestamp(at("BouncedAt"))
                .error(code, text("Details").or_else(|| text("Description")))
                .hard_bounce(hard_bounce)
        }
        "SpamComplaint" => base(Status::Spam, record_type.clone())
            .timestamp(at("BouncedAt"))
            .error(None, text("Details").or_else(|| text("Description"))),
        "Open" => base(Status::Read, record_type.clone()).timestamp(at("ReceivedAt")),
        "Click" => base(Status::Clicked, record_type.clone())
            .timestamp(at("ReceivedAt"))
            .link(text("OriginalLink")),
        "SubscriptionChange" => {
            let suppressed = path::get(&body, "SuppressSending")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let status = if suppressed {
                Status::Unsubscribed
            } else {
                Status::SubscriptionChanged
            };
            base(status, record_type.clone())
                .timestamp(at("ChangedAt"))
                .error(None, text("SuppressionReason"))
        }
        other => {
            return Err(PluginError::unsupported(format!(
                "Postmark RecordType `{other}` is not handled"
            )));
        }
    };
    Ok(vec![event.raw(body)])
}

/// The record type of an old webhook body without `RecordType`, from the
/// fields only that kind of webhook has.
fn infer_record_type(body: &Value) -> Option<&'static str> {
    let has = |key: &str| path::get(body, key).is_some();
    if has("DeliveredAt") {
        Some("Delivery")
    } else if has("BouncedAt") {
        let spam = path::get_str(body, "Type").as_deref() == Some("SpamComplaint");
        Some(if spam { "SpamComplaint" } else { "Bounce" })
    } else if has("ChangedAt") && has("SuppressSending") {
        Some("SubscriptionChange")
    } else if has("OriginalLink") {
        Some("Click")
    } else if has("ReceivedAt") && has("FirstOpen") {
        Some("Open")
    } else {
        None
    }
}

/// The canonical status and hard-bounce flag of a Postmark bounce type.
/// `inactive` is Postmark's own verdict on the address, used for the types
/// that are neither clearly hard nor clearly temporary.
fn bounce_status(bounce_type: Option<&str>, inactive: Option<bool>) -> (Status, Option<bool>) {
    match bounce_type.unwrap_or("Unknown") {
        "HardBounce" | "BadEmailAddress" | "ManuallyDeactivated" => (Status::Failed, Some(true)),
        "Transient" | "SoftBounce" | "DnsError" => (Status::Deferred, None),
        "SpamComplaint" => (Status::Spam, None),
        "Unsubscribe" => (Status::Unsubscribed, None),
        "Subscribe" => (Status::SubscriptionChanged, None),
        "AutoResponder" => (Status::Delivered, None),
        _ => (Status::Failed, Some(inactive.unwrap_or(false))),
    }
}

/// The bounce type named by a Postmark `TypeCode`.
fn type_name(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "HardBounce",
        2 => "Transient",
        16 => "Unsubscribe",
        32 => "Subscribe",
        64 => "AutoResponder",
        128 => "AddressChange",
        256 => "DnsError",
        512 => "SpamNotification",
        1024 => "OpenRelayTest",
        2048 => "Unknown",
        4096 => "SoftBounce",
        8192 => "VirusNotification",
        16384 => "ChallengeVerification",
        100000 => "BadEmailAddress",
        100001 => "SpamComplaint",
        100002 => "ManuallyDeactivated",
        100003 => "Unconfirmed",
        100006 => "Blocked",
        100007 => "SMTPApiError",
        100008 => "InboundError",
        100009 => "DMARCPolicy",
        100010 => "TemplateRenderingFailed",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
