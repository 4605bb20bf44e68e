//! A custom block plugin built from source (`tests/guests/two-calls`)
//! uploaded to the real server and run as a workflow block: it calls two
//! real loopback resources through the host's HTTP import, the second
//! request built from the first answer. A request to a host outside the
//! plugin's allowed hosts comes back as a refusal value (`target_refused`)
//! and the plugin keeps working; a block that traps
//! (`tests/guests/hostile-block`) is `plugin_trap`, and the next run works.

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::guest_bytes;
use wasmhook_tests::resource::{Answer, Parsed, TestResource};
use wasmhook_tests::server::{TestServer, json_of};

/// Two customer resources: `GET /contact` answers a contact, `POST /promo`
/// a promo code (for the `id` it must be sent).
async fn resources() -> (TestResource, TestResource) {
    let first = TestResource::start().await;
    first.route(
        "/contact",
        Answer::json(json!({"id": 4217, "email": "ann@example.com"})),
    );
    let second = TestResource::start().await;
    second.route("/promo", Answer::json(json!({"promocode": "P-4217"})));
    (first, second)
}

async fn upload(server: &TestServer, name: &str, guest: &str) {
    let (status, body) = json_of(
        server
            .admin(Method::PUT, &format!("/v1/plugins/{name}"))
            .header("content-type", "application/wasm")
            .body(guest_bytes(guest))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "uploading {guest}: {body}");
    assert_eq!(body["version"]["world"], "block", "{body}");
}

async fn set_allowed_hosts(server: &TestServer, plugin: &str, hosts: Value) -> Value {
    let (status, body) = json_of(
        server
            .admin(Method::PUT, &format!("/v1/plugins/{plugin}/settings"))
            .json(&json!({"allowed_hosts": hosts}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "settings of {plugin}: {body}");
    body
}

async fn create_block(server: &TestServer, name: &str, plugin: &str, config: Value) {
    let (status, body) = server
        .post(
            "/v1/blocks",
            &json!({"name": name, "plugin": plugin, "config": config}),
        )
        .await;
    assert_eq!(status, 201, "creating block {name}: {body}");
}

async fn invoke(server: &TestServer, block: &str) -> Value {
    let (status, body) = server
        .post(
            &format!("/v1/blocks/{block}/invoke"),
            &json!({"event": {"email": "ann@example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "invoking {block}: {body}");
    body
}

async fn start_server() -> TestServer {
    TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
        config.allow_plain_http_blocks = true;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_block_calls_two_urls_and_a_host_outside_its_allowlist_is_refused() {
    let server = start_server().await;
    let (first, second) = resources().await;
    upload(&server, "two-calls", "two-calls").await;
    let config = json!({"first_url": first.url("/contact"), "second_url": second.url("/promo")});
    create_block(&server, "promo", "two-calls", config).await;

    // An uploaded block plugin may not reach any host until allowed.
    let (_, plugin) = server.get("/v1/plugins/two-calls").await;
    assert_eq!(plugin["allowed_hosts"], json!([]), "{plugin}");
    let refused = invoke(&server, "promo").await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "target_refused", "{refused}");
    assert!(first.hits().is_empty() && second.hits().is_empty());

    // Allowed: both resources are called, the second with the first's id.
    let plugin = set_allowed_hosts(&server, "two-calls", json!(["127.0.0.1"])).await;
    assert_eq!(plugin["allowed_hosts"], json!(["127.0.0.1"]), "{plugin}");
    let done = invoke(&server, "promo").await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(
        done["data"]["promo"],
        json!({
            "first": {"id": 4217, "email": "ann@example.com"},
            "second": {"promocode": "P-4217"}
        }),
        "{done}"
    );
    assert_eq!(done["requests"].as_array().map(Vec::len), Some(2), "{done}");
    assert_eq!(first.last_on("/contact").method, "GET");
    let sent = second.last_on("/promo");
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.parsed, Parsed::Json(json!({"id": 4217})));

    // Only the first resource's port allowed: the second request is refused
    // by the plugin's allowed hosts (the SSRF rules allow 127.0.0.1), and
    // the plugin gets that as a value, not a crash.
    let only_first = format!("127.0.0.1:{}", first.addr.port());
    set_allowed_hosts(&server, "two-calls", json!([only_first])).await;
    let refused = invoke(&server, "promo").await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "target_refused", "{refused}");
    assert!(refused.get("data").is_none_or(Value::is_null), "{refused}");
    let detail = refused["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&second.addr.port().to_string()),
        "the refusal names the target: {refused}"
    );
    assert_eq!(first.hits().len(), 2, "the first resource was called again");
    assert_eq!(second.hits().len(), 1, "the refused request was not sent");

    // The plugin still works on the next invoke.
    set_allowed_hosts(&server, "two-calls", json!(["127.0.0.1"])).await;
    let again = invoke(&server, "promo").await;
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(again["data"]["promo"]["second"]["promocode"], "P-4217");
    assert_eq!((first.hits().len(), second.hits().len()), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_block_is_plugin_trap_and_the_next_run_works() {
    let server = start_server().await;
    upload(&server, "hostile-block", "hostile-block").await;
    create_block(&server, "boom", "hostile-block", json!({"attack": "panic"})).await;
    create_block(&server, "calm", "hostile-block", json!({"attack": "none"})).await;

    let trapped = invoke(&server, "boom").await;
    assert_eq!(trapped["ok"], false, "{trapped}");
    assert_eq!(trapped["error"]["code"], "plugin_trap", "{trapped}");
    let detail = trapped["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("hostile-block"), "{trapped}");

    let calm = invoke(&server, "calm").await;
    assert_eq!(calm["ok"], true, "{calm}");
    assert_eq!(calm["data"]["calm"], json!({"ok": true}), "{calm}");
}
