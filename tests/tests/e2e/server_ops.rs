//! The ops side of the server: `/openapi.json` covers every route and
//! marks `/v1` as admin-only, `/healthz` and `/readyz` answer, and
//! `/metrics` counts ingest outcomes and plugin call latency, and a log
//! line written while a callback is handled carries the request's span with
//! the source and its mapper plugin.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use wasmhook_tests::logged::LoggedServer;
use wasmhook_tests::server::{TestServer, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_and_ops_routes_answer() {
    let server = TestServer::start().await;
    let (status, doc) = json_of(
        server
            .client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let expected = [
        ("get", "/v1/plugins"),
        ("put", "/v1/plugins/{name}"),
        ("get", "/v1/plugins/{name}"),
        ("delete", "/v1/plugins/{name}"),
        ("post", "/v1/plugins/{name}/activate"),
        ("post", "/v1/plugins/{name}/invoke"),
        ("get", "/v1/sources"),
        ("post", "/v1/sources"),
        ("get", "/v1/sources/{name}"),
        ("patch", "/v1/sources/{name}"),
        ("delete", "/v1/sources/{name}"),
        ("get", "/v1/sources/{name}/rejected"),
        ("post", "/v1/sources/{name}/rejected/{id}/retry"),
        ("post", "/ingest/{source}"),
        ("get", "/ingest/{source}"),
        ("post", "/v1/events"),
        ("get", "/v1/events"),
        ("get", "/v1/events/{id}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} missing from /openapi.json"
        );
    }
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            if path.starts_with("/v1/") {
                assert!(
                    operation.get("security").is_some(),
                    "{method} {path} lacks the admin security requirement"
                );
            }
        }
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "CanonicalEvent",
        "PublishEvent",
        "ErrorBody",
        "SourceView",
        "PluginRecord",
        "RejectedCallback",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }

    let (status, health) = json_of(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, ready) = json_of(
        server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (200, Some("ok")),
        "{ready}"
    );
    // Metrics after one ingest and one plugin call.
    let token = server.create_source("gs", "gupshup", json!({})).await;
    let body = std::fs::read(
        crate::harness::fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"),
    )
    .unwrap();
    let response = server
        .client
        .post(server.url("/ingest/gs"))
        .header("x-wasmhook-token", token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "wasmhook_ingest_total{tenant=\"default\",source=\"gs\",outcome=\"accepted\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("wasmhook_plugin_call_seconds_bucket{plugin=\"gupshup\""),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_log_line_names_the_source_and_plugin_in_its_request_span() {
    let server = LoggedServer::launch(env!("CARGO_BIN_EXE_wasmhook-e2e")).await;
    let (status, _, source) = server
        .call(
            Method::POST,
            "/v1/sources",
            Some(json!({"name": "spanned", "vendor": "gupshup", "mapper": "gupshup"})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let token = source["ingest_token"].as_str().expect("token");
    // Not a Gupshup callback: the mapper refuses it and the server logs
    // the rejection inside the request's span.
    let response = reqwest::Client::new()
        .post(server.url("/ingest/spanned"))
        .header("x-wasmhook-token", token)
        .json(&json!({"not": "gupshup"}))
        .send()
        .await
        .expect("ingest");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert!(status == 400 || status == 422, "{status} {text}");
    let mut rejection = None;
    for _ in 0..50 {
        rejection = server
            .log()
            .into_iter()
            .find(|line| line.contains("callback rejected by the mapper"));
        if rejection.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = rejection.expect("the rejection is logged");
    for field in [
        "request{",
        "method=POST",
        "path=/ingest/spanned",
        "source=spanned",
        "plugin=gupshup",
    ] {
        assert!(line.contains(field), "`{field}` missing from: {line}");
    }
}

/// `WASMHOOK_LOG=debug` is wasmhook's own debug log: the libraries below it
/// (wasmtime, cranelift, hyper, sled) stay at `warn`, and a log that is not
/// a terminal has no colour codes. (The audit saw 130–160 MB per short run,
/// over 99 % of it wasmtime and cranelift.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_are_wasmhooks_own_and_plain_text() {
    let server = LoggedServer::launch(env!("CARGO_BIN_EXE_wasmhook-e2e")).await;
    let (status, _, source) = server
        .call(
            Method::POST,
            "/v1/sources",
            Some(json!({"name": "quiet", "mapper": "gupshup"})),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let token = source["ingest_token"].as_str().expect("token");
    let callback = std::fs::read(
        wasmhook_tests::fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"),
    )
    .expect("fixture");
    for _ in 0..20 {
        let response = reqwest::Client::new()
            .post(server.url("/ingest/quiet"))
            .header("x-wasmhook-token", token)
            .header("content-type", "application/json")
            .body(callback.clone())
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), 202);
    }
    // The server logs at debug level: its own request lines are there.
    let mut log = server.raw_log();
    for _ in 0..50 {
        if log.iter().any(|line| line.contains("/ingest/quiet")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = server.raw_log();
    }
    assert!(
        log.iter().any(|line| line.contains("DEBUG")),
        "no debug line at all"
    );
    let bytes: usize = log.iter().map(|line| line.len() + 1).sum();
    let foreign: Vec<&String> = log
        .iter()
        .filter(|line| {
            [
                "wasmtime",
                "cranelift",
                "hyper",
                "sled::",
                "h2::",
                "reqwest::",
            ]
            .iter()
            .any(|library| {
                line.contains(&format!(" {library}"))
                    && !line.contains(" WARN ")
                    && !line.contains(" ERROR ")
            })
        })
        .collect();
    assert!(
        foreign.is_empty(),
        "library debug lines in the default debug log: {:?}",
        &foreign[..foreign.len().min(5)]
    );
    assert!(
        log.iter().all(|line| !line.contains('\u{1b}')),
        "colour codes in a log that is not a terminal"
    );
    // A short run writes kilobytes, not megabytes.
    assert!(bytes < 512 << 10, "{bytes} bytes of log for 20 callbacks");
}
