//! Amazon SES mapper: turns SES notifications (delivered over SNS HTTP(S)
//! subscriptions) into canonical `email` status events.
//!
//! SNS POSTs a JSON envelope with `Content-Type: text/plain`; the body is
//! read as JSON whatever the content type.
//!
//! | SNS `Type`                 | what happens |
//! |----------------------------|--------------|
//! | `Notification`             | `Message` is a JSON-encoded *string* holding the SES record: it is parsed and mapped as below |
//! | `SubscriptionConfirmation`, `UnsubscribeConfirmation` | no events; the `SubscribeURL` is logged at info level. A mapper cannot call out, so the operator confirms the subscription by opening that URL (from the plugin logs) |
//! | `Notification` whose `Message` is not a JSON object (a plain-text test publish such as `Hello world!`) | refused as `unsupported`, so it shows among the rejected callbacks instead of vanishing |
//!
//! A bare SES record (no envelope: SNS "raw message delivery", or a record
//! posted by hand) is mapped directly.
//!
//! SES records come in two families: classic notifications (`notificationType`:
//! Bounce, Complaint, Delivery) and event publishing (`eventType`: the list
//! below). Both map the same way:
//!
//! | SES type                 | canonical status | recipients (one event each) | timestamp | error / description |
//! |--------------------------|------------------|-----------------------------|-----------|---------------------|
//! | `Send`                   | `sent` | `mail.destination` | `mail.timestamp` | |
//! | `Delivery`               | `delivered` | `delivery.recipients` | `delivery.timestamp` | description = `smtpResponse` |
//! | `Bounce`, `bounceType` `Permanent` | `failed`, hard_bounce = true | `bounce.bouncedRecipients` | `bounce.timestamp` | code = recipient `status` (`5.1.1`), description = `diagnosticCode`, else `bounceSubType` |
//! | `Bounce`, `Transient` / `Undetermined` | `failed`, hard_bounce = false | same | same | same; SES reports a soft bounce once it has stopped retrying, so this is a failure, not a deferral |
//! | `Complaint`              | `spam` | `complaint.complainedRecipients` | `complaint.timestamp` | description = `complaintFeedbackType` |
//! | `Reject`                 | `failed` | `mail.destination` | `mail.timestamp` | description = `reject.reason` |
//! | `Open`                   | `read` | `mail.destination` | `open.timestamp` | |
//! | `Click`                  | `clicked` (link = `click.link`) | `mail.destination` | `click.timestamp` | |
//! | `Rendering Failure`      | `failed` | `mail.destination` | `mail.timestamp` | description = `failure.errorMessage` |
//! | `DeliveryDelay`          | `deferred` | `deliveryDelay.delayedRecipients` | `deliveryDelay.timestamp` | code = recipient `status`, description = `diagnosticCode`, else `delayType` |
//! | `Subscription`           | `unsubscribed` if `newTopicPreferences.unsubscribeAll`, else `subscription_changed` | `mail.destination` | `subscription.timestamp` | |
//! | `AmazonSnsSubscriptionSucceeded` | no events (SES's "topic connected" notice) | | | |
//!
//! When the event-specific recipient list is missing, `mail.destination` is
//! used. SES does not say *which* recipient opened or clicked a message sent
//! to several addresses: such an Open/Click/Subscription gives one event per
//! destination (send one recipient per message to track engagement exactly).
//!
//! vendor_message_id = `mail.messageId` (the id `SendEmail` returned; not
//! `mail.commonHeaders.messageId`, the RFC Message-ID). vendor_status = the SES
//! type (`Bounce`, `Delivery`, ...). vendor_response = the SES record, parsed
//! out of the envelope. The SNS signature is not verified (that needs the
//! signing certificate fetched from AWS, which a mapper cannot do): protect
//! the source with its ingest token.

use wasmhook_sdk::prelude::*;

mod record;

pub use record::map_record;

/// `vendor_name` of every event.
pub const VENDOR: &str = "ses";

/// Maps one SNS (or bare SES) callback.
#[mapper]
fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
    // SNS sends JSON as `text/plain`, so parse the body whatever the type.
    let body = callback.json_value()?;
    if !body.is_object() {
        return Err(PluginError::invalid_input(
            "expected a JSON object: an SNS message or an SES record",
        ));
    }
    match path::get_str(&body, "Type") {
        Some(kind) => map_envelope(&kind, body),
        None => Ok(map_record(body)?.into()),
    }
}

/// Handles an SNS envelope of type `kind`.
fn map_envelope(kind: &str, envelope: Value) -> Result<Mapped, PluginError> {
    match kind {
        "Notification" => {
            let message = match envelope.get("Message") {
                Some(Value::String(text)) => text,
                Some(_) => {
                    return Err(PluginError::invalid_input(
                        "SNS field `Message` must be a string",
                    ));
                }
                None => return Err(PluginError::invalid_input("SNS field `Message` is missing")),
            };
            let record = match wasmhook_sdk::serde_json::from_str::<Value>(message) {
                Ok(record @ Value::Object(_)) => record,
                _ => {
                    return Err(PluginError::unsupported(format!(
                        "SNS notification {} does not carry an SES record (its Message is not a JSON object): {}",
                        path::get_str(&envelope, "MessageId").unwrap_or_default(),
                        excerpt(message)
                    )));
                }
            };
            Ok(map_record(record)?.into())
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            let topic = path::get_str(&envelope, "TopicArn").unwrap_or_default();
            match path::get_str(&envelope, "SubscribeURL") {
                Some(url) => host::info(&format!(
                    "SNS {kind} for topic {topic}: to confirm, open {url}"
                )),
                None => host::warn(&format!(
                    "SNS {kind} for topic {topic} without SubscribeURL"
                )),
            }
            Ok(Mapped::default())
        }
        other => Err(PluginError::unsupported(format!(
            "SNS message type `{other}` is not handled"
        ))),
    }
}

/// The start of a text, for error messages.
fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}…", &text[..at]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests;
