//! Connectors' secrets in block requests: the resource receives Basic,
//! Bearer and API-key credentials, and no API answer and no log line of the
//! server (the real binary, its stderr captured at debug level) ever holds
//! one.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use wasmhook_tests::logged::LoggedServer;
use wasmhook_tests::resource::{Answer, TestResource};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_credentials_reach_the_resource_and_nothing_else() {
    let server = LoggedServer::launch(env!("CARGO_BIN_EXE_wasmhook-e2e")).await;
    let resource = TestResource::start().await;
    resource.route("/secured", Answer::json(json!({"ok": true})));
    // base64("ops-user:pw-BASIC-s3cret"): what travels in the Basic header.
    let basic_encoded = "b3BzLXVzZXI6cHctQkFTSUMtczNjcmV0";
    let secrets = [
        "pw-BASIC-s3cret",
        basic_encoded,
        "tok-BEARER-s3cret",
        "key-APIKEY-s3cret",
    ];
    let connectors = [
        (
            "crm-basic",
            json!({"kind": "basic", "username": "ops-user", "password": "pw-BASIC-s3cret"}),
        ),
        (
            "crm-bearer",
            json!({"kind": "bearer", "token": "tok-BEARER-s3cret"}),
        ),
        (
            "crm-key",
            json!({"kind": "api_key", "header": "X-Api-Key", "value": "key-APIKEY-s3cret"}),
        ),
    ];
    let mut answers: Vec<String> = Vec::new();
    for (name, auth) in &connectors {
        let (status, text, _) = server
            .call(
                Method::POST,
                "/v1/connectors",
                Some(json!({"name": name, "auth": auth})),
            )
            .await;
        assert_eq!(status, 201, "{text}");
        answers.push(text);
    }
    let blocks = [
        ("b_basic", "crm-basic"),
        ("b_bearer", "crm-bearer"),
        ("b_key", "crm-key"),
    ];
    for (block, connector) in blocks {
        let (status, text, _) = server
            .call(
                Method::POST,
                "/v1/blocks",
                Some(json!({"name": block, "config": {
                    "url": resource.url("/secured?email=${email}"), "connector": connector}})),
            )
            .await;
        assert_eq!(status, 201, "{text}");
        answers.push(text);
    }
    let input = json!({"event": {"email": "ann.private@example.com"}});
    let expected_header = [
        ("b_basic", "authorization", format!("Basic {basic_encoded}")),
        (
            "b_bearer",
            "authorization",
            "Bearer tok-BEARER-s3cret".to_owned(),
        ),
        ("b_key", "x-api-key", "key-APIKEY-s3cret".to_owned()),
    ];
    for (block, header, value) in &expected_header {
        let (status, text, result) = server
            .call(
                Method::POST,
                &format!("/v1/blocks/{block}/invoke"),
                Some(input.clone()),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(result["ok"], true, "{text}");
        assert_eq!(
            resource.last_on("/secured").header(header),
            Some(value.as_str())
        );
        let shown = result["request"]["headers"].as_array().expect("headers");
        assert!(
            shown.contains(&json!([header, "***"])),
            "{block}: {shown:?}"
        );
        answers.push(text);
        let (status, text, _) = server
            .call(
                Method::POST,
                &format!("/v1/blocks/{block}/test"),
                Some(input.clone()),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        answers.push(text);
    }
    let mut run = input.clone();
    run["blocks"] = json!(["b_basic", "b_bearer", "b_key"]);
    let (status, text, result) = server
        .call(Method::POST, "/v1/workflows/run", Some(run))
        .await;
    assert_eq!((status, &result["ok"]), (200, &json!(true)), "{text}");
    answers.push(text);
    for path in [
        "/v1/blocks",
        "/v1/blocks/b_basic",
        "/v1/connectors",
        "/v1/connectors/crm-basic",
        "/v1/plugins/http-block",
        "/openapi.json",
    ] {
        let (status, text, _) = server.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {text}");
        answers.push(text);
    }
    for answer in &answers {
        for secret in secrets {
            assert!(
                !answer.contains(secret),
                "an API answer holds a secret: {answer}"
            );
        }
    }

    // The log: every request traced, without secrets or the query's
    // personal data.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log();
    let traced: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("block request") && line.contains("b_key"))
        .collect();
    assert!(
        traced.len() >= 3,
        "block requests are not traced:\n{}",
        log.join("\n")
    );
    assert!(
        traced.iter().all(|line| line.contains("status=200")),
        "{traced:?}"
    );
    assert!(
        traced.iter().all(|line| line.contains("/secured")),
        "{traced:?}"
    );
    for line in &log {
        for secret in secrets {
            assert!(!line.contains(secret), "a log line holds a secret: {line}");
        }
        assert!(
            !line.contains("ann.private"),
            "a log line holds the query: {line}"
        );
    }
}
