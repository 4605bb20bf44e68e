//! fieldmap v2 over public samples: shapes, conditional fields,
//! transforms, value maps, `[-1]`, `@json`, repeated form keys, and the
//! new config errors.

use serde_json::json;
use wasmhook_sdk::fixtures::check_vendor;

use super::*;

#[test]
fn v2_config_mistakes_are_named() {
    let cases = [
        (
            json!({"vendor": "x", "fields": {"status": "to[-0]"}}),
            "config.fields.status: path `to[-0]`: `[-0]`: counting from the end starts at `[-1]`",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "transform": "upper"}}}),
            "config.fields.status: transform: unknown transform `upper` (known: lowercase,",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "transform": ["trim", {"strip_suffix": 1}]}}}),
            "config.fields.status: transform[1]: `strip_suffix` expects text, got 1",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "when": {"pth": "t"}}}}),
            "config.fields.status: when: unknown key `pth`, expected `path`",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "when": {"path": "t["}}}}),
            "config.fields.status: when.path: path `t[`: `[` without `]`",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "when": [{"path": "t"}, {"path": "u", "equals": []}]}}}),
            "config.fields.status: when[1].equals: expected a value or a non-empty list",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "map": ["sent"]}}}),
            "config.fields.status: map: expected an object {vendor value: value}",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"path": "s", "map": {"OK": {"s": 1}}}}}),
            "config.fields.status: map: \"OK\": expected a text, number, boolean or null",
        ),
        (
            json!({"vendor": "x", "fields": {"status": [{"path": "s", "transfrom": "trim"}]}}),
            "config.fields.status: [0]: unknown key `transfrom`",
        ),
        (
            json!({"vendor": "x", "shapes": [{"fields": {}}]}),
            "config.shapes[0]: missing field `when`",
        ),
        (
            json!({"vendor": "x", "shapes": [{"when": {"path": "a"}}, {"when": {"path": "b"}, "vendor": "y"}]}),
            "config.shapes[1].vendor: unknown field `vendor`",
        ),
        (
            json!({"vendor": "x", "shapes": [{"when": {"path": "a", "present": "yes"}}]}),
            "config.shapes[0].when: present: expected true or false, got \"yes\"",
        ),
        (
            json!({"vendor": "x", "shapes": [{"when": {"path": "a"}, "fields": {"status": {"path": "s", "transform": {"split": ""}}}}]}),
            "config.shapes[0].fields.status: transform: `split`: the separator must not be empty",
        ),
        (
            json!({"vendor": "x", "shapes": [{"when": {"path": "a"}, "statuses": {"OK": "fine"}}]}),
            "config.shapes[0].statuses: \"OK\": `fine` is not a canonical status",
        ),
    ];
    assert_config_errors(&cases);
}

/// The v2 vendor folders (shapes, conditional fields, transforms, value
/// maps, `@json`, `[-1]`, repeated form keys) map as expected.json says.
#[test]
fn every_v2_vendor_fixture_maps_as_expected() {
    for vendor in [
        "fieldmap-africastalking",
        "fieldmap-bandwidth",
        "fieldmap-kaleyra",
        "fieldmap-mandrill",
        "fieldmap-messagebird",
    ] {
        check_vendor(fixtures(vendor), |case| {
            map(case.callback.clone(), Config(case.config.clone()))
        });
    }
}

fn sample(folder: &str, file: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{file}", fixtures(folder))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Meta WhatsApp's two payload shapes (`statuses` and `messages`) from one
/// source, over the public samples of `fixtures/meta-whatsapp`.
fn meta_whatsapp_config() -> Value {
    json!({
        "vendor": "meta", "channel": "whatsapp",
        "shapes": [
            {"name": "statuses", "when": {"path": "entry[0].changes[0].value.statuses"},
             "items": "entry[].changes[].value.statuses[]",
             "fields": {"channel_value": "recipient_id", "vendor_message_id": "id", "status": "status",
                        "timestamp": "timestamp", "error_code": "errors[0].code", "description": "errors[0].title"}},
            {"name": "messages", "when": {"path": "entry[0].changes[0].value.messages"},
             "items": "entry[].changes[].value.messages[]", "event_type": "inbound_message",
             "fields": {"vendor_message_id": "id", "inbound_from": "from", "timestamp": "timestamp",
                        "inbound_to": "$parent.value.metadata.display_phone_number",
                        "inbound_type": "type", "inbound_text": ["text.body", "interactive.button_reply.title"]}}
        ]
    })
}

#[test]
fn the_first_matching_shape_maps_the_payload() {
    let failed = sample("meta-whatsapp", "pywa-status-failed.json");
    let events = run(meta_whatsapp_config(), Callback::json(failed.to_string())).unwrap();
    let status = events[0].status.as_ref().unwrap();
    assert_eq!(status.status, Status::Failed);
    assert_eq!(status.error_code.as_deref(), Some("130472"));
    assert_eq!(events[0].channel_value.as_deref(), Some("972987654321"));
    assert_eq!(status.timestamp, Some(1_689_380_458_000));

    let text = sample("meta-whatsapp", "pywa-inbound-text.json");
    let events = run(meta_whatsapp_config(), Callback::json(text.to_string())).unwrap();
    let message = events[0].inbound_message.as_ref().unwrap();
    assert_eq!(events[0].event_type, EventType::InboundMessage);
    assert_eq!(message.from, "972987654321");
    assert_eq!(message.to.as_deref(), Some("972123456789"));
    assert_eq!(message.text.as_deref(), Some("Body Text"));

    let button = sample(
        "meta-whatsapp",
        "pywa-inbound-interactive-button-reply.json",
    );
    let events = run(meta_whatsapp_config(), Callback::json(button.to_string())).unwrap();
    assert_eq!(
        events[0].inbound_message.as_ref().unwrap().text.as_deref(),
        Some("title")
    );
}

#[test]
fn no_matching_shape_is_unsupported_and_says_what_each_needs() {
    let errors_only = sample("meta-whatsapp", "doc-errors-webhook.json");
    let error = run(
        meta_whatsapp_config(),
        Callback::json(errors_only.to_string()),
    )
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unsupported);
    assert_eq!(
        error.message,
        "the payload matches none of config.shapes: statuses needs `entry[0].changes[0].value.statuses` present; \
         messages needs `entry[0].changes[0].value.messages` present"
    );
    // Unnamed shapes are named by position; `equals` and `present: false`.
    let config = json!({"vendor": "x", "shapes": [
        {"when": [{"path": "type", "equals": ["a", "B"]}, {"path": "gone", "present": false}]}
    ]});
    let error = run(config, Callback::json(r#"{"type": "c"}"#)).unwrap_err();
    assert!(
        error
            .message
            .ends_with("shapes[0] needs `type` = a or b and `gone` absent"),
        "{}",
        error.message
    );
}

/// A shape's settings go over the shared ones: fields one by one,
/// statuses entry by entry.
#[test]
fn shapes_override_shared_settings_field_by_field() {
    let config = json!({
        "vendor": "x", "channel": "sms",
        "fields": {"vendor_message_id": "id", "status": "state"},
        "statuses": {"OK": "delivered", "KO": "failed"},
        "shapes": [{"when": {"path": "kind", "equals": "mail"}, "channel": "email",
                    "fields": {"status": "result"}, "statuses": {"KO": "deferred"}}]
    });
    let events = run(
        config.clone(),
        Callback::json(r#"{"kind": "MAIL", "id": "m1", "state": "OK", "result": "KO"}"#),
    )
    .unwrap();
    assert_eq!(events[0].channel, Channel::Email);
    assert_eq!(events[0].reference.vendor_message_id.as_deref(), Some("m1"));
    assert_eq!(events[0].status.as_ref().unwrap().status, Status::Deferred);
}

/// Bandwidth's sample: the description is an error only for
/// `message-failed`; for `message-delivered` it says "ok".
#[test]
fn conditional_fields_read_only_when_their_condition_holds() {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/config.json", fixtures("fieldmap-bandwidth")))
            .unwrap(),
    )
    .unwrap();
    let delivered = sample("fieldmap-bandwidth", "courier-message-delivered.json");
    assert_eq!(delivered[0]["description"], "ok");
    let events = run(config.clone(), Callback::json(delivered.to_string())).unwrap();
    assert_eq!(events[0].status.as_ref().unwrap().description, None);
    let failed = sample("fieldmap-bandwidth", "courier-message-failed.json");
    let events = run(config, Callback::json(failed.to_string())).unwrap();
    let status = events[0].status.as_ref().unwrap();
    assert_eq!(status.description.as_deref(), Some("forbidden to country"));
    assert_eq!(status.error_code.as_deref(), Some("4432"));
    // A list of conditional specs: the first whose `when` holds wins.
    let config = json!({"vendor": "x", "fields": {"status": {"value": "failed"}, "error_code": [
        {"path": "a", "when": {"path": "kind", "equals": "A"}},
        {"path": "b", "when": {"path": "kind", "equals": "B"}}
    ]}});
    let events = run(
        config,
        Callback::json(
            r#"[{"kind": "A", "a": 1, "b": 2}, {"kind": "b", "a": 1, "b": 2}, {"a": 1}]"#,
        ),
    )
    .unwrap();
    let codes: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.status.as_ref().unwrap().error_code.as_deref())
        .collect();
    assert_eq!(codes, [Some("1"), Some("2"), None]);
}

/// Kaleyra's status callback carries the id with a `:0` suffix.
#[test]
fn transforms_and_value_maps_reshape_any_field() {
    let config = json!({"vendor": "kaleyra", "channel": "whatsapp", "fields": {
        "vendor_message_id": {"path": "id", "transform": [{"split": ":", "index": 0}, "uppercase"]},
        "status": {"path": "status", "map": {"read": "delivered"}},
        "description": {"path": "status", "transform": {"prepend": "kaleyra "}},
        "hard_bounce": {"path": "status", "map": {"read": false, "*": null}}
    }});
    let query = std::fs::read_to_string(format!(
        "{}/courier-status-read.query.txt",
        fixtures("fieldmap-kaleyra")
    ))
    .unwrap();
    let events = run(config, Callback::get(query)).unwrap();
    let status = events[0].status.as_ref().unwrap();
    assert_eq!(
        events[0].reference.vendor_message_id.as_deref(),
        Some("58F86FAB-85C5-4F7C-9B68-9C323248AFC4")
    );
    // The map runs before config.statuses; vendor_status keeps its result.
    assert_eq!(status.status, Status::Delivered);
    assert_eq!(status.vendor_status.as_deref(), Some("delivered"));
    assert_eq!(status.description.as_deref(), Some("kaleyra read"));
    assert_eq!(events[0].channel, Channel::Whatsapp);
}

/// MessageBird repeats `id` and `body` in one form; `[-1]` reads the last,
/// `[]` all, and a key sent once reads the same way.
#[test]
fn repeated_form_keys_read_as_lists() {
    let body = std::fs::read_to_string(format!(
        "{}/courier-receive-text.form",
        fixtures("fieldmap-messagebird")
    ))
    .unwrap();
    let config = |text: &str| {
        json!({"vendor": "messagebird", "channel": "sms", "event_type": "inbound_message",
               "items": "id[]", "fields": {"inbound_from": "$root.originator", "inbound_text": text,
                                           "vendor_message_id": "$"}})
    };
    let events = run(config("$root.body[-1]"), Callback::form(body.clone())).unwrap();
    let ids: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.reference.vendor_message_id.as_deref())
        .collect();
    assert_eq!(
        ids,
        [
            Some("b6aae1b5dfb2427a8f7ea6a717ba31a9"),
            Some("3b53c137369242138120d6b0b2122601")
        ]
    );
    assert_eq!(
        events[1].inbound_message.as_ref().unwrap().text.as_deref(),
        Some("Test 3")
    );
    let events = run(config("$root.body[0]"), Callback::form(body)).unwrap();
    assert_eq!(
        events[0].inbound_message.as_ref().unwrap().text.as_deref(),
        Some("Test again")
    );
    // Sent once: still a list of one for `[]`, `[0]` and `[-1]`.
    let events = run(
        config("$root.body[-1]"),
        Callback::form("originator=1&id=x&body=hi"),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reference.vendor_message_id.as_deref(), Some("x"));
    assert_eq!(
        events[0].inbound_message.as_ref().unwrap().text.as_deref(),
        Some("hi")
    );
}

/// Mandrill posts its events as JSON text in a form field.
#[test]
fn json_inside_a_string_is_parsed_by_the_path() {
    let body = std::fs::read_to_string(format!(
        "{}/discourse-hard-bounce.form",
        fixtures("fieldmap-mandrill")
    ))
    .unwrap();
    // In a field path, without `items`.
    let config = json!({"vendor": "mandrill", "channel": "email", "fields": {
        "channel_value": "mandrill_events.@json[-1].msg.email",
        "status": {"path": "mandrill_events.@json[0].event", "map": {"hard_bounce": "failed"}}
    }});
    let events = run(config, Callback::form(body)).unwrap();
    assert_eq!(events[0].channel_value.as_deref(), Some("em@il.com"));
    assert_eq!(events[0].status.as_ref().unwrap().status, Status::Failed);
    // Text that is not JSON: absent in a field, invalid_input in `items`.
    let config =
        json!({"vendor": "m", "items": "e.@json[]", "fields": {"status": {"value": "sent"}}});
    let error = run(config, Callback::form("e=%5Boops")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(
        error
            .message
            .starts_with("the text at `e.@json[]` (config.items) is not JSON"),
        "{}",
        error.message
    );
    let config = json!({"vendor": "m", "fields": {"status": {"value": "sent"}, "channel_value": "e.@json.to"}});
    let events = run(config, Callback::form("e=%5Boops")).unwrap();
    assert_eq!(events[0].channel_value, None);
}

/// The README's worked multi-shape example shows the MessageBird fixture's
/// config as it is.
#[test]
fn the_readme_example_is_the_messagebird_config() {
    let readme =
        std::fs::read_to_string(format!("{}/../../../README.md", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let intro = "(`plugins/fixtures/fieldmap-messagebird/config.json`):\n\n```json\n";
    let start = readme.find(intro).expect("README example") + intro.len();
    let end = start + readme[start..].find("\n```").unwrap();
    let shown: Value = serde_json::from_str(&readme[start..end]).unwrap();
    let dir = fixtures("fieldmap-messagebird");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap())
            .unwrap();
    assert_eq!(shown, config);
}

/// A shape's condition may look anywhere in the payload; messages show the
/// path as written, scope included.
#[test]
fn conditions_name_their_path_as_written() {
    let config = json!({"vendor": "x", "shapes": [{"name": "batch", "when": {"path": "$root.results[-1].status"}}]});
    let error = run(config, Callback::json(r#"{"results": []}"#)).unwrap_err();
    assert_eq!(
        error.message,
        "the payload matches none of config.shapes: batch needs `$root.results[-1].status` present"
    );
}
