//! Meta WhatsApp Cloud API webhooks → canonical events (`vendor_name` =
//! `meta`, channel `whatsapp`).
//!
//! - `POST`: a notification `{"object": "whatsapp_business_account",
//!   "entry": [{"changes": [{"field": "messages", "value": {...}}]}]}`.
//!   Every `statuses[]`, `messages[]` and out-of-band `errors[]` item of
//!   every change of every entry becomes one event (see the
//!   `whatsapp-cloud` crate for the item mapping); `contacts[]`,
//!   `conversation` and `pricing` are left in the raw payload. Other
//!   `field`s (template updates, ...) give no events.
//! - `GET` with `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: the
//!   verification Meta sends when the callback URL is saved. When
//!   `hub.verify_token` equals the configured `verify_token`, the mapper
//!   answers `200 text/plain <challenge>` with no events; otherwise it fails
//!   with `invalid_input` (no `verify_token` configured: `invalid_config`).
//!
//! | Cloud API status | canonical | note |
//! |---|---|---|
//! | `sent` | sent | |
//! | `delivered` | delivered | |
//! | `read`, `played` | read | `played`: a voice message was played |
//! | `failed` | failed | `errors[0].code` → error code, `message` (else `title`) → description; `error_data.details` stays in the raw item; `hard_bounce` not set |
//! | `deleted` | (none) | the user deleted a message: no event |
//! | `value.errors[]` (no statuses/messages) | failed | one event per error, no message id, no recipient, no timestamp: the errors webhook (rate limits, account problems) concerns no single message, but an operator must see it |
//! | anything else | error | `unsupported` |
//!
//! Inbound: `from`, `to` = `metadata.display_phone_number`, `text` from
//! `text.body`, interactive `button_reply`/`list_reply` `title` (payload =
//! its `id`), template quick-reply `button.text` (payload = `button.payload`),
//! media (`image`, `document`, `audio`, `video`, `sticker`) as `media` with
//! `id`/`mime_type`/`caption`, `location` as a `"lat,long (name, address)"`
//! text, `context.from`/`context.id` as context.
//!
//! Ids and times: `vendor_message_id` = the `wamid`; a status's
//! `biz_opaque_callback_data` (the sender's tracking string) becomes the
//! `idempotency_key`. Timestamps are string epoch seconds; placeholders
//! (`"TIMESTAMP"` in old docs) give none. Signature (`X-Hub-Signature-256`)
//! checking is not done here: it needs the app secret, which plugins never
//! hold.

use serde::Deserialize;
use wasmhook_sdk::prelude::*;
use whatsapp_cloud::Flavor;

/// `vendor_name` of every event.
pub const VENDOR: &str = "meta";

const FLAVOR: Flavor = Flavor {
    vendor: VENDOR,
    prefer_gs_id: false,
};

/// The mapper's configuration.
#[derive(Debug, Default, Deserialize)]
pub struct Settings {
    /// The token entered as "Verify token" in Meta's App Dashboard; needed
    /// only to answer the verification `GET`.
    #[serde(default)]
    pub verify_token: Option<String>,
}

/// Maps one Meta callback.
#[mapper]
pub fn map(callback: Callback, config: Config) -> Result<Mapped, PluginError> {
    let bodyless = callback.body.trim_ascii().is_empty();
    if callback.method.eq_ignore_ascii_case("GET") || (bodyless && !callback.query.is_empty()) {
        return verify(&callback.query_params(), &config);
    }
    if bodyless {
        return Err(PluginError::invalid_input(
            "empty body: expected a Cloud API notification",
        ));
    }
    let body = callback.json_value()?;
    whatsapp_cloud::map_notification(&body, FLAVOR).map(Mapped::from)
}

/// Answers Meta's verification request with the challenge.
fn verify(params: &Params, config: &Config) -> Result<Mapped, PluginError> {
    let settings: Settings = config.parse()?;
    let get = |name: &str| {
        params.get(name).ok_or_else(|| {
            PluginError::invalid_input(format!(
                "query parameter `{name}` is missing: not a webhook verification request"
            ))
        })
    };
    let mode = get("hub.mode")?;
    if mode != "subscribe" {
        return Err(PluginError::invalid_input(format!(
            "hub.mode is `{mode}`, expected `subscribe`"
        )));
    }
    let token = get("hub.verify_token")?;
    let challenge = get("hub.challenge")?;
    let expected = settings
        .verify_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            PluginError::invalid_config(
                "config.verify_token is not set: it must equal the Verify token in Meta's App Dashboard",
            )
        })?;
    if !same_secret(token.as_bytes(), expected.as_bytes()) {
        return Err(PluginError::invalid_input(
            "hub.verify_token does not match the configured verify_token",
        ));
    }
    Ok(Mapped {
        events: Vec::new(),
        reply: Some(Reply {
            status: 200,
            content_type: "text/plain".into(),
            body: challenge.as_bytes().to_vec(),
        }),
    })
}

/// Compares without stopping at the first difference, so the time taken
/// says nothing about how much of a guessed token was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
