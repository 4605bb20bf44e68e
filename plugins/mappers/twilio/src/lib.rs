//! Twilio Programmable Messaging webhooks → canonical events
//! (`vendor_name` = `twilio`). Twilio posts form-encoded parameters (a `GET`
//! webhook carries the same parameters in the query); one event per
//! callback, its `vendor_response` all parameters as an object.
//!
//! Which kind of callback it is:
//! - inbound message: `MessageStatus`/`SmsStatus` is `received`/`receiving`,
//!   or there is no `MessageStatus` but a `Body` parameter;
//! - status callback: otherwise, by `MessageStatus` (else `SmsStatus`).
//!
//! | `MessageStatus` | canonical | note |
//! |---|---|---|
//! | `accepted`, `scheduled`, `queued`, `sending` | queued | still inside Twilio (a Messaging Service accepted it, it waits for its send time, or it is being dispatched) |
//! | `sent` | sent | handed to the carrier / WhatsApp |
//! | `delivered` | delivered | |
//! | `read` | read | WhatsApp/RCS read receipt |
//! | `undelivered` | failed | the carrier reported non-delivery; Twilio does not retry |
//! | `failed` | failed | `ErrorCode` 21610 (recipient replied STOP) stays `failed` with error code `21610`: the send failed; the opt-out itself happened earlier, in an inbound message |
//! | `canceled` | failed | a scheduled message canceled before sending |
//! | anything else | error | `unsupported` |
//!
//! `ErrorCode`/`ErrorMessage` → error code/description whenever present;
//! `hard_bounce` is never set (Twilio does not say whether the number is
//! permanently unreachable).
//!
//! Channel: `ChannelPrefix` when present (`whatsapp`, `rcs`; others →
//! `other`), else the `whatsapp:`/`rcs:`/`messenger:` prefix of the end
//! user's address (`To` for statuses, `From` for inbound), else `sms`.
//! Prefixes are stripped from addresses.
//!
//! Timestamp: none. Twilio's callbacks carry no event time; the only date,
//! `RawDlrDoneDate` (`YYMMDDhhmm`), has no zone and Twilio documents that
//! the carriers' zones vary, so it is left in the raw payload and the host
//! uses the receipt time.
//!
//! Inbound: `From`/`To` (prefix stripped), `Body` as text (none when empty),
//! `NumMedia` + `MediaUrlN`/`MediaContentTypeN` as media, WhatsApp
//! `ButtonText`/`ButtonPayload` as text/payload, `Latitude`/`Longitude`
//! (+ `Label`, `Address`) as a `"lat,long (label, address)"` text when the
//! body is empty, `OriginalRepliedMessageSid`/`…Sender` as context. The type
//! is `MessageType` when Twilio sends it, else `button`, `location`, the
//! first media's major type (`image`, ...) or `text`.

mod inbound;

use wasmhook_sdk::prelude::*;

/// `vendor_name` of every event.
pub const VENDOR: &str = "twilio";

/// Address prefixes that name a channel, stripped from addresses.
const PREFIXES: [(&str, Channel); 3] = [
    ("whatsapp:", Channel::Whatsapp),
    ("rcs:", Channel::Rcs),
    ("messenger:", Channel::Other),
];

/// Maps one Twilio callback.
#[mapper]
pub fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
    let params = read_params(&callback)?;
    let status = params
        .non_empty("MessageStatus")
        .or_else(|| params.non_empty("SmsStatus"));
    let is_inbound = match status {
        Some(s) => matches!(s, "received" | "receiving"),
        None => params.get("Body").is_some(),
    };
    let event = if is_inbound {
        inbound::map_inbound(&params)?
    } else {
        let status = status.ok_or_else(|| {
            PluginError::invalid_input(
                "neither `MessageStatus` nor `SmsStatus` nor `Body` is present",
            )
        })?;
        map_status(&params, status)?
    };
    Ok(event.raw(params.to_value()).into())
}

/// The parameters, from the form body, or from the query of a bodyless
/// (`GET`) webhook.
fn read_params(callback: &Callback) -> Result<Params, PluginError> {
    match callback.body_kind() {
        BodyKind::Empty if callback.query.is_empty() => Err(PluginError::invalid_input(
            "empty callback: neither a form body nor a query string",
        )),
        BodyKind::Empty => Ok(callback.query_params()),
        BodyKind::Form => Ok(callback.form_params()),
        // Twilio always sends the form content type; accept an unlabelled
        // body only if it reads as a form.
        BodyKind::Text if callback.text().contains('=') => Ok(callback.form_params()),
        _ => Err(PluginError::invalid_input(format!(
            "Twilio sends form-encoded parameters, got a body of content type `{}`",
            callback.content_type.as_deref().unwrap_or("none")
        ))),
    }
}

/// The canonical status of a `MessageStatus`.
pub fn status_of(name: &str) -> Result<Status, PluginError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "accepted" | "scheduled" | "queued" | "sending" => Status::Queued,
        "sent" => Status::Sent,
        "delivered" => Status::Delivered,
        "read" => Status::Read,
        "undelivered" | "failed" | "canceled" => Status::Failed,
        _ => {
            return Err(PluginError::unsupported(format!(
                "Twilio message status `{name}` is not mapped"
            )));
        }
    })
}

fn map_status(params: &Params, status_name: &str) -> Result<Event, PluginError> {
    let status = status_of(status_name)?;
    let to = params.non_empty("To");
    let channel = channel_of(params, to);
    Ok(Event::status(channel, status, VENDOR)
        .recipient(to.map(strip_prefix))
        .message_id(message_sid(params))
        .vendor_status(Some(status_name.to_string()))
        .error(
            params.non_empty("ErrorCode").map(str::to_string),
            params.non_empty("ErrorMessage").map(str::to_string),
        ))
}

/// `MessageSid`, or its older aliases.
fn message_sid(params: &Params) -> Option<String> {
    ["MessageSid", "SmsSid", "SmsMessageSid"]
        .into_iter()
        .find_map(|name| params.non_empty(name))
        .map(str::to_string)
}

/// The channel: `ChannelPrefix`, else the prefix of the end user's address.
fn channel_of(params: &Params, address: Option<&str>) -> Channel {
    if let Some(prefix) = params.non_empty("ChannelPrefix") {
        return Channel::parse(prefix).unwrap_or(Channel::Other);
    }
    address
        .and_then(|a| {
            PREFIXES
                .iter()
                .find(|(prefix, _)| a.trim().to_ascii_lowercase().starts_with(prefix))
        })
        .map_or(Channel::Sms, |(_, channel)| *channel)
}

/// The address without its channel prefix (`whatsapp:+316…` → `+316…`).
fn strip_prefix(address: &str) -> String {
    let address = address.trim();
    PREFIXES
        .iter()
        .find_map(|(prefix, _)| {
            address
                .get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &address[prefix.len()..])
        })
        .unwrap_or(address)
        .to_string()
}

#[cfg(test)]
mod tests;
