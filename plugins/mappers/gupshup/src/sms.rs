//! Gupshup Enterprise SMS delivery reports (DLR), in both documented forms:
//!
//! - POST: a JSON array of up to 20 objects
//!   `{externalId, eventType, eventTs (ms), destAddr, srcAddr, cause,
//!   errCode | errorCode, channel, noOfFrags}`, one event each, its
//!   `vendor_response` the array item;
//! - GET: the URL template
//!   `externalId=%0&deliveredTS=%1&status=%2&cause=%3&phoneNo=%4&errCode=%6&noOfFrags=%7&mask=%8`,
//!   one event whose `vendor_response` is the query as an object. The same
//!   parameters in a form-encoded POST body are accepted too.

use serde_json::Value;
use wasmhook_sdk::prelude::*;

use crate::VENDOR;

/// The canonical status of a DLR `eventType` (POST) or `status` (GET).
pub fn status_of(name: &str) -> Result<Status, PluginError> {
    Ok(match name.trim().to_ascii_uppercase().as_str() {
        "DELIVERED" | "SUCCESS" => Status::Delivered,
        "FAILED" | "FAILURE" => Status::Failed,
        // A final report that does not know the outcome: the message left
        // Gupshup, nobody confirmed delivery.
        "UNKNOWN" => Status::Sent,
        _ => {
            return Err(PluginError::unsupported(format!(
                "SMS DLR status `{name}` is not mapped (known: DELIVERED, FAILED, SUCCESS, FAILURE, UNKNOWN)"
            )));
        }
    })
}

/// Builds the event common to both forms.
fn dlr_event(
    status_name: String,
    channel: Channel,
    fields: DlrFields,
    raw: Value,
) -> Result<Event, PluginError> {
    let status = status_of(&status_name)?;
    let mut event = Event::status(channel, status, VENDOR)
        .message_id(Some(fields.id))
        .recipient(fields.phone)
        .timestamp(fields.timestamp)
        .vendor_status(Some(status_name));
    // On success `cause`/`errCode` say `SUCCESS`/`000`: not an error.
    if status != Status::Delivered {
        event = event.error(fields.error_code, fields.cause);
    }
    Ok(event.raw(raw))
}

/// The fields both forms carry under different names.
struct DlrFields {
    id: String,
    phone: Option<String>,
    timestamp: Option<i64>,
    error_code: Option<String>,
    cause: Option<String>,
}

/// Maps a POST batch (a JSON array), one event per item.
pub fn map_batch(items: &[Value]) -> Result<Vec<Event>, PluginError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| map_item(item, &format!("[{i}]")))
        .collect()
}

fn map_item(item: &Value, at: &str) -> Result<Event, PluginError> {
    if !item.is_object() {
        return Err(PluginError::invalid_input(format!(
            "DLR item {at} is not an object"
        )));
    }
    let required = |key: &str| {
        path::get_str(item, key)
            .ok_or_else(|| PluginError::invalid_input(format!("field `{at}.{key}` is missing")))
    };
    let id = required("externalId")?;
    let status = required("eventType")?;
    let channel = match path::get_str(item, "channel") {
        Some(name) => Channel::parse(&name).unwrap_or(Channel::Other),
        None => Channel::Sms,
    };
    let fields = DlrFields {
        id,
        phone: path::get_str(item, "destAddr"),
        timestamp: path::get(item, "eventTs").and_then(time::timestamp_ms),
        error_code: path::get_str(item, "errCode").or_else(|| path::get_str(item, "errorCode")),
        cause: path::get_str(item, "cause"),
    };
    dlr_event(status, channel, fields, item.clone())
}

/// The value of parameter `name`, matching names with stray spaces too (the
/// documented template has `& noOfFrags=`); empty values are `None`.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .0
        .iter()
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.trim().is_empty())
}

/// Whether `value` is one of the template's `%0`…`%8` placeholders.
fn is_placeholder(value: &str) -> bool {
    value
        .strip_prefix('%')
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Maps the GET (query) form, or the same parameters in a form body.
pub fn map_params(params: &Params) -> Result<Vec<Event>, PluginError> {
    if let Some((key, value)) = params
        .0
        .iter()
        .find(|(_, value)| is_placeholder(value.trim()))
    {
        return Err(PluginError::invalid_input(format!(
            "parameter `{}` holds the unfilled placeholder `{value}`: this is Gupshup's DLR URL \
             template, not a delivery report",
            key.trim()
        )));
    }
    let required = |name: &str| {
        param(params, name).map(str::to_string).ok_or_else(|| {
            PluginError::invalid_input(format!("query parameter `{name}` is missing"))
        })
    };
    let id = required("externalId")?;
    let status = required("status")?;
    let fields = DlrFields {
        id,
        phone: param(params, "phoneNo").map(str::to_string),
        timestamp: param(params, "deliveredTS").and_then(time::parse_timestamp),
        error_code: param(params, "errCode").map(str::to_string),
        cause: param(params, "cause").map(str::to_string),
    };
    Ok(vec![dlr_event(
        status,
        Channel::Sms,
        fields,
        params.to_value(),
    )?])
}
