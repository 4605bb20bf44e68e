use super::*;

fn run(body: &Value) -> Result<Vec<Event>, PluginError> {
    map(Callback::json(body.to_string()), Config::default())
}

fn status(body: &Value) -> StatusInfo {
    let events = run(body).unwrap();
    assert_eq!(events.len(), 1);
    events[0].status.clone().unwrap()
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/postmark"),
        |case| map(case.callback.clone(), Config(case.config.clone())).map(Into::into),
    );
}

#[test]
fn bounce_type_table() {
    let cases = [
        ("HardBounce", Status::Failed, Some(true)),
        ("BadEmailAddress", Status::Failed, Some(true)),
        ("ManuallyDeactivated", Status::Failed, Some(true)),
        ("Transient", Status::Deferred, None),
        ("SoftBounce", Status::Deferred, None),
        ("DnsError", Status::Deferred, None),
        ("SpamComplaint", Status::Spam, None),
        ("Unsubscribe", Status::Unsubscribed, None),
        ("Subscribe", Status::SubscriptionChanged, None),
        ("AutoResponder", Status::Delivered, None),
        ("Blocked", Status::Failed, Some(false)),
    ];
    for (name, want, hard) in cases {
        assert_eq!(bounce_status(Some(name), None), (want, hard), "{name}");
    }
    assert_eq!(
        bounce_status(Some("SpamNotification"), Some(true)),
        (Status::Failed, Some(true))
    );
    assert_eq!(bounce_status(None, None), (Status::Failed, Some(false)));
}

#[test]
fn soft_bounce_is_deferred_with_its_code() {
    let got = status(
        &json!({"RecordType": "Bounce", "Type": "SoftBounce", "TypeCode": 4096,
        "Email": "a@x.com", "MessageID": "m", "BouncedAt": "2020-01-01T00:00:00Z",
        "Description": "Unable to temporarily deliver"}),
    );
    assert_eq!(got.status, Status::Deferred);
    assert_eq!(got.vendor_status.as_deref(), Some("SoftBounce"));
    assert_eq!(got.error_code.as_deref(), Some("4096"));
    assert_eq!(
        got.description.as_deref(),
        Some("Unable to temporarily deliver")
    );
    assert_eq!(got.timestamp, Some(1_577_836_800_000));
}

#[test]
fn bounce_type_code_alone_is_enough() {
    let got = status(&json!({"RecordType": "Bounce", "TypeCode": 1, "Email": "a@x.com"}));
    assert_eq!((got.status, got.hard_bounce), (Status::Failed, Some(true)));
    assert_eq!(got.vendor_status.as_deref(), Some("HardBounce"));
    assert_eq!(got.error_code.as_deref(), Some("1"));
}

#[test]
fn type_without_code_is_the_error_code() {
    let got = status(&json!({"RecordType": "Bounce", "Type": "Blocked", "Inactive": false}));
    assert_eq!(got.error_code.as_deref(), Some("Blocked"));
    assert_eq!(got.hard_bounce, Some(false));
}

#[test]
fn subscription_change() {
    let body = json!({"RecordType": "SubscriptionChange", "MessageID": "m", "Recipient": "a@x.com",
        "ChangedAt": "2020-02-01T10:53:34.416071Z", "SuppressSending": true,
        "SuppressionReason": "ManualSuppression"});
    let got = status(&body);
    assert_eq!(got.status, Status::Unsubscribed);
    assert_eq!(got.description.as_deref(), Some("ManualSuppression"));
    assert_eq!(got.timestamp, Some(1_580_554_414_416));

    let mut reactivated = body.clone();
    reactivated["SuppressSending"] = json!(false);
    assert_eq!(status(&reactivated).status, Status::SubscriptionChanged);

    // The same body without RecordType is recognised by its fields.
    let mut legacy = body;
    legacy.as_object_mut().unwrap().remove("RecordType");
    assert_eq!(status(&legacy).status, Status::Unsubscribed);
}

#[test]
fn legacy_bodies_are_recognised_by_their_fields() {
    let cases = [
        (
            json!({"BouncedAt": "2020-01-01T00:00:00Z", "Type": "HardBounce"}),
            Status::Failed,
        ),
        (
            json!({"BouncedAt": "2020-01-01T00:00:00Z", "Type": "SpamComplaint"}),
            Status::Spam,
        ),
        (
            json!({"OriginalLink": "https://x", "ReceivedAt": "2020-01-01T00:00:00Z"}),
            Status::Clicked,
        ),
        (
            json!({"FirstOpen": true, "ReceivedAt": "2020-01-01T00:00:00Z"}),
            Status::Read,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(status(&body).status, want, "{body}");
    }
}

#[test]
fn unknown_and_malformed_bodies() {
    let kind = |body: &str| {
        map(Callback::json(body), Config::default())
            .unwrap_err()
            .kind
    };
    assert_eq!(kind("{"), ErrorKind::InvalidInput);
    assert_eq!(kind("[]"), ErrorKind::InvalidInput);
    assert_eq!(kind(r#"{"RecordType":"Inbound"}"#), ErrorKind::Unsupported);
    assert_eq!(kind(r#"{"MessageID":"m"}"#), ErrorKind::Unsupported);
}
