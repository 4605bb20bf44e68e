//! Gupshup callbacks → canonical events (`vendor_name` = `gupshup`).
//!
//! One mapper for every shape Gupshup sends, told apart by the body:
//!
//! | body | what | module |
//! |---|---|---|
//! | JSON object, `"type": "message-event"` | WhatsApp v2 status | [`wa_v2`] |
//! | JSON object, `"type": "message"` | WhatsApp v2 inbound message | [`wa_v2`] |
//! | JSON object, `"type": "user-event"` / `"billing-event"` | WhatsApp v2 opt-in/out, billing: no message status | zero events |
//! | JSON object with `entry[]` | WhatsApp v3 (Meta Cloud API format + `gs_id`) | `whatsapp-cloud` |
//! | JSON array | Enterprise SMS DLR batch (≤ 20 objects) | [`sms`] |
//! | form body `response=<json array>` | the same batch, form-wrapped | [`sms`] |
//! | GET query / form body with `externalId` | Enterprise SMS DLR (URL template) | [`sms`] |
//!
//! Status policy:
//!
//! | vendor status | canonical | note |
//! |---|---|---|
//! | WA `enqueued` (v2 `payload.type`, v3 `status`) | queued | accepted by Gupshup and handed to WhatsApp, which has not sent it yet (WhatsApp's own `sent` follows) |
//! | WA `sent` | sent | |
//! | WA `delivered` | delivered | |
//! | WA `read` | read | |
//! | WA `failed` | failed | `code`/`reason` → error code/description; `hard_bounce` not set (Gupshup does not say) |
//! | WA `deleted` | (none) | the user deleted a message: not a delivery status, no event |
//! | SMS `DELIVERED` / `SUCCESS` | delivered | `cause`/`errCode` not copied (they say `SUCCESS`/`000`) |
//! | SMS `FAILED` / `FAILURE` | failed | `errCode`/`errorCode` → error code, `cause` → description |
//! | SMS `UNKNOWN` | sent | final report without an outcome: the message left Gupshup, delivery unconfirmed |
//! | anything else | error | `unsupported`, naming the status |
//!
//! Ids: WhatsApp statuses use Gupshup's message id (`gsId` / `gs_id`, else
//! `id`, which is Gupshup's id on `enqueued` and synchronous `failed`
//! events), i.e. the id Gupshup's send API returned. SMS uses `externalId`.
//!
//! Timestamps: v2 status `ts` (seconds, at `payload.ts` or
//! `payload.payload.ts`), else the envelope `timestamp` (ms, when Gupshup
//! emitted the callback); v2 inbound: the envelope `timestamp`; v3: the
//! status `timestamp` (ms number, string seconds, or the doc placeholder
//! `TIMESTAMP` → none); SMS: `eventTs` / `deliveredTS` (ms).
//!
//! The published GET DLR "sample" is only a URL template whose values are
//! `%0`…`%8` placeholders; a query still holding such a placeholder is
//! refused with `invalid_input` saying so, rather than mapped into an event
//! with nonsense ids.

pub mod sms;
pub mod wa_v2;

use serde_json::Value;
use wasmhook_sdk::prelude::*;
use whatsapp_cloud::Flavor;

/// `vendor_name` of every event.
pub const VENDOR: &str = "gupshup";

/// Gupshup's WhatsApp v3 events: Meta's shape, Gupshup's id preferred.
const V3: Flavor = Flavor {
    vendor: VENDOR,
    prefer_gs_id: true,
};

/// Maps one Gupshup callback.
#[mapper]
pub fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
    if callback.body.trim_ascii().is_empty() {
        if callback.query.trim().is_empty() {
            return Err(PluginError::invalid_input(
                "empty callback: neither a body nor a query string",
            ));
        }
        return sms::map_params(&callback.query_params()).map(Mapped::from);
    }
    // The DLR doc prints the batch as `response=[...]`: accept that wrapper
    // whatever the content type says.
    if let Some(json) = form_wrapped_response(&callback) {
        return map_json(&json?).map(Mapped::from);
    }
    match callback.body_kind() {
        BodyKind::Form => {
            let params = callback.form_params();
            if sms::param(&params, "externalId").is_some() {
                sms::map_params(&params).map(Mapped::from)
            } else {
                Err(PluginError::invalid_input(
                    "form body has neither `response` (DLR batch) nor `externalId` (DLR)",
                ))
            }
        }
        BodyKind::Xml => Err(PluginError::unsupported("Gupshup sends no XML callbacks")),
        _ => map_json(&callback.json_value()?).map(Mapped::from),
    }
}

/// The JSON in a `response=<json>` body, if the body is one.
fn form_wrapped_response(callback: &Callback) -> Option<Result<Value, PluginError>> {
    let text = callback.text();
    let raw = text.trim_start().strip_prefix("response=")?;
    // Sent raw (as the doc prints it) or form-encoded.
    if let Ok(json) = serde_json::from_str(raw) {
        return Some(Ok(json));
    }
    let params = callback.form_params();
    let decoded = params.get("response").unwrap_or_default();
    Some(
        serde_json::from_str(decoded).map_err(|e| {
            PluginError::invalid_input(format!("form field `response` is not JSON: {e}"))
        }),
    )
}

/// Dispatches a JSON body by its shape.
fn map_json(body: &Value) -> Result<Vec<Event>, PluginError> {
    if let Value::Array(items) = body {
        return sms::map_batch(items);
    }
    if !body.is_object() {
        return Err(PluginError::invalid_input(
            "body is neither a JSON object nor a JSON array",
        ));
    }
    if whatsapp_cloud::is_notification(body) {
        return whatsapp_cloud::map_notification(body, V3);
    }
    match body.get("type").and_then(Value::as_str) {
        Some("message-event") => wa_v2::map_message_event(body),
        Some("message") => wa_v2::map_inbound(body),
        Some(kind @ ("user-event" | "billing-event")) => {
            host::debug(&format!(
                "`{kind}` callbacks carry no message status; no event"
            ));
            Ok(Vec::new())
        }
        Some(kind) => Err(PluginError::unsupported(format!(
            "Gupshup callback type `{kind}` is not mapped"
        ))),
        // A single DLR object outside its array.
        None if body.get("externalId").is_some() => sms::map_batch(std::slice::from_ref(body)),
        None => Err(PluginError::unsupported(
            "body is no Gupshup shape this mapper knows (no `type`, `entry` or `externalId`)",
        )),
    }
}

#[cfg(test)]
mod tests;
