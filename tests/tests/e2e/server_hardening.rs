//! Hardening of what users give the server: limits that agree with each
//! other (a callback ingest accepts can be mapped), faults of the server's
//! side never answered as the vendor's, a source's mapper config checked
//! when it is saved, one dry-run shape for every world, the OpenAPI
//! document listing the statuses every operation can answer, and
//! configuration errors that say where the bad value came from.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::guest_bytes;
use wasmhook_tests::server::{TestServer, json_of};

/// A Gupshup WhatsApp report (whose `vendor_response` is the whole body)
/// padded with a note of `pad` bytes.
fn padded_gupshup_report(message_id: &str, pad: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "app": "DemoAPI",
        "timestamp": 1580546677791u64,
        "version": 2,
        "type": "message-event",
        "note": "x".repeat(pad),
        "payload": {
            "id": "wamid.HBgM",
            "gsId": message_id,
            "type": "delivered",
            "destination": "91XX985XX10X",
            "ts": 1710930462,
        }
    }))
    .unwrap()
}

async fn ingest(server: &TestServer, source: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    json_of(
        server
            .client
            .post(server.url(&format!("/ingest/{source}")))
            .header("x-wasmhook-token", token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_at_the_ingest_limit_is_mapped_although_the_mapper_copies_it() {
    let server = TestServer::start().await;
    let token = server.create_source("big", "gupshup", json!({})).await;
    // Just under the 4 MiB ingest limit, over the 4 MiB default output cap
    // once the mapper keeps the body as the event's `vendor_response`.
    let limit = 4 << 20;
    let body = padded_gupshup_report("big-1", limit - 1024);
    assert!(body.len() <= limit && body.len() > limit - 2048);
    let (status, answer) = ingest(&server, "big", &token, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let id = answer["events"][0]["id"].as_str().unwrap().to_owned();
    let (status, event) = server.get(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200);
    let note = event["vendor_response"]["gupshup"]["note"]
        .as_str()
        .or_else(|| event["vendor_response"]["note"].as_str())
        .unwrap_or_default();
    assert_eq!(note.len(), limit - 1024, "the whole payload was kept");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sides_faults_are_500_and_the_vendors_are_4xx() {
    let server = TestServer::start().await;
    let response = server
        .admin(Method::PUT, "/v1/plugins/hostile")
        .body(guest_bytes("hostile"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // The mapper's own bug (a trap) and a limit of the server's (events per
    // call): 500, kept as rejected.
    for (source, config, code) in [
        ("trapping", json!({"attack": "panic"}), "plugin_trapped"),
        (
            "flooding",
            json!({"attack": "many_events", "count": 6000}),
            "plugin_too_many_events",
        ),
    ] {
        let token = server.create_source(source, "hostile", config).await;
        let (status, answer) = ingest(&server, source, &token, b"{}".to_vec()).await;
        assert_eq!(status, 500, "{source}: {answer}");
        assert_eq!(answer["code"], code, "{answer}");
        assert!(answer["rejected_id"].as_str().is_some(), "{answer}");
    }

    // A malformed body is the vendor's: 400.
    let token = server.create_source("gs", "gupshup", json!({})).await;
    let (status, answer) = ingest(&server, "gs", &token, b"{\"app\": ".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "plugin_error", "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_config_the_mapper_cannot_use_is_refused_when_saved() {
    let server = TestServer::start().await;
    // Infobip's fieldmap config from the fixtures, and the same with a key
    // misspelt.
    let good: Value = serde_json::from_slice(
        &std::fs::read(wasmhook_tests::fixtures_dir("fieldmap-infobip").join("config.json"))
            .unwrap(),
    )
    .unwrap();
    let mut bad = good.clone();
    bad["fields"]["stauts"] = json!("status.groupName");
    let (status, answer) = server
        .post(
            "/v1/sources",
            &json!({"name": "fm", "mapper": "fieldmap", "config": bad}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "invalid_config", "{answer}");
    let detail = answer["detail"].as_str().unwrap();
    assert!(
        detail.contains("fieldmap") && detail.contains("stauts"),
        "the detail names the mapper and the key: {detail}"
    );
    let (status, _) = server.get("/v1/sources/fm").await;
    assert_eq!(status, 404, "nothing was saved");

    // A good config is saved; changing it to a bad one is refused and
    // leaves the good one in place.
    let (status, answer) = server
        .post(
            "/v1/sources",
            &json!({"name": "fm", "mapper": "fieldmap", "config": good}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = json_of(
        server
            .admin(Method::PATCH, "/v1/sources/fm")
            .json(&json!({"config": bad}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "invalid_config", "{answer}");
    let (_, source) = server.get("/v1/sources/fm").await;
    assert_eq!(source["config"], good);

    // Mappers that take no config accept any object.
    let (status, answer) = server
        .post(
            "/v1/sources",
            &json!({"name": "gs", "mapper": "gupshup", "config": {"anything": 1}}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_world_is_dry_run_with_input_and_config() {
    let server = TestServer::start().await;
    let invoke = |plugin: &str, body: Value| {
        let request = server
            .admin(Method::POST, &format!("/v1/plugins/{plugin}/invoke"))
            .json(&body);
        async move { json_of(request.send().await.unwrap()).await }
    };
    let report = String::from_utf8(padded_gupshup_report("dry-1", 4)).unwrap();
    let (status, mapped) = invoke(
        "gupshup",
        json!({"input": {"content_type": "application/json", "body": report}}),
    )
    .await;
    assert_eq!(status, 200, "{mapped}");
    assert_eq!(
        mapped["result"]["events"][0]["reference"]["vendor_message_id"], "dry-1",
        "{mapped}"
    );

    let (status, rendered) = invoke(
        "text-renderer",
        json!({"input": {"template": "hi {{ name }}", "format": "text", "data": {"name": "Ann"}}}),
    )
    .await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(rendered["result"]["body"], "hi Ann", "{rendered}");

    let (status, ran) = invoke(
        "http-block",
        json!({"input": {"event": {"email": "a@example.com"}},
               "config": {"method": "GET", "url": "https://crm.example.com/c?email=${email}"}}),
    )
    .await;
    assert_eq!(status, 200, "{ran}");
    assert!(
        ran["error"]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("crm.example.com"),
        "{ran}"
    );

    // A wrong input names the world and its shape; another world's key is refused.
    let (status, refused) = invoke("http-block", json!({"input": {"evnt": {}}})).await;
    assert_eq!(status, 422, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("evnt") && detail.contains("{event, contact, data}"),
        "{detail}"
    );
    let (status, refused) = invoke("http-block", json!({"callback": {"body": "x"}})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .starts_with("callback: not an input of a block"),
        "{refused}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_what_every_operation_can_answer() {
    let server = TestServer::start().await;
    let (_, doc) = json_of(
        server
            .client
            .get(server.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            if path.starts_with("/v1/") {
                assert!(has("401"), "{method} {path} lists no 401");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{method} {path} lists no {status}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} operations");
    // A delivery's attempt count and its attempts are two fields.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Delivery"]["properties"]["attempt_count"]["type"],
        "integer"
    );
    assert!(schemas["Delivery"]["properties"].get("attempts").is_none());
    server.stop().await;
}

#[test]
fn configuration_errors_say_where_the_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_wasmhook-e2e");
    // A bad environment variable is named as one, not as its flag.
    let output = Command::new(binary)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("WASMHOOK_MAX_BODY_BYTES", "lots")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable WASMHOOK_MAX_BODY_BYTES=`lots`"),
        "{stderr}"
    );
    // An out-of-range value from a variable names the variable.
    let output = Command::new(binary)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("WASMHOOK_PLUGIN_LANE_CALLS", "0")
        .env_remove("WASMHOOK_MAX_BODY_BYTES")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable WASMHOOK_PLUGIN_LANE_CALLS: `plugin_lane_calls`"),
        "{stderr}"
    );
    // An out-of-range value in the file names the file.
    let file = dir.path().join("wasmhook.toml");
    std::fs::write(&file, "plugin_lane_calls = 0\n").unwrap();
    let output = Command::new(binary)
        .args(["serve", "--config"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("WASMHOOK_MAX_BODY_BYTES")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("config file {}", file.display()))
            && stderr.contains("plugin_lane_calls"),
        "{stderr}"
    );
    // `event list --help` lists the event types there are.
    let output = Command::new(binary)
        .args(["event", "list", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("inbound_message") && !help.contains("`inbound`"),
        "{help}"
    );
}

#[test]
fn a_mappers_reply_body_prints_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .args(["plugin", "run"])
        .arg(wasmhook_tests::plugin_path("meta-whatsapp"))
        .args([
            "--method",
            "GET",
            "--query",
            "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=tok",
            "--config",
            r#"{"verify_token": "tok"}"#,
            "--cache-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["reply"]["body"], "1158201444", "{stdout}");
}
