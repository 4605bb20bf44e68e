use super::*;

fn run(body: &str) -> Result<Mapped, PluginError> {
    map(Callback::json(body), Config::default())
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sendgrid"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn status_table() {
    let cases = [
        ("processed", None, Status::Queued, None),
        ("deferred", None, Status::Deferred, None),
        ("delivered", None, Status::Delivered, None),
        ("Delivered", None, Status::Delivered, None),
        ("open", None, Status::Read, None),
        ("click", None, Status::Clicked, None),
        ("bounce", None, Status::Failed, Some(true)),
        ("bounce", Some("bounce"), Status::Failed, Some(true)),
        ("bounce", Some("blocked"), Status::Failed, Some(false)),
        ("dropped", None, Status::Failed, None),
        ("spamreport", None, Status::Spam, None),
        ("unsubscribe", None, Status::Unsubscribed, None),
        ("group_unsubscribe", None, Status::Unsubscribed, None),
        ("group_resubscribe", None, Status::SubscriptionChanged, None),
    ];
    for (event, kind, status, hard) in cases {
        assert_eq!(
            (STATUSES.get(event), hard_bounce(event, kind)),
            (Some(status), hard),
            "{event} {kind:?}"
        );
    }
    assert_eq!(STATUSES.get("machine_learning"), None);
}

#[test]
fn filter_suffix_is_stripped() {
    assert_eq!(
        x_message_id("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"),
        "14c5d75ce93.dfd.64b469"
    );
    assert_eq!(
        x_message_id("HSp4oKkTTHOWdKB3bDmNNQ.filterdrecv-p3las1-5bf99c48d-22fkd-21-5BB2A1F2-B.0"),
        "HSp4oKkTTHOWdKB3bDmNNQ"
    );
    assert_eq!(x_message_id("plain-id"), "plain-id");
    assert_eq!(x_message_id(".filter0001"), ".filter0001");
}

#[test]
fn single_object_is_a_one_event_batch() {
    let mapped = run(r#"{"event":"delivered","email":"a@b.c","timestamp":1700000000,"sg_message_id":"abc.filter1.2"}"#)
        .unwrap();
    assert_eq!(mapped.events.len(), 1);
    let event = &mapped.events[0];
    assert_eq!(event.channel_value.as_deref(), Some("a@b.c"));
    assert_eq!(event.reference.vendor_message_id.as_deref(), Some("abc"));
    assert_eq!(
        event.status.as_ref().unwrap().timestamp,
        Some(1_700_000_000_000)
    );
    assert_eq!(event.vendor_response["sg_message_id"], "abc.filter1.2");
}

#[test]
fn empty_batch_is_no_events() {
    assert!(run("[]").unwrap().events.is_empty());
}

#[test]
fn unknown_event_types_are_skipped_with_a_warning() {
    wasmhook_sdk::testing::take_logs();
    let mapped =
        run(r#"[{"event":"new_thing","email":"a@b.c"},{"event":"open","email":"a@b.c"}]"#).unwrap();
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(
        mapped.events[0].status.as_ref().unwrap().status,
        Status::Read
    );
    let logs = wasmhook_sdk::testing::take_logs();
    assert!(
        logs.iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("new_thing")),
        "{logs:?}"
    );
}

#[test]
fn a_batch_of_only_unknown_types_is_unsupported() {
    let error = run(r#"[{"event":"new_thing"}]"#).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unsupported);
}

#[test]
fn malformed_bodies_are_invalid_input() {
    for body in [
        "{oops",
        "42",
        r#"["x"]"#,
        r#"[{"email":"a@b.c"}]"#,
        r#"[{"event":1.5}]"#,
    ] {
        let error = run(body).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{body}: {error}");
    }
    let error = run(r#"[{"event":"open"},{"email":"x"}]"#).unwrap_err();
    assert!(
        error
            .message
            .starts_with("SendGrid event [1]: field `event` is missing"),
        "{error}"
    );
}

#[test]
fn error_code_only_on_failures() {
    let mapped = run(r#"[{"event":"delivered","status":"2.0.0","response":"250 OK"}]"#).unwrap();
    let status = mapped.events[0].status.clone().unwrap();
    assert_eq!(status.error_code, None);
    assert_eq!(status.description.as_deref(), Some("250 OK"));
}
