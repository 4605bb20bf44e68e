use super::*;

const KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

fn run(body: &Value, config: Value) -> Result<Vec<Event>, PluginError> {
    map(Callback::json(body.to_string()), Config(config))
}

/// A webhook body signed with `key` (as Mailgun signs it).
fn signed(key: &str, event_data: Value) -> Value {
    let (timestamp, token) = (
        "1529006854",
        "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    );
    json!({
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": signature::hex_signature(key, timestamp, token),
        },
        "event-data": event_data,
    })
}

fn delivered() -> Value {
    json!({"event": "delivered", "id": "e1", "timestamp": 1529692199.626182,
           "recipient": "john@example.com",
           "message": {"headers": {"message-id": "m1@example.org"}}})
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/mailgun"),
        |case| map(case.callback.clone(), Config(case.config.clone())).map(Into::into),
    );
}

#[test]
fn status_table() {
    let cases = [
        ("accepted", None, None, Status::Queued, None),
        ("delivered", None, None, Status::Delivered, None),
        ("opened", None, None, Status::Read, None),
        ("clicked", None, None, Status::Clicked, None),
        ("unsubscribed", None, None, Status::Unsubscribed, None),
        ("complained", None, None, Status::Spam, None),
        ("rejected", None, None, Status::Failed, None),
        (
            "failed",
            Some("temporary"),
            Some("generic"),
            Status::Deferred,
            None,
        ),
        (
            "failed",
            Some("permanent"),
            Some("bounce"),
            Status::Failed,
            Some(true),
        ),
        (
            "failed",
            Some("permanent"),
            Some("suppress-bounce"),
            Status::Failed,
            Some(true),
        ),
        (
            "failed",
            Some("permanent"),
            Some("suppress-unsubscribe"),
            Status::Failed,
            Some(false),
        ),
        (
            "failed",
            Some("permanent"),
            Some("suppress-complaint"),
            Status::Failed,
            Some(false),
        ),
        ("failed", None, None, Status::Failed, None),
    ];
    for (event, severity, reason, status, hard) in cases {
        assert_eq!(
            status_of(event, severity, reason),
            Some((status, hard)),
            "{event} {severity:?} {reason:?}"
        );
    }
    assert_eq!(status_of("list_member_uploaded", None, None), None);
}

#[test]
fn a_correct_signature_is_accepted() {
    let events = run(&signed(KEY, delivered()), json!({"signing_key": KEY})).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].reference.vendor_message_id.as_deref(),
        Some("m1@example.org")
    );
    // vendor_response is the event-data, without the signature.
    assert_eq!(events[0].vendor_response["id"], "e1");
    assert!(events[0].vendor_response.get("signature").is_none());
}

#[test]
fn a_wrong_signature_is_refused() {
    let error = run(
        &signed("another-key", delivered()),
        json!({"signing_key": KEY}),
    )
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert_eq!(error.message, "signature does not match");

    // Tampering with the token breaks it too.
    let mut body = signed(KEY, delivered());
    body["signature"]["token"] = json!("x");
    let error = run(&body, json!({"signing_key": KEY})).unwrap_err();
    assert_eq!(error.message, "signature does not match");

    // Not hex at all.
    body["signature"]["signature"] = json!("not-hex");
    assert_eq!(
        run(&body, json!({"signing_key": KEY})).unwrap_err().message,
        "signature does not match"
    );
}

#[test]
fn the_doc_signature_verifies_with_no_guessable_key() {
    let text = include_str!("../../../fixtures/mailgun/webhook-delivered.composed.json");
    let body: Value = wasmhook_sdk::serde_json::from_str(text).unwrap();
    let error = run(&body, json!({"signing_key": KEY})).unwrap_err();
    assert_eq!(error.message, "signature does not match");
}

#[test]
fn with_a_key_an_unsigned_body_is_refused() {
    let error = run(&delivered(), json!({"signing_key": KEY})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(error.message.contains("signature is missing"), "{error}");
    let mut body = signed(KEY, delivered());
    body["signature"].as_object_mut().unwrap().remove("token");
    let error = run(&body, json!({"signing_key": KEY})).unwrap_err();
    assert!(error.message.contains("signature.token"), "{error}");
}

#[test]
fn without_a_key_signatures_are_not_checked() {
    assert_eq!(
        run(&signed("whatever", delivered()), json!({}))
            .unwrap()
            .len(),
        1
    );
    // An empty key counts as none.
    assert_eq!(
        run(&signed("whatever", delivered()), json!({"signing_key": ""}))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn config_errors_name_the_field() {
    let error = run(&delivered(), json!({"signing_key": 5})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
    assert!(error.message.contains("signing_key"), "{error}");
    let error = run(&delivered(), json!({"signingKey": KEY})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
}

#[test]
fn stored_gives_no_event() {
    let body = json!({"event-data": {"event": "stored", "id": "s1", "timestamp": 1.0}});
    assert!(run(&body, json!({})).unwrap().is_empty());
}

#[test]
fn timestamp_is_float_seconds() {
    let events = run(&delivered(), json!({})).unwrap();
    assert_eq!(
        events[0].status.as_ref().unwrap().timestamp,
        Some(1_529_692_199_626)
    );
}

#[test]
fn recipient_falls_back_to_envelope_targets() {
    let body = json!({"event": "accepted", "envelope": {"targets": "t@example.com"}});
    let events = run(&body, json!({})).unwrap();
    assert_eq!(events[0].channel_value.as_deref(), Some("t@example.com"));
}

#[test]
fn unknown_and_malformed_bodies() {
    let kind = |body: Value| run(&body, json!({})).unwrap_err().kind;
    assert_eq!(kind(json!([1])), ErrorKind::InvalidInput);
    assert_eq!(
        kind(json!({"event-data": {"id": "x"}})),
        ErrorKind::InvalidInput
    );
    assert_eq!(kind(json!({"event": 3})), ErrorKind::InvalidInput);
    assert_eq!(
        kind(json!({"event": "list_uploaded"})),
        ErrorKind::Unsupported
    );
    assert_eq!(kind(json!({"hello": "world"})), ErrorKind::Unsupported);
    let error = map(Callback::json("{oops"), Config::default()).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
}
