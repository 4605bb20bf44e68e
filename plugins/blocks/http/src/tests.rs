//! The block against the SDK's native stand-in for the host's HTTP.

use wasmhook_sdk::testing::{json_response, respond_with, take_sent};

use super::*;

fn input() -> BlockInput {
    BlockInput {
        event: json!({"eventTypeKey": "orderCreated", "email": "ann+vip@example.com", "orderId": "A/17", "phone": null}),
        contact: json!({"email": "other@example.com", "TOWN": "Kyiv", "id": 42, "phone": "+380671234567", "first name": "Ann"}),
        data: json!({"WH4": {"score": 7}}),
    }
}

fn run_with(config: Value) -> Result<Value, PluginError> {
    run(input(), Config(config))
}

fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

fn only_request() -> HttpRequest {
    let mut sent = take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent.remove(0)
}

#[test]
fn get_with_url_variables_encoded_and_params_in_query() {
    respond_with(|_| {
        Ok(json_response(
            &json!([{"id": 42, "email": "ann+vip@example.com"}]),
        ))
    });
    let data = run_with(json!({
        "url": "https://crm.example.com/contacts/${orderId}?email=${email}",
        "params": [
            {"name": "town", "value": "{{ contact.TOWN }}"},
            {"name": "name", "value": "${contact.first name}", "type": "text"},
            {"name": "id", "value": "contact.id", "type": "variable"},
            {"name": "score", "value": "{{ data.WH4.score }}"}
        ]
    }))
    .unwrap();
    assert_eq!(data, json!([{"id": 42, "email": "ann+vip@example.com"}]));
    let sent = only_request();
    assert_eq!(sent.method, "GET");
    // Event field first (seed 001), values percent-encoded: `/` cannot add a path segment.
    assert_eq!(
        sent.url,
        "https://crm.example.com/contacts/A%2F17?email=ann%2Bvip%40example.com&town=Kyiv&name=%24%7Bcontact.first+name%7D&id=42&score=7"
    );
    assert_eq!(sent.body, None);
    assert_eq!(sent.connector, None);
}

#[test]
fn params_in_headers_and_connector_pass_through() {
    respond_with(|_| Ok(json_response(&json!({"ok": true}))));
    run_with(json!({
        "method": "get",
        "url": "https://crm.example.com/lookup",
        "params": [{"name": "X-Email", "value": "${email}"}, {"name": "X-Phone", "value": "${phone}"}],
        "params_in_headers": true,
        "headers": {"X-Request-Id": "{{ event.eventTypeKey }}-1"},
        "connector": "crm-bearer",
        "timeout_ms": 2500
    }))
    .unwrap();
    let sent = only_request();
    assert_eq!(sent.url, "https://crm.example.com/lookup");
    assert_eq!(
        sent.headers,
        vec![
            ("X-Email".to_string(), "ann+vip@example.com".to_string()),
            // The event's `phone` is null, so the contact's is used.
            ("X-Phone".to_string(), "+380671234567".to_string()),
            ("X-Request-Id".to_string(), "orderCreated-1".to_string()),
        ]
    );
    assert_eq!(sent.connector.as_deref(), Some("crm-bearer"));
    assert_eq!(sent.timeout_ms, Some(2500));
}

#[test]
fn post_json_body_is_rendered_escaped_and_validated() {
    respond_with(|_| Ok(json_response(&json!({"promocode": "SPRING-7"}))));
    let data = run_with(json!({
        "method": "POST",
        "url": "https://promo.example.com/codes",
        "body": {"format": "json", "template": "{\"city\": \"{{ TOWN }}\", \"email\": \"{{ email }}\", \"contact\": {{ contact | tojson }}}"}
    }))
    .unwrap();
    assert_eq!(data["promocode"], "SPRING-7");
    let sent = only_request();
    assert_eq!(sent.method, "POST");
    assert!(
        sent.headers
            .contains(&("Content-Type".to_string(), "application/json".to_string()))
    );
    let body: Value = serde_json::from_slice(sent.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["city"], "Kyiv");
    assert_eq!(body["email"], "ann+vip@example.com");
    assert_eq!(body["contact"]["id"], 42);

    respond_with(|_| Ok(json_response(&json!({}))));
    run_with(json!({"method": "PUT", "url": "https://x.example.com/", "body": {"format": "json"}}))
        .unwrap();
    let body: Value = serde_json::from_slice(only_request().body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"event": input().event, "contact": input().contact, "data": input().data})
    );

    let error = run_with(json!({
        "method": "POST", "url": "https://x.example.com/",
        "body": {"format": "json", "template": "{\"a\": {{ email }}}"}
    }))
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
    assert!(
        error
            .message
            .starts_with("config.body: the rendered body is not valid JSON:"),
        "{}",
        error.message
    );
    assert!(
        take_sent().is_empty(),
        "nothing is sent when the body is wrong"
    );
}

#[test]
fn post_xml_and_text_bodies() {
    respond_with(|_| Ok(response(200, "text/plain", "OK")));
    let data = run_with(json!({
        "method": "POST", "url": "https://x.example.com/xml",
        "headers": {"Content-Type": "text/xml; charset=utf-8"},
        "body": {"format": "xml", "template": "<contact><email>{{ email }}</email><name>{{ contact['first name'] }} & co</name></contact>"}
    }));
    // `& co` in the template itself is not XML: refused before sending.
    assert!(data.unwrap_err().message.contains("not well-formed XML"));
    assert!(take_sent().is_empty());

    let data = run_with(json!({
        "method": "POST", "url": "https://x.example.com/xml",
        "headers": {"Content-Type": "text/xml; charset=utf-8"},
        "body": {"format": "xml", "template": "<contact><email>{{ email }}</email><q>{{ '<b>&' }}</q></contact>"}
    }))
    .unwrap();
    assert_eq!(data, json!("OK"));
    let sent = only_request();
    // The operator's Content-Type wins over the format's default.
    assert_eq!(
        sent.headers,
        vec![(
            "Content-Type".to_string(),
            "text/xml; charset=utf-8".to_string()
        )]
    );
    assert_eq!(
        String::from_utf8(sent.body.unwrap()).unwrap(),
        "<contact><email>ann+vip@example.com</email><q>&lt;b&gt;&amp;</q></contact>"
    );

    respond_with(|_| Ok(response(200, "text/plain", "")));
    let data = run_with(json!({
        "method": "DELETE", "url": "https://x.example.com/t",
        "body": {"format": "text", "template": "bye ${email}"}
    }))
    .unwrap();
    assert_eq!(data, Value::Null);
    let sent = only_request();
    assert_eq!(sent.method, "DELETE");
    assert_eq!(
        sent.body.as_deref(),
        Some("bye ann+vip@example.com".as_bytes())
    );
    assert!(sent.headers.contains(&(
        "Content-Type".to_string(),
        "text/plain; charset=utf-8".to_string()
    )));
}

#[test]
fn responses_are_parsed_by_content_type() {
    let cases = [
        (
            response(200, "application/json; charset=utf-8", r#"{"id": 1}"#),
            json!({"id": 1}),
        ),
        (
            response(200, "application/xml", r#"<r><id>1</id><id>2</id></r>"#),
            json!({"r": {"id": ["1", "2"]}}),
        ),
        (response(200, "text/plain", "PROMO-1"), json!("PROMO-1")),
        (response(201, "", r#"[1, 2]"#), json!([1, 2])),
        (response(204, "", ""), Value::Null),
    ];
    for (answer, expected) in cases {
        respond_with(move |_| Ok(answer.clone()));
        assert_eq!(
            run_with(json!({"url": "https://x.example.com/"})).unwrap(),
            expected
        );
    }
    take_sent();
    // An explicit format overrides the content type, and asks for it.
    respond_with(|_| Ok(response(200, "text/plain", r#"{"id": 1}"#)));
    let data =
        run_with(json!({"url": "https://x.example.com/", "response_format": "json"})).unwrap();
    assert_eq!(data, json!({"id": 1}));
    assert_eq!(
        only_request().headers,
        vec![("Accept".to_string(), "application/json".to_string())]
    );
    respond_with(|_| Ok(response(200, "application/json", "not json")));
    let error = run_with(json!({"url": "https://x.example.com/a?email=secret"})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Upstream);
    assert!(
        error
            .message
            .starts_with("response from https://x.example.com/a is not JSON"),
        "{}",
        error.message
    );
}

#[test]
fn error_statuses_are_upstream_errors_with_an_excerpt() {
    respond_with(|_| {
        Ok(response(
            503,
            "text/html",
            "<html>\n  <body>Service   Unavailable</body>\n</html>",
        ))
    });
    let error = run_with(json!({"url": "https://api.example.com/x?email=${email}"})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Upstream);
    assert_eq!(
        error.message,
        "HTTP 503 from https://api.example.com/x: <html> <body>Service Unavailable</body> </html>"
    );
    respond_with(|_| Ok(response(500, "text/plain", &"x".repeat(500))));
    let error = run_with(json!({"url": "https://api.example.com/x"})).unwrap_err();
    assert!(
        error.message.ends_with(&format!("{}…", "x".repeat(200))),
        "{}",
        error.message
    );
}

#[test]
fn transport_errors_name_their_kind() {
    respond_with(|_| {
        Err(HttpError::Refused(
            "host api.example.com is not in the allowlist".into(),
        ))
    });
    let error =
        run_with(json!({"method": "POST", "url": "https://api.example.com/x?t=1"})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Upstream);
    assert_eq!(
        error.message,
        "POST https://api.example.com/x: refused: host api.example.com is not in the allowlist"
    );
    respond_with(|_| Err(HttpError::Timeout));
    let error =
        run_with(json!({"url": "https://api.example.com/x", "timeout_ms": 300})).unwrap_err();
    assert_eq!(
        error.message,
        "GET https://api.example.com/x: timed out after 300 ms"
    );
    respond_with(|_| Err(HttpError::Connection("connection reset".into())));
    let error = run_with(json!({"url": "https://api.example.com/x"})).unwrap_err();
    assert_eq!(
        error.message,
        "GET https://api.example.com/x: connection failed: connection reset"
    );
}

#[test]
fn configuration_errors_name_the_setting() {
    let cases = [
        (json!({}), "config: missing field `url`"),
        (
            json!({"url": "https://x/", "method": "PATCH"}),
            "config.method: method `PATCH` is not one of GET, POST, PUT, DELETE",
        ),
        (
            json!({"url": "https://x/", "mehtod": "GET"}),
            "config.mehtod: unknown field `mehtod`, expected one of `name`, `description`, `method`, `url`, `params`, `params_in_headers`, `headers`, `connector`, `body`, `response_format`, `timeout_ms`, `strict`",
        ),
        (
            json!({"url": "ftp://x/${email}"}),
            "config.url: `ftp://x/ann%2Bvip%40example.com` is not an absolute http(s) URL",
        ),
        (
            json!({"url": "https://x/{{ email | nope }}"}),
            "config.url: template line 1: unknown filter `nope`",
        ),
        (
            json!({"url": "https://x/", "body": {"format": "json"}}),
            "config.body: a GET request has no body; use POST or PUT",
        ),
        (
            json!({"url": "https://x/", "method": "POST", "body": {"format": "xml"}}),
            "config.body.template is required for xml and text bodies",
        ),
        (
            json!({"url": "https://x/", "headers": {"Bad Name": "v"}}),
            "config.headers.Bad Name: `Bad Name` is not a valid header name",
        ),
        (
            json!({"url": "https://x/${nobody}", "strict": true}),
            "config.url: template line 1: `nobody` is undefined",
        ),
    ];
    for (config, message) in cases {
        let error = run_with(config.clone()).unwrap_err();
        assert_eq!(error.message, message, "{config}");
        assert_eq!(error.kind, ErrorKind::InvalidConfig, "{config}");
    }
    assert!(take_sent().is_empty());
    // A value that would inject a header is the data's fault.
    let mut hostile = input();
    hostile.event["email"] = json!("a@b.c\r\nX-Admin: yes");
    let config = json!({"url": "https://x/", "headers": {"X-Email": "${email}"}});
    let error = run(hostile, Config(config)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
}

#[test]
fn url_schemes_are_case_insensitive_like_the_hosts_rule() {
    respond_with(|_| Ok(json_response(&json!({"ok": true}))));
    run_with(json!({"url": "HTTPS://crm.example.com/lookup"})).unwrap();
    assert_eq!(only_request().url, "HTTPS://crm.example.com/lookup");
}
