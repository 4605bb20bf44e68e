//! How block runs fail: every kind of failure is a 200 with its own error
//! `code` a workflow engine can branch on; refused targets (address rules,
//! plain http, a plugin's allowed hosts); and bad requests answered 4xx
//! with a `code` and a `detail` naming the field.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::guest_bytes;
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::TestServer;

use super::{block_server, create_block, invoke, invoke_ok};

/// Uploads the `hostile-block` test guest (its `config.attack` panics or
/// loops on purpose).
async fn upload_hostile_block(server: &TestServer) {
    let response = server
        .admin(Method::PUT, "/v1/plugins/hostile-block")
        .body(guest_bytes("hostile-block"))
        .send()
        .await
        .expect("upload");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// The error of a failed invocation; panics if it succeeded.
async fn failure(server: &TestServer, name: &str) -> Value {
    let result = invoke(server, name, json!({"event": {"email": "ann@example.com"}})).await;
    assert_eq!(result["ok"], false, "{name} did not fail: {result}");
    assert!(result.get("data").is_none(), "{result}");
    result["error"].clone()
}

/// PUT JSON with the admin token; status and JSON body.
pub(crate) async fn put(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    wasmhook_tests::server::json_of(
        server
            .admin(Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("PUT"),
    )
    .await
}

/// A port on 127.0.0.1 where nothing listens.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_failure_has_its_own_code() {
    let server = TestServer::start_with(|config| {
        config.allow_plain_http_blocks = true;
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
        config.block_timeout_ms = 2_000;
        config.block_max_response_bytes = 4096;
    })
    .await;
    let resource = TestResource::start().await;
    resource
        .route(
            "/slow",
            Answer::json(json!({"late": true})).after(Duration::from_secs(3)),
        )
        .route(
            "/fail",
            Answer::text("down for maintenance").with_status(503),
        )
        .route("/big", Answer::text(&"x".repeat(10_000)))
        .route("/not-json", Answer::text("this is not json"))
        .route("/ok", Answer::json(json!({"fine": true})));
    let port = closed_port().await;
    upload_hostile_block(&server).await;
    let blocks = [
        (
            "slow",
            json!({"url": resource.url("/slow?email=${email}"), "timeout_ms": 300}),
        ),
        ("fail", json!({"url": resource.url("/fail?email=${email}")})),
        (
            "metadata",
            // The host comes out of a template, so only the request (on
            // the address) can refuse it; a literal one is refused when the
            // block is saved (below).
            json!({"url": "http://{{ \"169.254.169.254\" }}/latest/meta-data/?email=${email}"}),
        ),
        (
            "closed",
            json!({"url": format!("http://127.0.0.1:{port}/x?email=${{email}}")}),
        ),
        ("big", json!({"url": resource.url("/big")})),
        (
            "not_json",
            json!({"url": resource.url("/not-json"), "response_format": "json"}),
        ),
        ("fine", json!({"url": resource.url("/ok")})),
    ];
    for (name, config) in blocks {
        create_block(&server, json!({"name": name, "config": config})).await;
    }
    for (name, attack) in [("trap", "panic"), ("spin", "loop"), ("sleepy", "sleep")] {
        create_block(
            &server,
            json!({"name": name, "plugin": "hostile-block", "config": {"attack": attack}}),
        )
        .await;
    }

    let expected = [
        ("slow", "upstream_timeout"),
        ("fail", "upstream_status"),
        ("metadata", "target_refused"),
        ("closed", "connection_failed"),
        ("big", "response_too_large"),
        ("not_json", "plugin_error"),
        ("trap", "plugin_trap"),
        ("spin", "plugin_timeout"),
    ];
    let mut codes = BTreeSet::new();
    for (name, code) in expected {
        let error = failure(&server, name).await;
        assert_eq!(error["code"], code, "{name}: {error}");
        let detail = error["detail"].as_str().expect("detail");
        assert!(!detail.is_empty(), "{name}: {error}");
        assert!(
            !detail.contains("ann@example.com") && !detail.contains("email="),
            "{name} leaks the query: {detail}"
        );
        codes.insert(code);
    }
    assert_eq!(codes.len(), expected.len(), "codes are not distinct");

    let error = failure(&server, "fail").await;
    assert_eq!(error["status"], 503);
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("down for maintenance"),
        "{error}"
    );
    let result = invoke(&server, "fail", json!({})).await;
    assert_eq!(result["response"]["status"], 503, "{result}");
    let result = invoke(&server, "slow", json!({})).await;
    assert_eq!(result["response"], Value::Null, "{result}");
    assert_eq!(
        result["requests"][0]["error"]["kind"], "timeout",
        "{result}"
    );
    // A block sleeping in a WASI call for a minute is stopped at the run's
    // 2 s deadline, and the error says where it was stuck.
    let started = std::time::Instant::now();
    let error = failure(&server, "sleepy").await;
    let took = started.elapsed();
    assert_eq!(error["code"], "plugin_timeout", "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("wasi:io/poll"),
        "{error}"
    );
    assert!(
        took < Duration::from_millis(2_000 + 100),
        "a sleeping block held its invoke {took:?} against a 2 s deadline"
    );

    let error = failure(&server, "trap").await;
    let detail = error["detail"].as_str().unwrap();
    assert!(
        detail.contains("hostile-block@1 trapped") && detail.contains("panics on purpose"),
        "{error}"
    );

    // Failures leave nothing broken behind: the next runs work.
    assert_eq!(invoke_ok(&server, "fine", json!({})).await["fine"], true);
    let (status, replaced) = put(
        &server,
        "/v1/blocks/trap",
        &json!({"plugin": "hostile-block", "config": {"attack": "none"}}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        invoke_ok(&server, "trap", json!({})).await,
        json!({"ok": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_private_targets_are_refused_unless_the_operator_allows_them() {
    // Seed 001: an http URL is not saved. No outbound allowlist either.
    let server = TestServer::start().await;
    let resource = TestResource::start().await;
    resource.route("/ok", Answer::json(json!({"fine": true})));
    let (status, refused) = server
        .post(
            "/v1/blocks",
            &json!({"name": "plain", "config": {"url": resource.url("/ok")}}),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "invalid_field");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .starts_with("config.url:"),
        "{refused}"
    );

    // A URL that only becomes plain http when rendered is refused when sent.
    create_block(
        &server,
        json!({"name": "templated", "config": {"url": "{{ data.base | safe }}/ok"}}),
    )
    .await;
    let result = invoke(
        &server,
        "templated",
        json!({"data": {"base": format!("http://{}", resource.addr)}}),
    )
    .await;
    assert_eq!(result["error"]["code"], "target_refused", "{result}");
    assert!(
        result["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("plain http"),
        "{result}"
    );

    // https to a loopback address written out: the delivery engine's
    // address rules refuse it when the block is saved, naming the rule.
    let (status, refused) = server
        .post(
            "/v1/blocks",
            &json!({"name": "loopback", "config": {"url": format!("https://127.0.0.1:{}/ok", resource.addr.port())}}),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("target_refused")),
        "{refused}"
    );
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("config.url: 127.0.0.1 is loopback"),
        "{detail}"
    );
    assert!(resource.hits().is_empty(), "a refused request went out");

    // The operator allows both: the same kind of block works.
    let allowing = block_server().await;
    create_block(
        &allowing,
        json!({"name": "plain", "config": {"url": resource.url("/ok")}}),
    )
    .await;
    assert_eq!(invoke_ok(&allowing, "plain", json!({})).await["fine"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reaches_only_its_allowed_hosts() {
    let server = block_server().await;
    let resource = TestResource::start().await;
    resource.route("/ok", Answer::json(json!({"fine": true})));
    let (status, plugin) = server.get("/v1/plugins/http-block").await;
    assert_eq!(status, 200, "{plugin}");
    assert_eq!(plugin["allowed_hosts"], json!(["*"]));
    create_block(
        &server,
        json!({"name": "api", "config": {"url": resource.url("/ok")}}),
    )
    .await;

    let (status, plugin) = put(
        &server,
        "/v1/plugins/http-block/settings",
        &json!({"allowed_hosts": ["api.example.com:443", "*.Example.org"]}),
    )
    .await;
    assert_eq!(status, 200, "{plugin}");
    assert_eq!(
        plugin["allowed_hosts"],
        json!(["api.example.com:443", "*.example.org"])
    );
    let (_, shown) = server.get("/v1/plugins/http-block").await;
    assert_eq!(shown["allowed_hosts"], plugin["allowed_hosts"]);
    let result = invoke(&server, "api", json!({})).await;
    assert_eq!(result["error"]["code"], "target_refused", "{result}");
    assert!(
        result["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("allowed hosts"),
        "{result}"
    );
    assert!(resource.hits().is_empty());

    let (status, _) = put(
        &server,
        "/v1/plugins/http-block/settings",
        &json!({"allowed_hosts": [format!("127.0.0.1:{}", resource.addr.port())]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(invoke_ok(&server, "api", json!({})).await["fine"], true);

    for (path, body, status, field) in [
        (
            "/v1/plugins/http-block/settings",
            json!({"allowed_hosts": ["a/b"]}),
            422,
            "allowed_hosts[0]",
        ),
        (
            "/v1/plugins/http-block/settings",
            json!({"allowed_hosts": ["ok.example", "*."]}),
            422,
            "allowed_hosts[1]",
        ),
        (
            "/v1/plugins/http-block/settings",
            json!({"hosts": []}),
            422,
            "hosts",
        ),
        (
            "/v1/plugins/gupshup/settings",
            json!({"allowed_hosts": ["*"]}),
            422,
            "allowed_hosts",
        ),
        (
            "/v1/plugins/nope/settings",
            json!({"allowed_hosts": []}),
            404,
            "nope",
        ),
    ] {
        let (code, error) = put(&server, path, &body).await;
        assert_eq!(code, status, "{path} {body}: {error}");
        assert!(
            error["detail"].as_str().unwrap().contains(field),
            "{body}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_answer_4xx_naming_the_field() {
    let server = block_server().await;
    let (status, _) = server
        .post(
            "/v1/connectors",
            &json!({"name": "crm", "auth": {"kind": "bearer", "token": "t0ken"}}),
        )
        .await;
    assert_eq!(status, 201);
    create_block(
        &server,
        json!({"name": "good", "config": {"url": "https://crm.example/x", "connector": "crm"}}),
    )
    .await;
    let url = json!("https://crm.example/x");
    let creates = [
        (
            json!({"name": "bad-name", "config": {"url": url}}),
            422,
            "name",
        ),
        (json!({"name": "1st", "config": {"url": url}}), 422, "name"),
        (json!({"config": {"url": url}}), 422, "name"),
        (
            json!({"name": "x", "plugin": "nope", "config": {"url": url}}),
            422,
            "plugin",
        ),
        (
            json!({"name": "x", "plugin": "gupshup", "config": {"url": url}}),
            422,
            "plugin",
        ),
        (
            json!({"name": "x", "plugin": "Not A Name", "config": {"url": url}}),
            422,
            "plugin",
        ),
        (
            json!({"name": "x", "config": {"url": url, "connector": "missing"}}),
            422,
            "config.connector",
        ),
        (
            json!({"name": "x", "config": {"url": url, "connector": 7}}),
            422,
            "config.connector",
        ),
        (json!({"name": "x", "config": []}), 422, "config"),
        (json!({"name": "x", "config": {}}), 422, "config.url"),
        (
            json!({"name": "x", "config": {"url": 5}}),
            422,
            "config.url",
        ),
        (
            json!({"name": "x", "description": "d".repeat(2000), "config": {"url": url}}),
            422,
            "description",
        ),
        (
            json!({"name": "x", "config": {"url": url}, "extra": 1}),
            422,
            "extra",
        ),
        (json!({"name": "good", "config": {"url": url}}), 409, "good"),
    ];
    for (body, status, field) in creates {
        let (code, error) = server.post("/v1/blocks", &body).await;
        assert_eq!(code, status, "{body}: {error}");
        assert!(error["code"].is_string(), "{error}");
        assert!(
            error["detail"].as_str().unwrap().contains(field),
            "{body}: {error}"
        );
    }

    let runs = [
        (
            "/v1/blocks/good/invoke",
            json!({"event": [1]}),
            422,
            "event",
        ),
        (
            "/v1/blocks/good/invoke",
            json!({"contact": "x"}),
            422,
            "contact",
        ),
        ("/v1/blocks/good/invoke", json!({"data": 1}), 422, "data"),
        ("/v1/blocks/good/invoke", json!({"evnt": {}}), 422, "evnt"),
        ("/v1/blocks/missing/invoke", json!({}), 404, "missing"),
        (
            "/v1/blocks/good/test",
            json!({"event": {}, "event_id": "evt_x"}),
            422,
            "event_id",
        ),
        (
            "/v1/blocks/good/test",
            json!({"event_id": "evt_01HZZZZZZZZZZZZZZZZZZZZZZZ"}),
            422,
            "event_id",
        ),
        (
            "/v1/blocks/good/test",
            json!({"event_id": "nonsense"}),
            422,
            "event_id",
        ),
        ("/v1/workflows/run", json!({"blocks": []}), 422, "blocks"),
        (
            "/v1/workflows/run",
            json!({"blocks": ["good", "missing"]}),
            422,
            "blocks[1]",
        ),
        (
            "/v1/workflows/run",
            json!({"blocks": ["good", "bad-name"]}),
            422,
            "blocks[1]",
        ),
        ("/v1/workflows/run", json!({"event": {}}), 422, "blocks"),
    ];
    for (path, body, status, field) in runs {
        let (code, error) = server.post(path, &body).await;
        assert_eq!(code, status, "{path} {body}: {error}");
        assert!(
            error["detail"].as_str().unwrap().contains(field),
            "{path} {body}: {error}"
        );
    }

    let (code, error) = put(
        &server,
        "/v1/blocks/good",
        &json!({"name": "other", "config": {"url": url}}),
    )
    .await;
    assert_eq!(code, 422, "{error}");
    assert!(
        error["detail"].as_str().unwrap().starts_with("name:"),
        "{error}"
    );
    let (code, error) = put(
        &server,
        "/v1/blocks/good",
        &json!({"config": {"url": "http://crm.example/x"}}),
    )
    .await;
    assert_eq!(code, 200, "plain http is allowed on this server: {error}");
    let (code, _) = put(&server, "/v1/blocks/nope", &json!({"config": {"url": url}})).await;
    assert_eq!(code, 404);
    let response = server
        .admin(Method::POST, "/v1/blocks/good/invoke")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 415);
}
