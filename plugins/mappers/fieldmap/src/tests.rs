//! Fixture vendors mapped by configuration alone, the eSputnik re-map, and
//! the tricky parts: config errors, nested batches, formats, statuses.

use serde_json::json;
use wasmhook_sdk::fixtures::check_vendor;

use super::*;

/// Every `fieldmap-*` fixture folder.
const FIELDMAP_VENDORS: [&str; 7] = [
    "fieldmap-africastalking",
    "fieldmap-bandwidth",
    "fieldmap-infobip",
    "fieldmap-kaleyra",
    "fieldmap-mandrill",
    "fieldmap-messagebird",
    "fieldmap-vonage",
];

fn fixtures(vendor: &str) -> String {
    format!("{}/../../fixtures/{vendor}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_infobip_fixture_maps_as_expected() {
    check_vendor(fixtures("fieldmap-infobip"), |case| {
        map(case.callback.clone(), Config(case.config.clone()))
    });
}

#[test]
fn every_vonage_fixture_maps_as_expected() {
    check_vendor(fixtures("fieldmap-vonage"), |case| {
        map(case.callback.clone(), Config(case.config.clone()))
    });
}

/// The config files shown in the README are the ones the fixtures use.
#[test]
fn published_configs_match_the_fixtures() {
    for vendor in FIELDMAP_VENDORS {
        let dir = fixtures(vendor);
        let published: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap())
                .unwrap();
        let cases = wasmhook_sdk::fixtures::load_cases(&dir);
        assert!(
            cases.iter().any(|c| c.config == published),
            "{vendor}: no case uses config.json"
        );
        Config(published).parse::<FieldmapConfig>().unwrap();
    }
}

/// eSputnik's activity webhooks, mapped without the eSputnik plugin: the
/// same expectations as `fixtures/esputnik/expected.json` hold.
fn esputnik_config() -> Value {
    json!({
        "vendor": "esputnik",
        "channel": {"path": "mediaType", "map": {"*": "other"}},
        "fields": {
            "channel_value": ["email", "sms"],
            "vendor_message_id": "iid",
            "distinct_id": "externalCustomerId",
            "status": "activityStatus",
            "timestamp": "activityDateTime",
            "description": "statusDescription",
            "hard_bounce": "hardBounce",
            "link": "clickEventLink"
        },
        "statuses": {
            "DELIVERED": "delivered", "UNDELIVERED": "failed", "READ": "read", "CLICKED": "clicked",
            "UNSUBSCRIBED": "unsubscribed", "SPAM": "spam", "SUBSCRIPTION_CHANGED": "subscription_changed"
        }
    })
}

#[test]
fn esputnik_is_remapped_by_config_alone() {
    check_vendor(fixtures("esputnik"), |case| {
        map(case.callback.clone(), Config(esputnik_config()))
    });
}

fn run(config: Value, callback: Callback) -> Result<Vec<Event>, PluginError> {
    map(callback, Config(config)).map(|m| m.events)
}

#[test]
fn config_mistakes_are_named() {
    let cases = [
        (json!({"channel": "sms"}), "config: missing field `vendor`"),
        (json!({"vendor": " "}), "config.vendor: must not be empty"),
        (
            json!({"vendor": "x", "fields": {"stauts": "s"}}),
            "config.fields.stauts: unknown field `stauts`",
        ),
        (
            json!({"vendor": "x", "fields": {"status": "a["}}),
            "config.fields.status: path `a[`: `[` without `]`",
        ),
        (
            json!({"vendor": "x", "fields": {"status": ["a", 1]}}),
            "config.fields.status: expected a path or {\"path\": …}, got 1",
        ),
        (
            json!({"vendor": "x", "fields": {"status": {"pth": "a"}}}),
            "config.fields.status: unknown key `pth`",
        ),
        (
            json!({"vendor": "x", "statuses": {"OK": "deliverd"}}),
            "config.statuses: \"OK\": `deliverd` is not a canonical status",
        ),
        (
            json!({"vendor": "x", "channel": "fax"}),
            "config.channel: `fax` is not a channel (whatsapp, sms, email",
        ),
        (
            json!({"vendor": "x", "event_type": {"path": "t", "map": {"MO": "inbound"}}}),
            "config.event_type: map.MO: `inbound` is not a event type",
        ),
        (
            json!({"vendor": "x", "timestamp_format": "unix-ish"}),
            "config.timestamp_format: `unix-ish` is not auto",
        ),
        (
            json!({"vendor": "x", "timezone": "IST"}),
            "config.timezone: `IST` is not an offset",
        ),
        (
            json!({"vendor": "x", "items": "results[x]"}),
            "config.items: path `results[x]`: `[x]` is not an index",
        ),
        (
            json!({"vendor": "x", "extra": 1}),
            "config.extra: unknown field `extra`",
        ),
    ];
    assert_config_errors(&cases);
}

/// Each config is refused as `invalid_config` with a message starting so.
fn assert_config_errors(cases: &[(Value, &str)]) {
    for (config, start) in cases {
        let error = run(config.clone(), Callback::json("{}")).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidConfig, "{config}");
        assert!(
            error.message.starts_with(*start),
            "{config}: {}",
            error.message
        );
    }
}

#[test]
fn unmapped_status_names_it_and_the_known_ones() {
    let config = json!({"vendor": "x", "fields": {"status": "s"}, "statuses": {"OK": "delivered", "KO": "failed"}});
    let error = run(config.clone(), Callback::json(r#"{"s": "WEIRD"}"#)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert_eq!(
        error.message,
        "vendor status `WEIRD` is not in config.statuses (known: ko, ok) and there is no \"*\" default"
    );
    // Case-insensitive, canonical names need no entry, "*" catches the rest.
    let mut with_default = config;
    with_default["statuses"]["*"] = json!("sent");
    let body = r#"[{"s": "ok"}, {"s": "Read"}, {"s": "WEIRD"}, {}]"#;
    let events = run(with_default, Callback::json(body)).unwrap();
    let statuses: Vec<Status> = events
        .iter()
        .map(|e| e.status.as_ref().unwrap().status)
        .collect();
    assert_eq!(
        statuses,
        [Status::Delivered, Status::Read, Status::Sent, Status::Sent]
    );
    let error = run(json!({"vendor": "x"}), Callback::json("{}")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
    assert!(
        error.message.contains("config.fields.status is not set"),
        "{}",
        error.message
    );
    let error = run(
        json!({"vendor": "x", "fields": {"status": "s"}}),
        Callback::json("[{}, {}]"),
    )
    .unwrap_err();
    assert!(
        error.message.starts_with("item 0: no status"),
        "{}",
        error.message
    );
}

/// A nested batch in the shape of a Sinch batch delivery report
/// (`statuses[].recipients[]`, recipients as plain strings): `$` is the
/// recipient, `$parent` its status entry, `$root` the report.
#[test]
fn nested_batches_reach_parent_and_root() {
    let body = json!({
        "type": "delivery_report_sms", "batch_id": "B1",
        "statuses": [
            {"code": 0, "status": "Delivered", "count": 2, "recipients": ["4412", "4413"], "at": "2024-01-01T10:00:00Z"},
            {"code": 402, "status": "Failed", "count": 1, "recipients": ["4414"], "at": "2024-01-01T10:05:00Z"}
        ]
    });
    let config = json!({
        "vendor": "sinch", "channel": "sms", "items": "statuses[].recipients[]",
        "fields": {"channel_value": "$", "status": "$parent.status", "error_code": {"path": "$parent.code", "ignore": [0]},
                   "vendor_message_id": "$root.batch_id", "timestamp": "$parent.at"},
        "statuses": {"Failed": {"status": "failed", "hard_bounce": true}}
    });
    let events = run(config, Callback::json(body.to_string())).unwrap();
    type Row<'a> = (Option<&'a str>, Status, Option<&'a str>, Option<bool>);
    let summary: Vec<Row<'_>> = events
        .iter()
        .map(|e| {
            let s = e.status.as_ref().unwrap();
            (
                e.channel_value.as_deref(),
                s.status,
                s.error_code.as_deref(),
                s.hard_bounce,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some("4412"), Status::Delivered, None, None),
            (Some("4413"), Status::Delivered, None, None),
            (Some("4414"), Status::Failed, Some("402"), Some(true)),
        ]
    );
    assert_eq!(events[2].reference.vendor_message_id.as_deref(), Some("B1"));
    assert_eq!(
        events[2].status.as_ref().unwrap().timestamp,
        Some(1_704_103_500_000)
    );
    // A string item keeps its enclosing status entry as vendor_response.
    assert_eq!(events[2].vendor_response["code"], 402);
}

#[test]
fn items_missing_empty_and_single() {
    let config =
        json!({"vendor": "x", "items": "results[]", "fields": {"status": {"value": "delivered"}}});
    let error = run(config.clone(), Callback::json(r#"{"other": []}"#)).unwrap_err();
    assert_eq!(
        (error.kind, error.message.as_str()),
        (
            ErrorKind::Unsupported,
            "the payload has nothing at `results[]` (config.items)"
        )
    );
    assert!(
        run(config.clone(), Callback::json(r#"{"results": []}"#))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        run(config, Callback::json(r#"{"results": {"id": 1}}"#))
            .unwrap()
            .len(),
        1
    );
    let error = run(
        json!({"vendor": "x"}),
        Callback::post("text/plain", "hello"),
    )
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
}

#[test]
fn xml_callbacks_and_compact_times_in_a_zone() {
    let xml = r#"<?xml version="1.0"?><DLR><MSGID>m-1</MSGID><MOBILE>919812345678</MOBILE><STATUS>DELIVRD</STATUS><DONE>2501311530</DONE></DLR>"#;
    let config = json!({
        "vendor": "operator", "channel": "sms",
        "fields": {"vendor_message_id": "DLR.MSGID", "channel_value": "DLR.MOBILE", "status": "DLR.STATUS", "timestamp": "DLR.DONE"},
        "statuses": {"DELIVRD": "delivered"},
        "timestamp_format": "compact", "timezone": "+05:30"
    });
    let events = run(config, Callback::post("application/xml", xml)).unwrap();
    let status = events[0].status.as_ref().unwrap();
    assert_eq!(status.status, Status::Delivered);
    // 2025-01-31 15:30 at +05:30 is 10:00 UTC.
    assert_eq!(status.timestamp, Some(1_738_317_600_000));
    assert_eq!(events[0].channel_value.as_deref(), Some("919812345678"));
}

#[test]
fn prefixes_constants_links_and_flags() {
    let config = json!({
        "vendor": "acme",
        "fields": {"channel_value": "To", "status": "Status", "link": "url", "hard_bounce": "bounce",
                   "description": {"value": "set by config"}, "idempotency_key": ["ref", "fallback"]},
        "statuses": {"bounced": "failed", "click": "clicked"}
    });
    let body = r#"[{"To": "whatsapp:+14155238886", "Status": "click", "url": "https://x.test/a", "fallback": "k-1"},
                   {"To": "+1555", "Status": "bounced", "bounce": "hard"}]"#;
    let events = run(config, Callback::json(body)).unwrap();
    assert_eq!(events[0].channel, Channel::Whatsapp);
    assert_eq!(events[0].channel_value.as_deref(), Some("+14155238886"));
    assert_eq!(
        events[0].status.as_ref().unwrap().link.as_deref(),
        Some("https://x.test/a")
    );
    assert_eq!(
        events[0].status.as_ref().unwrap().description.as_deref(),
        Some("set by config")
    );
    assert_eq!(events[0].reference.idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(events[1].channel, Channel::Other);
    assert_eq!(events[1].status.as_ref().unwrap().hard_bounce, Some(true));
}

#[test]
fn unmapped_channel_and_event_type_values() {
    let config = json!({"vendor": "x", "channel": {"path": "ch", "map": {"WA": "whatsapp"}}, "fields": {"status": {"value": "sent"}}});
    let events = run(
        config.clone(),
        Callback::json(r#"[{"ch": "wa"}, {"ch": "SMS"}, {}]"#),
    )
    .unwrap();
    let channels: Vec<Channel> = events.iter().map(|e| e.channel).collect();
    assert_eq!(channels, [Channel::Whatsapp, Channel::Sms, Channel::Other]);
    let error = run(config, Callback::json(r#"{"ch": "pigeon"}"#)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert_eq!(
        error.message,
        "`pigeon` is not a channel and not in config.channel.map (known: wa) and there is no \"*\" default"
    );
}

mod v2;
