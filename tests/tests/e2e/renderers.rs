//! The renderer and block plugins as real components: the default JSON
//! rendering of a canonical event, seed 002's operator-chosen parameter
//! names, and the http block refused outbound HTTP by default.

use serde_json::json;
use wasmhook::runtime::{CallError, DenyAllHttp};
use wasmhook_sdk::{BlockInput, BodyFormat, RenderRequest};

use crate::harness::{load_plugin, runtime};

fn delivered_event() -> serde_json::Value {
    json!({
        "id": "evt_1", "version": "1.0", "event_type": "status", "channel": "sms",
        "channel_value": "+919892488888", "distinct_id": null,
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1526347800000_i64,
                   "error_code": "000", "description": null, "hard_bounce": null},
        "inbound_message": null,
        "reference": {"vendor_message_id": "3562707498794989059-328736121207676738", "idempotency_key": "tx-42"},
        "vendor_name": "gupshup", "source": "gupshup-sms", "received_at": 1526347800456_i64,
        "vendor_response": {"gupshup": {"eventType": "DELIVERED"}}
    })
}

fn request(format: BodyFormat, template: Option<&str>, config: serde_json::Value) -> RenderRequest {
    RenderRequest {
        template: template.map(String::from),
        format,
        data: delivered_event(),
        config,
    }
}

#[test]
fn json_renderer_without_template_emits_the_canonical_event() {
    let plugin = load_plugin(&runtime(), "json-renderer");
    let (rendered, _) = plugin
        .render(&request(BodyFormat::Json, None, json!({})))
        .unwrap();
    assert!(
        rendered.content_type.starts_with("application/json"),
        "{}",
        rendered.content_type
    );
    let body: serde_json::Value = serde_json::from_slice(&rendered.body).unwrap();
    assert_eq!(body, delivered_event());
}

#[test]
fn form_renderer_uses_operator_chosen_parameter_names() {
    let plugin = load_plugin(&runtime(), "form-renderer");
    let config = json!({"fields": {
        "txid": "{{ reference.idempotency_key }}",
        "msgid": "{{ reference.vendor_message_id }}",
        "status": "{{ status.status }}",
        "err": "{{ status.error_code }}",
        "mobile": "{{ channel_value }}"
    }});
    let (rendered, _) = plugin
        .render(&request(BodyFormat::Form, None, config))
        .unwrap();
    assert_eq!(rendered.content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        String::from_utf8(rendered.body).unwrap(),
        "txid=tx-42&msgid=3562707498794989059-328736121207676738&status=delivered&err=000&mobile=%2B919892488888"
    );
}

#[test]
fn xml_renderer_template_output_is_well_formed() {
    let plugin = load_plugin(&runtime(), "xml-renderer");
    let template = "<dlr><id>{{ reference.vendor_message_id }}</id><to>{{ channel_value }}</to><s>{{ status.status }}</s></dlr>";
    let (rendered, _) = plugin
        .render(&request(BodyFormat::Xml, Some(template), json!({})))
        .unwrap();
    assert_eq!(
        String::from_utf8(rendered.body).unwrap(),
        "<dlr><id>3562707498794989059-328736121207676738</id><to>+919892488888</to><s>delivered</s></dlr>"
    );
}

#[test]
fn text_renderer_needs_a_template_and_says_so() {
    let plugin = load_plugin(&runtime(), "text-renderer");
    let error = plugin
        .render(&request(BodyFormat::Text, None, json!({})))
        .unwrap_err();
    match error {
        CallError::Plugin { error, .. } => assert!(error.message.contains("template"), "{error}"),
        other => panic!("expected a plugin error, got {other}"),
    }
}

#[test]
fn http_block_without_outbound_http_gets_a_refusal_value() {
    let plugin = load_plugin(&runtime(), "http-block");
    let input = BlockInput {
        event: json!({"email": "a@example.com"}),
        contact: json!({}),
        data: json!({}),
    };
    let config = json!({"method": "GET", "url": "https://crm.example.com/contacts?email=${email}"});
    let error = plugin
        .run_block(&input, &config, std::sync::Arc::new(DenyAllHttp))
        .unwrap_err();
    match error {
        CallError::Plugin { error, .. } => assert!(error.message.contains("refused"), "{error}"),
        other => panic!("expected a plugin error, got {other}"),
    }
}
