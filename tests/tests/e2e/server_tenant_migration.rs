//! A data dir written before tenants (tests/fixtures/pre-tenants-data-dir)
//! opens in today's server with everything in the `default` tenant, and
//! everything still works: the admin token sees and changes it all as
//! before, the vendor's callbacks come in on the old URL and token (a
//! resend of an old callback is still recognised), the pending delivery
//! goes out once its endpoint is fixed, the block runs with its connector,
//! and a new tenant sees none of it.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::{TestServer, json_of};

use crate::harness::{fixtures_dir, repo_root};

const LEGACY_TOKEN: &str = "legacy-token-0123456789";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn gupshup_delivered(message_id: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
            .unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["payload"]["gsId"] = json!(message_id);
    serde_json::to_vec(&value).unwrap()
}

async fn ingest(server: &TestServer, body: Vec<u8>) -> (u16, Value) {
    json_of(
        server
            .client
            .post(server.url("/ingest/legacy-gs"))
            .header("x-wasmhook-token", LEGACY_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn send(server: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    json_of(server.admin(method, path).json(&body).send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_from_before_tenants_works_in_the_default_tenant() {
    if wasmhook_tests::database::on_postgres() {
        // The fixture is an embedded store's data dir; a PostgreSQL
        // database is tenant-aware from its first migration.
        eprintln!("note: an embedded store's migration; the servers run on PostgreSQL");
        return;
    }
    let legacy = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/fixtures/pre-tenants-data-dir"),
        legacy.path(),
    );
    let data_dir = legacy.path().to_path_buf();
    let server = TestServer::start_with(|config| {
        config.data_dir = data_dir;
        config.allow_plain_http_blocks = true;
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;

    // Everything is there, in `default`, as the admin token sees it.
    let (_, tenants) = server.get("/v1/tenants").await;
    let default = &tenants.as_array().unwrap()[0];
    assert_eq!(default["name"], "default", "{tenants}");
    assert_eq!(default["usage"], json!({"sources": 1, "endpoints": 1}));
    let (status, source) = server.get("/v1/sources/legacy-gs").await;
    assert_eq!(status, 200, "{source}");
    let (_, connectors) = server.get("/v1/connectors").await;
    assert_eq!(connectors[0]["name"], "legacy-crm", "{connectors}");
    let (_, blocks) = server.get("/v1/blocks").await;
    assert_eq!(blocks[0]["name"], "LEGACY_WH5", "{blocks}");
    let (_, deleted) = server.get("/v1/blocks?deleted=true").await;
    assert_eq!(deleted[0]["name"], "LEGACY_GONE", "{deleted}");
    let (_, events) = server.get("/v1/events?source=legacy-gs").await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
    let (_, rejected) = server.get("/v1/sources/legacy-gs/rejected").await;
    assert_eq!(rejected.as_array().unwrap().len(), 1, "{rejected}");
    let (_, endpoints) = server.get("/v1/endpoints").await;
    let endpoint = endpoints[0]["id"].as_str().unwrap().to_owned();
    let (_, deliveries) = server
        .get(&format!("/v1/endpoints/{endpoint}/deliveries"))
        .await;
    let pending = deliveries[0].clone();
    assert_eq!(pending["state"], "pending", "{deliveries}");

    // The endpoint is pointed at a live receiver; the old delivery goes out
    // when retried, and new callbacks on the old URL and token follow it.
    let receiver = TestReceiver::start().await;
    let (status, changed) = send(
        &server,
        Method::PATCH,
        &format!("/v1/endpoints/{endpoint}"),
        json!({"url": receiver.url("/legacy")}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let (status, retried) = server
        .post(
            &format!("/v1/deliveries/{}/retry", pending["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{retried}");
    let received = receiver.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(
        received[0].header("webhook-id"),
        pending["id"].as_str(),
        "the old delivery keeps its webhook-id"
    );
    let (status, resend) = ingest(&server, gupshup_delivered("legacy-1")).await;
    assert_eq!(status, 202, "{resend}");
    assert_eq!(
        resend["duplicates"], 1,
        "a resend of the old callback: {resend}"
    );
    let (status, fresh) = ingest(&server, gupshup_delivered("after-1")).await;
    assert_eq!((status, &fresh["accepted"]), (202, &json!(1)), "{fresh}");
    receiver.wait_for(2, Duration::from_secs(60)).await;

    // The block runs with its connector's credentials.
    let resource = TestResource::start().await;
    resource.route("/contacts", Answer::json(json!([{"id": 7}])));
    let (status, replaced) = send(
        &server,
        Method::PUT,
        "/v1/blocks/LEGACY_WH5",
        json!({"config": {"method": "GET", "url": resource.url("/contacts"), "connector": "legacy-crm"}}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    let (status, run) = server
        .post("/v1/blocks/LEGACY_WH5/invoke", &json!({"event": {}}))
        .await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
    let request = resource.last_on("/contacts");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer legacy-secret")
    );

    // A new tenant sees none of it, and may reuse the block's name.
    let (status, _) = server.post("/v1/tenants", &json!({"name": "fresh"})).await;
    assert_eq!(status, 201);
    let (status, key) = server
        .post(
            "/v1/tenants/fresh/keys",
            &json!({"name": "fresh", "scopes": ["read", "write"]}),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let fresh_key = key["key"].as_str().unwrap();
    for path in [
        "/v1/sources",
        "/v1/endpoints",
        "/v1/connectors",
        "/v1/blocks",
    ] {
        let (status, listed) = json_of(
            server
                .client
                .get(server.url(path))
                .bearer_auth(fresh_key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, listed), (200, json!([])), "{path}");
    }
    let (status, created) = json_of(
        server
            .client
            .post(server.url("/v1/blocks"))
            .bearer_auth(fresh_key)
            .json(&json!({"name": "LEGACY_WH5", "config": {"url": "https://crm.example/x"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    server.stop().await;
}
