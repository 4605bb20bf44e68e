//! One SES record (classic notification or event-publishing event) to
//! canonical events, one per affected recipient.

use wasmhook_sdk::prelude::*;

use crate::VENDOR;

/// What one SES record type becomes.
struct Kind {
    /// The canonical status (the bounce type may refine it).
    status: Status,
    /// The record key holding the type-specific details (`bounce`, `open`...).
    section: &'static str,
    /// The key of the per-recipient list inside `section`, if the type has one.
    recipients: Option<&'static str>,
}

/// The mapping of an SES `eventType` / `notificationType`; `None` for types
/// this mapper does not know.
fn kind_of(name: &str) -> Option<Kind> {
    let (status, section, recipients) = match name {
        "Send" => (Status::Sent, "send", None),
        "Delivery" => (Status::Delivered, "delivery", Some("recipients")),
        "Bounce" => (Status::Failed, "bounce", Some("bouncedRecipients")),
        "Complaint" => (Status::Spam, "complaint", Some("complainedRecipients")),
        "Reject" => (Status::Failed, "reject", None),
        "Open" => (Status::Read, "open", None),
        "Click" => (Status::Clicked, "click", None),
        "Rendering Failure" => (Status::Failed, "failure", None),
        "DeliveryDelay" => (Status::Deferred, "deliveryDelay", Some("delayedRecipients")),
        "Subscription" => (Status::Unsubscribed, "subscription", None),
        _ => return None,
    };
    Some(Kind {
        status,
        section,
        recipients,
    })
}

/// Maps one SES record: one event per affected recipient.
pub fn map_record(record: Value) -> Result<Vec<Event>, PluginError> {
    let name = path::get_str(&record, "eventType")
        .or_else(|| path::get_str(&record, "notificationType"))
        .ok_or_else(|| {
            PluginError::unsupported(
                "not an SES record: neither `eventType` nor `notificationType` is set",
            )
        })?;
    if name == "AmazonSnsSubscriptionSucceeded" {
        // SES's notice that a topic was attached to an identity: no message.
        host::info("SES: SNS topic subscription succeeded");
        return Ok(Vec::new());
    }
    let kind = kind_of(&name).ok_or_else(|| {
        PluginError::unsupported(format!("SES record type `{name}` is not handled"))
    })?;
    let empty = Value::Null;
    let section = record.get(kind.section).unwrap_or(&empty);
    let (status, hard_bounce) = refine(&kind, section);
    let message_id = path::get_str(&record, "mail.messageId");
    let timestamp = path::get(section, "timestamp")
        .or_else(|| path::get(&record, "mail.timestamp"))
        .and_then(time::timestamp_ms);
    let link = match status {
        Status::Clicked => path::get_str(section, "link"),
        _ => None,
    };
    // A whole-message description (per-recipient details override it).
    let message_description = match kind.section {
        "delivery" => path::get_str(section, "smtpResponse"),
        "bounce" => path::get_str(section, "bounceSubType"),
        "complaint" => path::get_str(section, "complaintFeedbackType"),
        "reject" => path::get_str(section, "reason"),
        "failure" => path::get_str(section, "errorMessage"),
        "deliveryDelay" => path::get_str(section, "delayType"),
        _ => None,
    };

    let recipients = recipients(&kind, section, &record);
    if recipients.is_empty() {
        host::warn(&format!("SES {name} record without any recipient"));
    }
    let targets: Vec<Option<&Value>> = if recipients.is_empty() {
        vec![None]
    } else {
        recipients.into_iter().map(Some).collect()
    };
    Ok(targets
        .into_iter()
        .map(|recipient| {
            // Recipients are plain addresses or objects with `emailAddress`
            // and, for bounces and delays, their own status and diagnostic.
            let address = recipient.and_then(|r| match r {
                Value::Object(_) => path::get_str(r, "emailAddress"),
                other => path::value_to_string(other),
            });
            let code = match status {
                Status::Failed | Status::Deferred => {
                    recipient.and_then(|r| path::get_str(r, "status"))
                }
                _ => None,
            };
            let description = recipient
                .and_then(|r| path::get_str(r, "diagnosticCode"))
                .or_else(|| message_description.clone());
            Event::status(Channel::Email, status, VENDOR)
                .recipient(address)
                .message_id(message_id.clone())
                .timestamp(timestamp)
                .vendor_status(Some(name.clone()))
                .error(code, description)
                .hard_bounce(hard_bounce)
                .link(link.clone())
                .raw(record.clone())
        })
        .collect())
}

/// The final status and hard-bounce flag: bounces by `bounceType`,
/// subscriptions by `newTopicPreferences.unsubscribeAll`.
fn refine(kind: &Kind, section: &Value) -> (Status, Option<bool>) {
    match kind.section {
        // SES only reports a transient/undetermined bounce once it has given
        // up retrying: still a failure, but the address may work later.
        "bounce" => {
            let permanent = path::get_str(section, "bounceType")
                .is_some_and(|t| t.eq_ignore_ascii_case("Permanent"));
            (Status::Failed, Some(permanent))
        }
        "subscription" => {
            let all = path::get(section, "newTopicPreferences.unsubscribeAll")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let status = if all {
                Status::Unsubscribed
            } else {
                Status::SubscriptionChanged
            };
            (status, None)
        }
        _ => (kind.status, None),
    }
}

/// The recipients the record is about: the type's own list when it has a
/// non-empty one, else every `mail.destination`.
fn recipients<'a>(kind: &Kind, section: &'a Value, record: &'a Value) -> Vec<&'a Value> {
    let own = kind
        .recipients
        .and_then(|key| section.get(key))
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty());
    own.or_else(|| path::get(record, "mail.destination").and_then(Value::as_array))
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}
