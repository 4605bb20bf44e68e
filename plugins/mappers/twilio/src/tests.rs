use super::*;

fn run(form: &str) -> Result<Event, PluginError> {
    let mut events = map(Callback::form(form), Config::default())?.events;
    assert_eq!(events.len(), 1);
    Ok(events.remove(0))
}

fn status(event: &Event) -> &StatusInfo {
    event.status.as_ref().expect("a status event")
}

#[test]
fn every_fixture_maps_as_expected() {
    wasmhook_sdk::fixtures::check_vendor(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/twilio"),
        |case| map(case.callback.clone(), Config(case.config.clone())),
    );
}

#[test]
fn status_table() {
    for (name, want) in [
        ("accepted", Status::Queued),
        ("scheduled", Status::Queued),
        ("queued", Status::Queued),
        ("sending", Status::Queued),
        ("sent", Status::Sent),
        ("delivered", Status::Delivered),
        ("read", Status::Read),
        ("undelivered", Status::Failed),
        ("failed", Status::Failed),
        ("canceled", Status::Failed),
    ] {
        assert_eq!(status_of(name).unwrap(), want, "{name}");
    }
    assert_eq!(
        status_of("partially_delivered").unwrap_err().kind,
        ErrorKind::Unsupported
    );
    let unknown = run("MessageSid=SM1&MessageStatus=exploded&To=%2B1").unwrap_err();
    assert!(unknown.message.contains("exploded"), "{unknown}");
}

#[test]
fn undelivered_carries_code_and_message_and_no_timestamp() {
    let event = run("MessageSid=SM1&MessageStatus=undelivered&To=%2B15551234567&ErrorCode=30003&ErrorMessage=Unreachable+destination+handset&RawDlrDoneDate=2302141530").unwrap();
    let info = status(&event);
    assert_eq!(info.status, Status::Failed);
    assert_eq!(info.error_code.as_deref(), Some("30003"));
    assert_eq!(
        info.description.as_deref(),
        Some("Unreachable destination handset")
    );
    assert_eq!(info.timestamp, None);
    assert_eq!(info.hard_bounce, None);
    assert_eq!(event.vendor_response["RawDlrDoneDate"], "2302141530");
}

#[test]
fn channel_from_prefix_param_or_address() {
    let whatsapp = run("MessageSid=SM1&MessageStatus=read&To=whatsapp%3A%2B316").unwrap();
    assert_eq!(
        (whatsapp.channel, whatsapp.channel_value.as_deref()),
        (Channel::Whatsapp, Some("+316"))
    );
    let rcs =
        run("MessageSid=SM1&MessageStatus=delivered&To=rcs%3Abrand&ChannelPrefix=rcs").unwrap();
    assert_eq!(
        (rcs.channel, rcs.channel_value.as_deref()),
        (Channel::Rcs, Some("brand"))
    );
    let messenger = run("MessageSid=SM1&MessageStatus=sent&To=messenger%3A123").unwrap();
    assert_eq!(
        (messenger.channel, messenger.channel_value.as_deref()),
        (Channel::Other, Some("123"))
    );
    let sms = run("MessageSid=SM1&MessageStatus=sent&To=%2B1555").unwrap();
    assert_eq!(sms.channel, Channel::Sms);
}

#[test]
fn inbound_media_button_location_and_reply_context() {
    let media = run("MessageSid=MM1&From=%2B1&To=%2B2&Body=&NumMedia=2&MediaUrl0=https%3A%2F%2Fa&MediaContentType0=image%2Fpng&MediaUrl1=https%3A%2F%2Fb&MediaContentType1=application%2Fpdf").unwrap();
    let message = media.inbound_message.as_ref().unwrap();
    assert_eq!(message.media.len(), 2);
    assert_eq!(
        message.media[1].mime_type.as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        (message.message_type.as_str(), message.text.as_deref()),
        ("image", None)
    );

    let button = run("MessageSid=SM2&SmsStatus=received&From=whatsapp%3A%2B31&To=whatsapp%3A%2B14&Body=Yes&ButtonText=Yes&ButtonPayload=confirm-42&OriginalRepliedMessageSid=SM0&OriginalRepliedMessageSender=whatsapp%3A%2B14").unwrap();
    let message = button.inbound_message.as_ref().unwrap();
    assert_eq!(button.channel, Channel::Whatsapp);
    assert_eq!(message.message_type, "button");
    assert_eq!(
        (message.text.as_deref(), message.payload.as_deref()),
        (Some("Yes"), Some("confirm-42"))
    );
    let context = message.context.as_ref().unwrap();
    assert_eq!(
        (context.from.as_deref(), context.id.as_deref()),
        (Some("+14"), Some("SM0"))
    );

    let location =
        run("MessageSid=SM3&From=whatsapp%3A%2B31&Body=&Latitude=52.37&Longitude=4.89&Label=Dam")
            .unwrap();
    let message = location.inbound_message.as_ref().unwrap();
    assert_eq!(
        (message.message_type.as_str(), message.text.as_deref()),
        ("location", Some("52.37,4.89 (Dam)"))
    );
}

#[test]
fn absurd_num_media_is_bounded() {
    let event = run("MessageSid=MM1&From=%2B1&Body=x&NumMedia=99999999999").unwrap();
    assert!(event.inbound_message.unwrap().media.is_empty());
}

#[test]
fn get_webhooks_read_the_query() {
    let mapped = map(
        Callback::get("MessageSid=SM1&MessageStatus=delivered&To=%2B1"),
        Config::default(),
    )
    .unwrap();
    assert_eq!(status(&mapped.events[0]).status, Status::Delivered);
}

#[test]
fn malformed_callbacks_are_refused() {
    for callback in [
        Callback::form(""),
        Callback::json(r#"{"MessageStatus": "sent"}"#),
        Callback::form("AccountSid=AC1"),
        Callback::form("MessageSid=SM1&SmsStatus=received&Body=hi"),
    ] {
        let error = map(callback.clone(), Config::default()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{callback:?}: {error}");
    }
}
