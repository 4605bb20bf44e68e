use super::*;
use wasmhook_sdk::time::parse_offset;

fn run(body: Value, config: Value) -> Result<Vec<Event>, PluginError> {
    map(Callback::json(body.to_string()), Config(config)).map(|m| m.events)
}

fn status(event: &Event) -> &StatusInfo {
    event.status.as_ref().expect("a status event")
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/esputnik"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn status_table() {
    for (name, want) in [
        ("DELIVERED", Status::Delivered),
        ("UNDELIVERED", Status::Failed),
        ("READ", Status::Read),
        ("CLICKED", Status::Clicked),
        ("UNSUBSCRIBED", Status::Unsubscribed),
        ("SPAM", Status::Spam),
        ("SUBSCRIPTION_CHANGED", Status::SubscriptionChanged),
    ] {
        assert_eq!(status_of(name), Some(want), "{name}");
    }
    assert_eq!(status_of("SENT"), None);
}

#[test]
fn channels_from_media_type_or_fields() {
    for (media_type, want) in [
        ("email", Channel::Email),
        ("SMS", Channel::Sms),
        ("viber", Channel::Viber),
        ("webpush", Channel::Push),
        ("mobilepush", Channel::Push),
        ("whatsapp", Channel::Whatsapp),
        ("telegram", Channel::Other),
    ] {
        assert_eq!(channel_of(media_type), want, "{media_type}");
    }
    let events = run(
        json!([
            {"activityStatus": "READ", "email": "a@example.com", "iid": "1"},
            {"activityStatus": "READ", "sms": "380", "iid": "2"},
            {"activityStatus": "READ", "mediaType": "viber", "email": "b@example.com", "phone": "381", "iid": "3"}
        ]),
        json!({}),
    )
    .unwrap();
    let got: Vec<_> = events
        .iter()
        .map(|e| (e.channel, e.channel_value.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (Channel::Email, "a@example.com".to_string()),
            (Channel::Sms, "380".to_string()),
            (Channel::Viber, "381".to_string())
        ]
    );
}

#[test]
fn naive_times_are_utc_unless_an_offset_is_configured() {
    let body = json!([{"activityStatus": "DELIVERED", "iid": "x", "activityDateTime": "2023-09-14T08:30:03"}]);
    let utc = run(body.clone(), json!({})).unwrap();
    assert_eq!(status(&utc[0]).timestamp, Some(1_694_680_203_000));
    let kyiv = run(body, json!({"timezone_offset": "+03:00"})).unwrap();
    assert_eq!(status(&kyiv[0]).timestamp, Some(1_694_669_403_000));
    let zoned =
        json!([{"activityStatus": "DELIVERED", "activityDateTime": "2023-09-14T08:30:03Z"}]);
    let kept = run(zoned, json!({"timezone_offset": "+03:00"})).unwrap();
    assert_eq!(status(&kept[0]).timestamp, Some(1_694_680_203_000));
}

#[test]
fn offsets_parse_and_bad_ones_name_the_field() {
    for (text, seconds) in [
        ("+03:00", 10_800),
        ("-0500", -18_000),
        ("+05", 18_000),
        ("Z", 0),
        ("utc", 0),
    ] {
        assert_eq!(
            parse_offset(text).map(|o| o.local_minus_utc()),
            Some(seconds),
            "{text}"
        );
    }
    for text in ["03:00", "+3", "+25:00", "+03:xx", "", "+"] {
        assert_eq!(parse_offset(text), None, "{text}");
    }
    let error = run(json!([]), json!({"timezone_offset": "Europe/Kyiv"})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
    assert!(
        error.message.starts_with("config.timezone_offset"),
        "{error}"
    );
    let typed = run(json!([]), json!({"timezone_offset": 3})).unwrap_err();
    assert!(
        typed.message.starts_with("config.timezone_offset"),
        "{typed}"
    );
}

#[test]
fn unknown_statuses_are_skipped_with_a_warning() {
    let events = run(
        json!([{"activityStatus": "OPENED_TWICE", "iid": "1"}, {"activityStatus": "SPAM", "iid": "2"}]),
        json!({}),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reference.vendor_message_id.as_deref(), Some("2"));
    let logs = wasmhook_sdk::testing::take_logs();
    assert!(
        logs.iter()
            .any(|(level, line)| *level == LogLevel::Warn && line.contains("OPENED_TWICE")),
        "{logs:?}"
    );
}

#[test]
fn hard_bounce_as_bool_or_text() {
    let events = run(
        json!([
            {"activityStatus": "UNDELIVERED", "hardBounce": true, "statusDescription": "blacklisted"},
            {"activityStatus": "UNDELIVERED", "hardBounce": "false"},
            {"activityStatus": "UNDELIVERED"}
        ]),
        json!({}),
    )
    .unwrap();
    let got: Vec<_> = events.iter().map(|e| status(e).hard_bounce).collect();
    assert_eq!(got, [Some(true), Some(false), None]);
    assert_eq!(
        status(&events[0]).description.as_deref(),
        Some("blacklisted")
    );
}

#[test]
fn test_get_and_empty_bodies_give_no_events() {
    let mapped = map(Callback::get(""), Config::default()).unwrap();
    assert!(mapped.events.is_empty() && mapped.reply.is_none());
    assert!(
        map(Callback::json("  "), Config::default())
            .unwrap()
            .events
            .is_empty()
    );
    let single = run(json!({"activityStatus": "READ", "iid": "solo"}), json!({})).unwrap();
    assert_eq!(single.len(), 1);
}

#[test]
fn malformed_batches_are_invalid_input() {
    for body in [
        json!([1]),
        json!([{"iid": "no status"}]),
        json!("text"),
        json!(5),
    ] {
        let error = run(body.clone(), json!({})).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{body}: {error}");
    }
    let broken = map(
        Callback::json("[{\"activityStatus\": \"READ\""),
        Config::default(),
    )
    .unwrap_err();
    assert_eq!(broken.kind, ErrorKind::InvalidInput);
}
