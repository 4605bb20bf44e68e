use super::*;

const CHALLENGE: &str = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";

fn config(token: &str) -> Config {
    Config(json!({ "verify_token": token }))
}

fn run(body: Value) -> Result<Vec<Event>, PluginError> {
    map(Callback::json(body.to_string()), Config::default()).map(|m| m.events)
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/meta-whatsapp"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn verification_echoes_the_challenge() {
    let mapped = map(Callback::get(CHALLENGE), config("meatyhamhock")).unwrap();
    assert!(mapped.events.is_empty());
    let reply = mapped.reply.unwrap();
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (200, "text/plain")
    );
    assert_eq!(reply.body, b"1158201444");
}

#[test]
fn verification_refuses_a_wrong_or_missing_token() {
    let wrong = map(Callback::get(CHALLENGE), config("meatyhamhocks")).unwrap_err();
    assert_eq!(wrong.kind, ErrorKind::InvalidInput);
    assert!(
        wrong.message.starts_with("hub.verify_token does not match"),
        "{wrong}"
    );
    let unset = map(Callback::get(CHALLENGE), Config::default()).unwrap_err();
    assert_eq!(unset.kind, ErrorKind::InvalidConfig);
    let bad_type = map(Callback::get(CHALLENGE), Config(json!({"verify_token": 5}))).unwrap_err();
    assert!(
        bad_type.message.starts_with("config.verify_token"),
        "{bad_type}"
    );
    let mode = map(
        Callback::get("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=t"),
        config("t"),
    );
    assert_eq!(mode.unwrap_err().kind, ErrorKind::InvalidInput);
    let bare = map(Callback::get("foo=bar"), config("t")).unwrap_err();
    assert!(bare.message.contains("hub.mode"), "{bare}");
}

#[test]
fn multiple_statuses_and_messages_in_one_body() {
    let body = json!({"object": "whatsapp_business_account", "entry": [
        {"changes": [{"field": "messages", "value": {
            "metadata": {"display_phone_number": "15550001111"},
            "statuses": [
                {"id": "wamid.1", "status": "delivered", "timestamp": "1700000000", "recipient_id": "31"},
                {"id": "wamid.2", "status": "read", "timestamp": "1700000001", "recipient_id": "31"}],
            "messages": [{"from": "31", "id": "wamid.3", "timestamp": "1700000002",
                          "type": "text", "text": {"body": "hi"}}]}}]},
        {"changes": [{"field": "messages", "value": {"statuses": [
            {"id": "wamid.4", "status": "failed", "timestamp": "1700000003", "recipient_id": "32",
             "errors": [{"code": 131026, "title": "Message undeliverable"}]}]}}]}]});
    let events = run(body).unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.reference.vendor_message_id.clone().unwrap(), e.event_type))
        .collect();
    assert_eq!(summary.len(), 4);
    assert_eq!(
        summary[2],
        ("wamid.3".to_string(), EventType::InboundMessage)
    );
    let failed = events[3].status.as_ref().unwrap();
    assert_eq!(failed.error_code.as_deref(), Some("131026"));
    assert_eq!(failed.description.as_deref(), Some("Message undeliverable"));
    assert_eq!(
        events[2].inbound_message.as_ref().unwrap().to.as_deref(),
        Some("15550001111")
    );
    assert_eq!(events[3].vendor_response["id"], "wamid.4");
}

#[test]
fn errors_webhook_is_one_failed_event_without_ids() {
    let body = json!({"entry": [{"changes": [{"field": "messages", "value": {"errors": [
        {"code": 130429, "title": "Rate limit hit", "message": "Rate limit hit",
         "error_data": {"details": "too many messages"}}]}}]}]});
    let events = run(body).unwrap();
    assert_eq!(events.len(), 1);
    let status = events[0].status.as_ref().unwrap();
    assert_eq!(status.status, Status::Failed);
    assert_eq!(status.error_code.as_deref(), Some("130429"));
    assert_eq!(events[0].reference.vendor_message_id, None);
    assert_eq!(events[0].channel_value, None);
    let logs = wasmhook_sdk::testing::take_logs();
    assert!(
        logs.iter().any(|(level, _)| *level == LogLevel::Warn),
        "{logs:?}"
    );
}

#[test]
fn empty_and_broken_bodies_are_refused() {
    let empty = map(Callback::json(""), Config::default()).unwrap_err();
    assert_eq!(empty.kind, ErrorKind::InvalidInput);
    let broken = map(Callback::json("{\"entry\": ["), Config::default()).unwrap_err();
    assert_eq!(broken.kind, ErrorKind::InvalidInput);
    assert!(run(json!({"entry": []})).unwrap().is_empty());
}
