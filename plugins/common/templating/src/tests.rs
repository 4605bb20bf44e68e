//! Engine behaviour as the renderers and the block rely on it.

use serde_json::json;

use super::*;

fn event() -> Value {
    json!({
        "event_type": "status",
        "channel": "sms",
        "channel_value": "+919876543210",
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1_672_310_923_000_i64,
                   "error_code": null, "description": null, "hard_bounce": null},
        "inbound_message": null,
        "reference": {"vendor_message_id": "msg-1", "idempotency_key": "tx-9"},
        "vendor_name": "gupshup",
        "err-code": "0"
    })
}

fn lenient(template: &str) -> Result<String, PluginError> {
    render(template, &event(), &Options::default())
}

#[test]
fn jinja_and_dollar_variables() {
    assert_eq!(
        lenient("{{ status.status }}/${reference.vendor_message_id}").unwrap(),
        "delivered/msg-1"
    );
    assert_eq!(lenient("${err-code}").unwrap(), "0");
    assert_eq!(lenient("$${literal}").unwrap(), "${literal}");
}

#[test]
fn nulls_undefined_and_booleans_print_for_webhooks() {
    assert_eq!(
        lenient("[{{ status.error_code }}][{{ nope }}][{{ inbound_message.text.body }}]").unwrap(),
        "[][][]"
    );
    assert_eq!(
        lenient("{{ true }} {{ 1.5 }} {{ reference }}").unwrap(),
        "true 1.5 {\"vendor_message_id\":\"msg-1\",\"idempotency_key\":\"tx-9\"}"
    );
}

#[test]
fn strict_names_the_missing_variable() {
    let strict = Options {
        strict: true,
        escape: Escape::None,
    };
    let error = render(
        "ok\n{{ contact.emial }}",
        &json!({"contact": {"email": "a@b"}}),
        &strict,
    )
    .unwrap_err();
    assert_eq!(error.kind, wasmhook_sdk::ErrorKind::InvalidConfig);
    assert_eq!(
        error.message,
        "template line 2: `contact.emial` is undefined"
    );
    let error = render("{{ nothing.here }}", &json!({}), &strict).unwrap_err();
    assert_eq!(
        error.message,
        "template line 1: `nothing.here` is undefined"
    );
    let error = render("${email}", &json!({}), &strict).unwrap_err();
    assert_eq!(error.message, "template line 1: `email` is undefined");
    // Nulls are defined values.
    assert_eq!(
        render("[{{ status.error_code }}]", &event(), &strict).unwrap(),
        "[]"
    );
}

#[test]
fn errors_say_line_and_problem() {
    assert_eq!(
        lenient("a\nb\n{{ x | foo }}").unwrap_err().message,
        "template line 3: unknown filter `foo`"
    );
    let error = lenient("{% if %}").unwrap_err();
    assert!(
        error.message.starts_with("template line 1: syntax error"),
        "{}",
        error.message
    );
    assert_eq!(error.kind, wasmhook_sdk::ErrorKind::InvalidConfig);
}

#[test]
fn webhook_filters() {
    assert_eq!(
        lenient("{{ status.timestamp | datetime('%Y-%m-%d %H:%M:%S') }}").unwrap(),
        "2022-12-29 10:48:43"
    );
    assert_eq!(
        lenient("{{ status.timestamp | datetime('%d/%m %H:%M', '+05:30') }}").unwrap(),
        "29/12 16:18"
    );
    assert_eq!(
        lenient("{{ status.timestamp | datetime }}").unwrap(),
        "2022-12-29T10:48:43.000Z"
    );
    assert_eq!(
        lenient("{{ '2022-12-29T10:48:43Z' | datetime('%s') }}").unwrap(),
        "1672310923"
    );
    assert_eq!(
        lenient("[{{ status.description | datetime }}]").unwrap(),
        "[]"
    );
    assert!(
        lenient("{{ 'soon' | datetime }}")
            .unwrap_err()
            .message
            .contains("`soon` is not a timestamp")
    );
    assert!(
        lenient("{{ status.timestamp | datetime('%Q') }}")
            .unwrap_err()
            .message
            .contains("not a valid strftime")
    );
    assert_eq!(
        lenient("{{ status.error_code | default('0') }}|{{ x | d('y') }}").unwrap(),
        "0|y"
    );
    assert_eq!(
        lenient("{{ 'a b&c/é' | urlencode }}").unwrap(),
        "a%20b%26c%2F%C3%A9"
    );
    assert_eq!(
        lenient("{{ '<a&b>' | xml_escape }}").unwrap(),
        "&lt;a&amp;b&gt;"
    );
    assert_eq!(
        lenient("{{ reference | json }}").unwrap(),
        lenient("{{ reference | tojson }}").unwrap()
    );
    assert_eq!(
        lenient("{{ channel | upper }} {{ 'X' | lower }}").unwrap(),
        "SMS x"
    );
}

#[test]
fn escaping_per_format() {
    let data = json!({"v": "<a href=\"x\">&'</a> é\n", "n": 5, "o": {"k": [1]}});
    let with = |escape| {
        render(
            "{{ v }}|{{ n }}|{{ o }}|{{ v | safe }}",
            &data,
            &Options::escaped(escape),
        )
        .unwrap()
    };
    assert_eq!(
        with(Escape::Xml),
        "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt; é\n|5|{&quot;k&quot;:[1]}|<a href=\"x\">&'</a> é\n"
    );
    assert_eq!(
        with(Escape::Json),
        "<a href=\\\"x\\\">&'</a> é\\n|5|{\\\"k\\\":[1]}|<a href=\"x\">&'</a> é\n"
    );
    assert_eq!(
        render("{{ v }}", &data, &Options::escaped(Escape::Form)).unwrap(),
        "%3Ca+href%3D%22x%22%3E%26%27%3C%2Fa%3E+%C3%A9%0A"
    );
    assert_eq!(
        render("{{ v }}", &data, &Options::escaped(Escape::Url)).unwrap(),
        "%3Ca%20href%3D%22x%22%3E%26%27%3C%2Fa%3E%20%C3%A9%0A"
    );
    // Filters that escape themselves are not escaped twice.
    assert_eq!(
        render(
            "{{ 'a b' | urlencode }}",
            &data,
            &Options::escaped(Escape::Url)
        )
        .unwrap(),
        "a%20b"
    );
}

#[test]
fn eval_keeps_json_types_of_single_expressions() {
    let data = event();
    let options = Options::default();
    assert_eq!(
        eval("{{ status.timestamp }}", &data, &options).unwrap(),
        json!(1_672_310_923_000_i64)
    );
    assert_eq!(
        eval("${status.error_code}", &data, &options).unwrap(),
        Value::Null
    );
    assert_eq!(eval("{{ missing }}", &data, &options).unwrap(), Value::Null);
    assert_eq!(
        eval(" {{ reference }} ", &data, &options).unwrap(),
        data["reference"]
    );
    assert_eq!(
        eval("{{ channel_value }}", &data, &options).unwrap(),
        json!("+919876543210")
    );
    assert_eq!(
        eval("id-{{ reference.vendor_message_id }}", &data, &options).unwrap(),
        json!("id-msg-1")
    );
    assert_eq!(
        eval("{{ a }}{{ b }}", &json!({"a": 1, "b": 2}), &options).unwrap(),
        json!("12")
    );
    let strict = Options {
        strict: true,
        escape: Escape::None,
    };
    assert_eq!(
        eval("{{ missing }}", &data, &strict).unwrap_err().message,
        "template line 1: `missing` is undefined"
    );
}

#[test]
fn non_object_data_is_reachable_as_data() {
    assert_eq!(
        render("{{ data[1] }}", &json!(["a", "b"]), &Options::default()).unwrap(),
        "b"
    );
}

#[test]
fn fields_keep_order_and_name_errors() {
    let config: RenderConfig = wasmhook_sdk::Config(json!({
        "fields": {"z": "{{ channel }}", "a": 7, "m": "${reference.idempotency_key}"}
    }))
    .parse()
    .unwrap();
    let fields = config.fields.unwrap();
    let rendered = render_fields(&fields, &event(), false).unwrap();
    assert_eq!(
        rendered,
        vec![
            ("z".into(), json!("sms")),
            ("a".into(), json!(7)),
            ("m".into(), json!("tx-9"))
        ]
    );
    let listed: RenderConfig = wasmhook_sdk::Config(
        json!({"fields": [{"name": "b", "value": "x"}, {"name": "a", "value": "y"}]}),
    )
    .parse()
    .unwrap();
    assert_eq!(listed.fields.unwrap().0[0].0, "b");
    let bad = Fields(vec![(
        "txid".into(),
        FieldValue::Template("{{ x | nope }}".into()),
    )]);
    assert_eq!(
        render_fields(&bad, &event(), false).unwrap_err().message,
        "config.fields.txid: template line 1: unknown filter `nope`"
    );
    let typo = wasmhook_sdk::Config(json!({"feilds": {}}))
        .parse::<RenderConfig>()
        .unwrap_err();
    assert!(
        typo.message.contains("unknown field `feilds`"),
        "{}",
        typo.message
    );
}
