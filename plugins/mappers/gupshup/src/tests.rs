use super::*;

fn run(callback: Callback) -> Result<Vec<Event>, PluginError> {
    map(callback, Config::default()).map(|mapped| mapped.events)
}

fn status(event: &Event) -> &StatusInfo {
    event.status.as_ref().expect("a status event")
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/gupshup"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn v2_status_table() {
    for (kind, want) in [
        ("enqueued", Some(Status::Queued)),
        ("sent", Some(Status::Sent)),
        ("delivered", Some(Status::Delivered)),
        ("read", Some(Status::Read)),
        ("failed", Some(Status::Failed)),
        ("deleted", None),
    ] {
        assert_eq!(wa_v2::status_of(kind).unwrap(), want, "{kind}");
    }
    assert_eq!(
        wa_v2::status_of("bogus").unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

#[test]
fn v2_ts_is_seconds_and_envelope_is_the_fallback() {
    let body = |payload: Value| json!({"timestamp": 1_585_344_475_993_i64, "type": "message-event", "payload": payload});
    let nested =
        body(json!({"id": "w", "gsId": "g", "type": "read", "payload": {"ts": 1_585_344_475}}));
    let top = body(json!({"id": "w", "type": "read", "ts": 1_585_344_476, "payload": {}}));
    let none = body(json!({"id": "w", "type": "enqueued", "payload": {}}));
    let got: Vec<_> = [nested, top, none]
        .iter()
        .map(|b| status(&run(Callback::json(b.to_string())).unwrap()[0]).timestamp)
        .collect();
    assert_eq!(
        got,
        [
            Some(1_585_344_475_000),
            Some(1_585_344_476_000),
            Some(1_585_344_475_993)
        ]
    );
}

#[test]
fn v2_deleted_and_billing_events_are_no_events() {
    let deleted = json!({"type": "message-event", "payload": {"id": "x", "type": "deleted"}});
    let billing = json!({"type": "billing-event", "payload": {"deductions": {}}});
    for body in [deleted, billing] {
        assert!(run(Callback::json(body.to_string())).unwrap().is_empty());
    }
    let other = json!({"type": "system-event", "payload": {}});
    assert_eq!(
        run(Callback::json(other.to_string())).unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

#[test]
fn v2_inbound_replies_and_media() {
    let body = |kind: &str, payload: Value| {
        json!({"timestamp": 1_580_228_523_976_i64, "type": "message", "payload": {
            "id": "ABEG", "source": "918x98xx21x4", "type": kind, "payload": payload,
            "context": {"id": "gBEG", "gsId": "cbdafe39"}}})
        .to_string()
    };
    let list = run(Callback::json(body(
        "list_reply",
        json!({"title": "section 1 row 1",
        "id": "list1", "reply": "section 1 row 1 1", "postbackText": "postback"}),
    )))
    .unwrap();
    let message = list[0].inbound_message.as_ref().unwrap();
    assert_eq!(message.text.as_deref(), Some("section 1 row 1"));
    assert_eq!(message.payload.as_deref(), Some("postback"));
    assert_eq!(
        message.context.as_ref().unwrap().id.as_deref(),
        Some("cbdafe39")
    );
    assert_eq!(message.timestamp, Some(1_580_228_523_976));

    let image = run(Callback::json(body(
        "image",
        json!({"caption": "hi",
        "url": "https://filemanager.gupshup.io/x", "contentType": "image/jpeg"}),
    )))
    .unwrap();
    let message = image[0].inbound_message.as_ref().unwrap();
    assert_eq!(
        message.media[0].url.as_deref(),
        Some("https://filemanager.gupshup.io/x")
    );
    assert_eq!(message.media[0].mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(message.text.as_deref(), Some("hi"));

    let location = run(Callback::json(body(
        "location",
        json!({"longitude": 77.2, "latitude": 28.6}),
    )))
    .unwrap();
    assert_eq!(
        location[0]
            .inbound_message
            .as_ref()
            .unwrap()
            .text
            .as_deref(),
        Some("28.6,77.2")
    );
}

#[test]
fn sms_batch_splits_and_reads_both_error_code_names() {
    let batch = json!([
        {"externalId": "a", "eventType": "DELIVERED", "eventTs": 1_526_347_800_000_i64,
         "destAddr": 919_892_488_888_i64, "cause": "SUCCESS", "errCode": "000"},
        {"externalId": "b", "eventType": "FAILED", "eventTs": 1_526_347_800_000_i64,
         "destAddr": "9198", "cause": " UNKNOWN_SUBSCRIBER", "errorCode": "003"},
        {"externalId": "c", "eventType": "UNKNOWN", "channel": "SMS"}
    ]);
    let events = run(Callback::json(batch.to_string())).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(status(&events[0]).error_code, None);
    assert_eq!(events[0].channel_value.as_deref(), Some("919892488888"));
    assert_eq!(status(&events[1]).error_code.as_deref(), Some("003"));
    assert_eq!(
        status(&events[1]).description.as_deref(),
        Some("UNKNOWN_SUBSCRIBER")
    );
    assert_eq!(status(&events[2]).status, Status::Sent);
    assert_eq!(events[1].vendor_response["externalId"], "b");
    assert!(run(Callback::json("[]")).unwrap().is_empty());
}

#[test]
fn sms_batch_errors() {
    let unknown = json!([{"externalId": "a", "eventType": "EXPLODED"}]).to_string();
    assert_eq!(
        run(Callback::json(unknown)).unwrap_err().kind,
        ErrorKind::Unsupported
    );
    let no_id = json!([{"eventType": "DELIVERED"}]).to_string();
    assert_eq!(
        run(Callback::json(no_id)).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    let not_object = json!([1]).to_string();
    assert_eq!(
        run(Callback::json(not_object)).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
}

#[test]
fn sms_batch_in_a_response_form_field() {
    let json = r#"[{"externalId":"x-1","eventType":"DELIVERED","eventTs":1526347800000,"destAddr":919892488888}]"#;
    let encoded: String = form_urlencoded_value(json);
    for callback in [
        Callback::form(format!("response={encoded}")),
        Callback::post("application/json", format!("response={json}")),
    ] {
        let events = run(callback).unwrap();
        assert_eq!(
            events[0].reference.vendor_message_id.as_deref(),
            Some("x-1")
        );
    }
}

/// Percent-encodes everything but unreserved characters.
fn form_urlencoded_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn sms_get_query() {
    let success = "externalId=1-2&deliveredTS=1526347800000&status=SUCCESS&cause=SUCCESS&phoneNo=9198&errCode=000&noOfFrags=1";
    let events = run(Callback::get(success)).unwrap();
    let info = status(&events[0]);
    assert_eq!(
        (info.status, info.timestamp),
        (Status::Delivered, Some(1_526_347_800_000))
    );
    assert_eq!(info.error_code, None);
    assert_eq!(events[0].vendor_response["noOfFrags"], "1");
    let unknown = run(Callback::get("externalId=1&status=UNKNOWN& noOfFrags=1")).unwrap();
    assert_eq!(status(&unknown[0]).status, Status::Sent);
    let form = run(Callback::form("externalId=9&status=FAILURE&errCode=003")).unwrap();
    assert_eq!(status(&form[0]).error_code.as_deref(), Some("003"));
}

#[test]
fn sms_get_template_placeholders_are_refused_by_name() {
    let error = run(Callback::get("externalId=%0&deliveredTS=%1&status=%2")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(
        error.message.contains("`externalId`") && error.message.contains("`%0`"),
        "{error}"
    );
    let missing = run(Callback::get("status=SUCCESS")).unwrap_err();
    assert!(missing.message.contains("externalId"), "{missing}");
    assert_eq!(
        run(Callback::get("")).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
}

#[test]
fn v3_passthrough_failed_keeps_placeholders_out() {
    let body = json!({"entry": [{"changes": [{"field": "messages", "value": {"statuses": [{
        "id": "wamid", "gs_id": "gs", "status": "failed", "timestamp": "TIMESTAMP",
        "recipient_id": "91", "code": 131026, "reason": "Message undeliverable"}]}}]}]});
    let events = run(Callback::json(body.to_string())).unwrap();
    let info = status(&events[0]);
    assert_eq!(info.timestamp, None);
    assert_eq!(info.error_code.as_deref(), Some("131026"));
    assert_eq!(info.description.as_deref(), Some("Message undeliverable"));
    assert_eq!(events[0].reference.vendor_message_id.as_deref(), Some("gs"));
}

#[test]
fn garbage_is_refused_cleanly() {
    for (body, kind) in [
        ("not json", ErrorKind::InvalidInput),
        ("42", ErrorKind::InvalidInput),
        ("{}", ErrorKind::Unsupported),
        (r#"{"type": "message-event"}"#, ErrorKind::InvalidInput),
        (
            r#"{"type": "message", "payload": {"type": "text"}}"#,
            ErrorKind::InvalidInput,
        ),
    ] {
        let error = run(Callback::post("application/json", body)).unwrap_err();
        assert_eq!(error.kind, kind, "{body}: {error}");
    }
    let xml = run(Callback::post("application/xml", "<xml/>")).unwrap_err();
    assert_eq!(xml.kind, ErrorKind::Unsupported);
}
