use super::*;

/// An SNS Notification envelope around `record`, as SNS sends it.
fn envelope(record: &Value) -> Callback {
    let body = json!({
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:eu-west-1:1:ses",
        "Message": record.to_string(),
    });
    Callback::post("text/plain; charset=UTF-8", body.to_string())
}

fn run(callback: Callback) -> Result<Mapped, PluginError> {
    map(callback, Config::default())
}

fn statuses(mapped: &Mapped) -> Vec<(Option<String>, StatusInfo)> {
    mapped
        .events
        .iter()
        .map(|e| (e.channel_value.clone(), e.status.clone().unwrap()))
        .collect()
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/amazon-ses"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn subscription_confirmation_logs_the_url_and_maps_nothing() {
    wasmhook_sdk::testing::take_logs();
    let body = json!({
        "Type": "SubscriptionConfirmation",
        "TopicArn": "arn:aws:sns:us-west-2:1:T",
        "SubscribeURL": "https://sns.example/?Action=ConfirmSubscription&Token=t",
    });
    let mapped = run(Callback::post("text/plain", body.to_string())).unwrap();
    assert!(mapped.events.is_empty());
    assert!(mapped.reply.is_none());
    let logs = wasmhook_sdk::testing::take_logs();
    assert!(
        logs.iter().any(|(level, line)| *level == LogLevel::Info
            && line.contains("Action=ConfirmSubscription&Token=t")),
        "{logs:?}"
    );
}

#[test]
fn unsubscribe_confirmation_maps_nothing() {
    let body = json!({"Type": "UnsubscribeConfirmation", "SubscribeURL": "https://x"});
    assert!(
        run(Callback::json(body.to_string()))
            .unwrap()
            .events
            .is_empty()
    );
}

#[test]
fn one_event_per_bounced_recipient_with_its_own_status() {
    let record = json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Transient", "bounceSubType": "MailboxFull",
            "timestamp": "2020-01-01T00:00:01.500Z",
            "bouncedRecipients": [
                {"emailAddress": "a@x.com", "status": "4.2.2", "diagnosticCode": "full"},
                {"emailAddress": "b@x.com"}
            ]
        },
        "mail": {"messageId": "id-1", "timestamp": "2020-01-01T00:00:00Z",
                 "destination": ["a@x.com", "b@x.com", "c@x.com"]}
    });
    let mapped = run(envelope(&record)).unwrap();
    let got = statuses(&mapped);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0.as_deref(), Some("a@x.com"));
    assert_eq!(got[0].1.status, Status::Failed);
    assert_eq!(got[0].1.hard_bounce, Some(false));
    assert_eq!(got[0].1.error_code.as_deref(), Some("4.2.2"));
    assert_eq!(got[0].1.description.as_deref(), Some("full"));
    assert_eq!(got[0].1.timestamp, Some(1_577_836_801_500));
    // No per-recipient diagnostic: the bounce subtype describes it.
    assert_eq!(got[1].1.error_code, None);
    assert_eq!(got[1].1.description.as_deref(), Some("MailboxFull"));
    assert!(
        mapped
            .events
            .iter()
            .all(|e| e.reference.vendor_message_id.as_deref() == Some("id-1"))
    );
}

#[test]
fn undetermined_bounce_is_not_hard() {
    let record = json!({"eventType": "Bounce", "bounce": {"bounceType": "Undetermined"},
                        "mail": {"messageId": "m", "destination": ["a@x.com"]}});
    let got = statuses(&run(Callback::json(record.to_string())).unwrap());
    assert_eq!(got[0].0.as_deref(), Some("a@x.com"));
    assert_eq!(got[0].1.hard_bounce, Some(false));
}

#[test]
fn click_delay_rendering_failure_and_subscription_change() {
    let mail =
        json!({"messageId": "m", "timestamp": "2020-01-01T00:00:00Z", "destination": ["a@x.com"]});
    let click = json!({"eventType": "Click", "mail": mail,
        "click": {"link": "https://example.com/x", "timestamp": "2020-01-01T00:00:02Z"}});
    let got = statuses(&run(envelope(&click)).unwrap());
    assert_eq!(got[0].1.status, Status::Clicked);
    assert_eq!(got[0].1.link.as_deref(), Some("https://example.com/x"));
    assert_eq!(got[0].1.timestamp, Some(1_577_836_802_000));

    let delay = json!({"eventType": "DeliveryDelay", "mail": mail, "deliveryDelay": {
        "timestamp": "2020-01-01T00:00:03Z", "delayType": "MailboxFull",
        "delayedRecipients": [{"emailAddress": "a@x.com", "status": "4.2.2", "diagnosticCode": "smtp; 452"}]}});
    let got = statuses(&run(envelope(&delay)).unwrap());
    assert_eq!(got[0].1.status, Status::Deferred);
    assert_eq!(got[0].1.error_code.as_deref(), Some("4.2.2"));
    assert_eq!(got[0].1.description.as_deref(), Some("smtp; 452"));

    let failure = json!({"eventType": "Rendering Failure", "mail": mail,
        "failure": {"errorMessage": "Attribute 'name' is not present", "templateName": "T"}});
    let got = statuses(&run(envelope(&failure)).unwrap());
    assert_eq!(got[0].1.status, Status::Failed);
    assert_eq!(
        got[0].1.description.as_deref(),
        Some("Attribute 'name' is not present")
    );
    assert_eq!(got[0].1.timestamp, Some(1_577_836_800_000));

    let change = json!({"eventType": "Subscription", "mail": mail,
        "subscription": {"newTopicPreferences": {"unsubscribeAll": false}}});
    let got = statuses(&run(envelope(&change)).unwrap());
    assert_eq!(got[0].1.status, Status::SubscriptionChanged);
}

#[test]
fn open_to_several_destinations_gives_one_event_each() {
    let record = json!({"eventType": "Open", "open": {"timestamp": "2020-01-01T00:00:00Z"},
                        "mail": {"messageId": "m", "destination": ["a@x.com", "b@x.com"]}});
    let got = statuses(&run(Callback::json(record.to_string())).unwrap());
    let who: Vec<_> = got.iter().map(|(r, _)| r.clone().unwrap()).collect();
    assert_eq!(who, ["a@x.com", "b@x.com"]);
}

#[test]
fn record_without_recipients_still_maps_once() {
    let record = json!({"eventType": "Send", "mail": {"messageId": "m"}});
    let mapped = run(Callback::json(record.to_string())).unwrap();
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(mapped.events[0].channel_value, None);
}

#[test]
fn topic_connected_notice_maps_nothing() {
    let record = json!({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "..."});
    assert!(run(envelope(&record)).unwrap().events.is_empty());
}

#[test]
fn errors() {
    let kind = |callback| run(callback).unwrap_err().kind;
    assert_eq!(
        kind(Callback::post("text/plain", "not json")),
        ErrorKind::InvalidInput
    );
    assert_eq!(kind(Callback::json("[1]")), ErrorKind::InvalidInput);
    assert_eq!(
        kind(Callback::json(r#"{"Type":"Notification"}"#)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(Callback::json(r#"{"Type":"Notification","Message":5}"#)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(envelope(&json!("Hello world!"))),
        ErrorKind::Unsupported
    );
    assert_eq!(
        kind(envelope(&json!({"eventType": "Teleport"}))),
        ErrorKind::Unsupported
    );
    assert_eq!(
        kind(Callback::json(r#"{"hello":"world"}"#)),
        ErrorKind::Unsupported
    );
    assert_eq!(
        kind(Callback::json(r#"{"Type":"Other"}"#)),
        ErrorKind::Unsupported
    );
}

#[test]
fn long_plain_text_message_is_cut_in_the_error() {
    let text = "x".repeat(500);
    let error = run(envelope(&json!(text))).unwrap_err();
    assert!(error.message.len() < 300, "{}", error.message);
}
