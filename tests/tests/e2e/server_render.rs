//! `POST /v1/render` over the real server and the first-party renderer
//! plugins: seed 001's message that inserts a block's promo code
//! (`data.WH5.promocode`) and a contact id found by another block
//! (`data.contacts_get_by_email[0].id`), rendered as JSON, XML and text and
//! checked by parsing each output; template errors and bad requests
//! answered 4xx naming what was wrong.

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_sdk::xml::xml_to_value;
use wasmhook_tests::server::{TestServer, json_of};

/// What two seed 001 blocks returned, as `POST /v1/workflows/run` gives it:
/// `contacts_get_by_email` (a GET answering a list of contacts) and `WH5`
/// (a POST answering a promo code). The `&` proves XML escaping.
fn seed_001_input() -> Value {
    json!({
        "event": {"email": "ann@example.com", "order_id": "o-77"},
        "contact": {"name": "Ann", "TOWN": "Kyiv"},
        "data": {
            "contacts_get_by_email": [{"id": 4217, "email": "ann@example.com"}],
            "WH5": {"promocode": "KYIV-5&FRIENDS"}
        }
    })
}

/// Renders `template` as `format` with the seed 001 input; panics unless 200.
async fn render(server: &TestServer, format: &str, template: &str) -> (String, String) {
    let mut body = seed_001_input();
    body["format"] = json!(format);
    body["template"] = json!(template);
    let (status, rendered) = server.post("/v1/render", &body).await;
    assert_eq!(status, 200, "rendering {format}: {rendered}");
    (
        rendered["content_type"].as_str().unwrap().to_owned(),
        rendered["body"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_message_renders_block_data_as_json_xml_and_text() {
    let server = TestServer::start().await;

    // JSON: the contact id keeps its number type; the seed's `${…}` form
    // works next to `{{ … }}`.
    let (content_type, body) = render(
        &server,
        "json",
        r#"{"to": "${event.email}", "promocode": "{{ data.WH5.promocode }}",
            "contact_id": {{ data.contacts_get_by_email[0].id }}, "town": "{{ contact.TOWN }}"}"#,
    )
    .await;
    assert_eq!(content_type, "application/json");
    let parsed: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        parsed,
        json!({"to": "ann@example.com", "promocode": "KYIV-5&FRIENDS", "contact_id": 4217, "town": "Kyiv"})
    );

    // XML: values are escaped, so the `&` in the promo code parses back.
    let (content_type, body) = render(
        &server,
        "xml",
        "<message><promocode>{{ data.WH5.promocode }}</promocode>\
         <contact>$!{data.contacts_get_by_email[0].id}</contact></message>",
    )
    .await;
    assert_eq!(content_type, "application/xml");
    let parsed = xml_to_value(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        parsed,
        json!({"message": {"promocode": "KYIV-5&FRIENDS", "contact": "4217"}})
    );

    // Text: written as is.
    let (content_type, body) = render(
        &server,
        "text",
        "Hi {{ contact.name }}, your code is {{ data.WH5.promocode }} (contact ${data.contacts_get_by_email[0].id}).",
    )
    .await;
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert_eq!(body, "Hi Ann, your code is KYIV-5&FRIENDS (contact 4217).");

    // A renderer named explicitly; `event`, `contact`, `data` default to {}.
    let (status, rendered) = server
        .post(
            "/v1/render",
            &json!({"template": "[{{ data.WH5.promocode }}]", "format": "text", "plugin": "text-renderer"}),
        )
        .await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(rendered["body"], "[]");

    // The route is described in /openapi.json.
    let (_, doc) = json_of(
        server
            .client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        doc["paths"]["/v1/render"]["post"].is_object(),
        "POST /v1/render missing from /openapi.json"
    );
}

/// Asserts a 4xx `{code, detail}` answer whose detail contains every one of
/// `mentions`.
#[track_caller]
fn assert_refused(
    what: &str,
    (status, body): (u16, Value),
    want_status: u16,
    want_code: &str,
    mentions: &[&str],
) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["code"], want_code, "{what}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    for mention in mentions {
        assert!(
            detail.contains(mention),
            "{what}: detail does not mention `{mention}`: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_errors_and_bad_requests_are_refused_naming_the_problem() {
    let server = TestServer::start().await;
    let with = |format: &str, template: &str, extra: Value| {
        let mut body = seed_001_input();
        body["format"] = json!(format);
        body["template"] = json!(template);
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };

    // Template errors: 422 with the renderer's message (line and what).
    let cases = [
        (
            "unknown filter",
            with("text", "{{ data.WH5.promocode | shout }}", json!({})),
            vec!["text-renderer", "line 1", "shout"],
        ),
        (
            "unclosed tag",
            with(
                "xml",
                "<m>\n{% if data.WH5 %}{{ data.WH5.promocode }}</m>",
                json!({}),
            ),
            vec!["xml-renderer", "template line"],
        ),
        (
            "output that is not JSON",
            with(
                "json",
                r#"{"promocode": {{ data.WH5.promocode }}}"#,
                json!({}),
            ),
            vec!["json-renderer", "not valid JSON"],
        ),
        (
            "undefined variable with strict",
            with(
                "text",
                "{{ data.WH6.promocode }}",
                json!({"config": {"strict": true}}),
            ),
            vec!["WH6"],
        ),
        (
            "renderer asked for another format",
            with("xml", "<m/>", json!({"plugin": "json-renderer"})),
            vec!["json-renderer", "json", "xml"],
        ),
    ];
    for (what, body, mentions) in cases {
        let answer = server.post("/v1/render", &body).await;
        assert_refused(what, answer, 422, "render_failed", &mentions);
    }

    // The plugin: unknown, or not a renderer.
    let answer = server
        .post(
            "/v1/render",
            &with("text", "x", json!({"plugin": "no-such"})),
        )
        .await;
    assert_refused("unknown plugin", answer, 404, "not_found", &["no-such"]);
    let answer = server
        .post(
            "/v1/render",
            &with("text", "x", json!({"plugin": "gupshup"})),
        )
        .await;
    assert_refused(
        "a mapper",
        answer,
        422,
        "not_a_renderer",
        &["gupshup", "mapper"],
    );

    // The body: fields that do not fit, unknown fields, not JSON.
    let cases = [
        ("no template", json!({"format": "text"}), "template"),
        ("unknown format", with("yaml", "x", json!({})), "format"),
        (
            "data not an object",
            with("text", "x", json!({"data": [1]})),
            "data",
        ),
        (
            "contact not an object",
            with("text", "x", json!({"contact": "Ann"})),
            "contact",
        ),
        (
            "unknown field",
            with("text", "x", json!({"templat": "x"})),
            "templat",
        ),
    ];
    for (what, body, field) in cases {
        let answer = server.post("/v1/render", &body).await;
        assert_refused(what, answer, 422, "invalid_field", &[field]);
    }
    let answer = json_of(
        server
            .admin(Method::POST, "/v1/render")
            .header("content-type", "application/json")
            .body("{\"template\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused("broken JSON", answer, 400, "invalid_json", &["JSON"]);
}
