//! What every renderer does before producing its format.

use serde_json::{Value, json};
use wasmhook_sdk::{BodyFormat, Config, PluginError, RenderRequest};

use crate::RenderConfig;

/// A render request checked and its configuration parsed.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The parsed configuration.
    pub config: RenderConfig,
    /// The template, when one was given and is not blank.
    pub template: Option<&'a str>,
}

/// Checks that `request` asks for `format` (a renderer renders one format),
/// parses its configuration and picks the template. A blank template counts
/// as none; a template together with `fields` is refused as ambiguous.
pub fn prepare(request: &RenderRequest, format: BodyFormat) -> Result<Prepared<'_>, PluginError> {
    if request.format != format {
        return Err(PluginError::unsupported(format!(
            "this renderer renders {} bodies, not {}",
            format.as_str(),
            request.format.as_str()
        )));
    }
    let config: RenderConfig = Config(request.config.clone()).parse()?;
    let template = request.template.as_deref().filter(|t| !t.trim().is_empty());
    if template.is_some() && config.fields.is_some() {
        return Err(PluginError::invalid_config(
            "give either a template or `config.fields`, not both",
        ));
    }
    Ok(Prepared { config, template })
}

/// A canonical status event (a delivered SMS), for examples and tests.
pub fn example_event() -> Value {
    json!({
        "id": "evt_01HZX", "version": "1.0",
        "event_type": "status",
        "channel": "sms",
        "channel_value": "+919876543210",
        "distinct_id": null,
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1_672_310_923_000_i64,
                   "error_code": null, "description": null, "hard_bounce": null},
        "inbound_message": null,
        "reference": {"vendor_message_id": "msg-1", "idempotency_key": "tx-9"},
        "vendor_name": "gupshup", "source": "gupshup-sms",
        "received_at": 1_672_310_923_456_i64,
        "vendor_response": {"gupshup": {"externalId": "msg-1", "status": "SUCCESS"}}
    })
}

/// Seed 002's operator-chosen parameter names, as a renderer `config`.
pub fn seed_002_config() -> Value {
    json!({"fields": {
        "txid": "{{ reference.idempotency_key }}",
        "msgid": "{{ reference.vendor_message_id }}",
        "status": "{{ status.status }}",
        "err": "{{ status.error_code }}",
        "mobile": "{{ channel_value }}",
        "dlr_time": "{{ status.timestamp | datetime('%Y-%m-%d %H:%M:%S') }}"
    }})
}
