//! Tenants end to end (issue 14) on a real server: two tenants fill their
//! accounts through their own keys; then, over every route of the OpenAPI
//! document (read from `/openapi.json`, not listed here), tenant B's key
//! gets for each of A's resources exactly what it gets for one that does
//! not exist — a 404 — and B's lists never hold A's records; A's events
//! never reach B's endpoint; a read-only key is refused every write route;
//! the admin token switches tenants with `X-Wasmhook-Tenant`; a tenant over
//! its ingest quota is answered 429 while another's callbacks go through; a
//! tenant's private plugin is its own.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::plugin_bytes;
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::resource::{Answer, TestResource};
use wasmhook_tests::server::{TestServer, json_of};

use crate::harness::fixtures_dir;

/// A server whose endpoints and blocks may call loopback receivers.
async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.allow_plain_http_blocks = true;
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await
}

/// A client acting with `key` (a tenant key or the admin token).
struct As<'a> {
    server: &'a TestServer,
    key: String,
    tenant_header: Option<String>,
}

impl<'a> As<'a> {
    fn key(server: &'a TestServer, key: &str) -> Self {
        As {
            server,
            key: key.to_owned(),
            tenant_header: None,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .server
            .client
            .request(method, self.server.url(path))
            .bearer_auth(&self.key);
        if let Some(tenant) = &self.tenant_header {
            request = request.header("x-wasmhook-tenant", tenant);
        }
        request
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        json_of(
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}")),
        )
        .await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Uploads `bytes` as a version of plugin `name`.
    async fn upload(&self, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        json_of(
            self.request(Method::PUT, &format!("/v1/plugins/{name}"))
                .header("content-type", "application/wasm")
                .body(bytes)
                .send()
                .await
                .expect("upload"),
        )
        .await
    }
}

/// Lets tenant `name` upload private plugins.
async fn allow_private_plugins(server: &TestServer, name: &str) {
    let (status, body) = json_of(
        server
            .admin(Method::PATCH, &format!("/v1/tenants/{name}"))
            .json(&json!({"allow_private_plugins": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Creates tenant `name` and a key for it with `scopes`; returns the key.
async fn tenant_with_key(server: &TestServer, name: &str, scopes: &[&str]) -> String {
    let (status, body) = server.post("/v1/tenants", &json!({"name": name})).await;
    assert!(
        status == 201 || status == 409,
        "creating tenant {name}: {body}"
    );
    key_for(server, name, scopes).await
}

async fn key_for(server: &TestServer, tenant: &str, scopes: &[&str]) -> String {
    let (status, body) = server
        .post(
            &format!("/v1/tenants/{tenant}/keys"),
            &json!({"name": format!("{tenant} {scopes:?}"), "scopes": scopes}),
        )
        .await;
    assert_eq!(status, 201, "creating a key for {tenant}: {body}");
    let key = body["key"].as_str().expect("the key is shown").to_owned();
    assert!(key.starts_with("whk_"), "{key}");
    key
}

fn gupshup_delivered(message_id: &str) -> Vec<u8> {
    let text =
        std::fs::read_to_string(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
            .unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["payload"]["gsId"] = json!(message_id);
    serde_json::to_vec(&value).unwrap()
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
            .expect("ingest"),
    )
    .await
}

/// Everything tenant A owns, by the path parameter that names it.
struct Owned {
    plugin: String,
    endpoint: String,
    connector: String,
    source: String,
    block: String,
    event: String,
    delivery: String,
    rejected: String,
}

impl Owned {
    /// The strings none of B's answers may contain.
    fn markers(&self) -> Vec<&str> {
        vec![
            &self.plugin,
            &self.endpoint,
            &self.connector,
            &self.source,
            &self.block,
            &self.event,
            &self.delivery,
            &self.rejected,
        ]
    }
}

/// Tenant A's account, made through A's own key: a private mapper, a
/// connector, an endpoint to `receiver`, a source (mapping with the private
/// mapper), a block calling `resource`, a published and an ingested event
/// (delivered), and a rejected callback.
async fn fill_tenant_a(
    server: &TestServer,
    a: &As<'_>,
    receiver: &TestReceiver,
    resource: &TestResource,
) -> Owned {
    let (status, plugin) = a.upload("acme-map", plugin_bytes("gupshup")).await;
    assert_eq!(status, 201, "{plugin}");
    let (status, connector) = a
        .post(
            "/v1/connectors",
            &json!({"name": "acme-crm", "auth": {"kind": "bearer", "token": "acme-secret"}}),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    let (status, endpoint) = a
        .post("/v1/endpoints", &json!({"url": receiver.url("/acme")}))
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let token = "acme-ingest-token-0123456789";
    let (status, source) = a
        .post(
            "/v1/sources",
            &json!({"name": "acme-gs", "mapper": "acme-map", "ingest_token": token}),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let (status, block) = a
        .post(
            "/v1/blocks",
            &json!({"name": "ACME_WH5", "config": {
                "method": "GET", "url": resource.url("/contacts"), "connector": "acme-crm"}}),
        )
        .await;
    assert_eq!(status, 201, "{block}");
    let (status, published) = a
        .post(
            "/v1/events",
            &json!({"event_type": "status", "channel": "sms",
                    "status": {"status": "delivered"},
                    "reference": {"vendor_message_id": "acme-1"}}),
        )
        .await;
    assert_eq!(status, 202, "{published}");
    let (status, accepted) = ingest(server, "acme-gs", token, gupshup_delivered("acme-gs-1")).await;
    assert_eq!(status, 202, "{accepted}");
    let (status, rejected) =
        ingest(server, "acme-gs", token, b"{\"not\": \"gupshup\"}".to_vec()).await;
    assert!((400..500).contains(&status), "{rejected}");
    // Both events reach A's receiver.
    receiver.wait_for(2, Duration::from_secs(60)).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let (status, deliveries) = a
        .get(&format!("/v1/endpoints/{endpoint_id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{deliveries}");
    Owned {
        plugin: "acme-map".into(),
        endpoint: endpoint_id,
        connector: connector["id"].as_str().unwrap().to_owned(),
        source: "acme-gs".into(),
        block: "ACME_WH5".into(),
        event: published["events"][0]["id"].as_str().unwrap().to_owned(),
        delivery: deliveries[0]["id"].as_str().unwrap().to_owned(),
        rejected: rejected["rejected_id"].as_str().unwrap().to_owned(),
    }
}

/// The path with each `{param}` replaced by A's record of that kind;
/// `None` for a route whose parameter names nothing a tenant owns (tenants
/// are the operator's). A new route with a new parameter fails here, so no
/// route escapes the isolation test.
fn with_a_records(path: &str, a: &Owned) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resource = segments.get(1).copied().unwrap_or_default();
    let mut filled = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            filled.push(segment.to_string());
            continue;
        };
        let owner = segments[index - 1];
        let value = match (resource, owner, param) {
            ("tenants", _, _) => return None,
            (_, "plugins", "name") => &a.plugin,
            (_, "endpoints", "id") => &a.endpoint,
            (_, "connectors", "id") => &a.connector,
            (_, "sources", "name") => &a.source,
            (_, "blocks", "name") => &a.block,
            (_, "events", "id") => &a.event,
            (_, "deliveries", "id") => &a.delivery,
            (_, "rejected", "id") => &a.rejected,
            _ => panic!("route {path}: no tenant record for `{{{param}}}` after `{owner}`"),
        };
        filled.push(value.clone());
    }
    Some(format!("/{}", filled.join("/")))
}

/// The same path with every record replaced by one that does not exist.
fn with_missing_records(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" => "zz_00000000000000000000000000",
            "{name}" => "no-such-record",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A body the operation accepts, so the request reaches the lookup (a
/// body error answers before any record is read, and says nothing either
/// way, but the test wants the lookup to answer).
fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("get" | "delete", _) => None,
        ("post", "/v1/endpoints/{id}/replay") => Some(json!({"since": 0})),
        ("post", "/v1/plugins/{name}/activate") => Some(json!({"version": 1})),
        ("post", "/v1/blocks/{name}/invoke" | "/v1/blocks/{name}/test") => {
            Some(json!({"event": {}}))
        }
        _ => Some(json!({})),
    }
}

/// Every `(method, path, access)` of the `/v1` routes in the document.
async fn v1_operations(server: &TestServer) -> Vec<(String, String, String)> {
    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let access = operation["x-wasmhook-access"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no x-wasmhook-access"))
                .to_owned();
            operations.push((method.clone(), path.clone(), access));
        }
    }
    assert!(
        operations.len() > 40,
        "only {} operations",
        operations.len()
    );
    operations
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.to_uppercase().as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_records_are_not_found_on_any_route_and_never_listed() {
    let server = server().await;
    let receiver_a = TestReceiver::start().await;
    let receiver_b = TestReceiver::start().await;
    let resource = TestResource::start().await;
    resource.route("/contacts", Answer::json(json!([{"id": 1}])));
    let all = ["read", "write", "deliveries", "blocks"];
    let a = As::key(&server, &tenant_with_key(&server, "acme", &all).await);
    allow_private_plugins(&server, "acme").await;
    let b = As::key(&server, &tenant_with_key(&server, "bolt", &all).await);
    let (status, b_endpoint) = b
        .post("/v1/endpoints", &json!({"url": receiver_b.url("/bolt")}))
        .await;
    assert_eq!(status, 201, "{b_endpoint}");
    let owned = fill_tenant_a(&server, &a, &receiver_a, &resource).await;

    let mut checked = 0;
    for (method_name, path, access) in v1_operations(&server).await {
        let body = body_for(&method_name, &path);
        if path.contains('{') {
            let Some(a_path) = with_a_records(&path, &owned) else {
                continue;
            };
            let (status, answer) = b.send(method(&method_name), &a_path, body.as_ref()).await;
            let (missing_status, missing) = b
                .send(
                    method(&method_name),
                    &with_missing_records(&path),
                    body.as_ref(),
                )
                .await;
            if (method_name.as_str(), path.as_str()) == ("put", "/v1/plugins/{name}") {
                // An upload creates a plugin, so it answers no 404; B (not
                // allowed private plugins) is refused the same way whether
                // or not A has the name.
                assert_eq!(
                    (status, &answer["code"]),
                    (missing_status, &missing["code"]),
                    "B's upload tells A's plugin from a missing one: {answer}"
                );
                checked += 1;
                continue;
            }
            assert_eq!(
                status, 404,
                "B's {method_name} {a_path} ({access}) answered {status}: {answer}"
            );
            assert_eq!(
                (status, &answer["code"]),
                (missing_status, &missing["code"]),
                "B's {method_name} {path} tells A's record from a missing one"
            );
            checked += 1;
        } else if method_name == "get" {
            for query in ["", "?deleted=true"] {
                let (status, answer) = b.get(&format!("{path}{query}")).await;
                if status != 200 {
                    continue;
                }
                let text = answer.to_string();
                for marker in owned.markers() {
                    assert!(
                        !text.contains(marker),
                        "B's GET {path}{query} lists A's `{marker}`: {text}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} checks ran");

    // A's records are all still there, unchanged by B's attempts.
    for path in [
        format!("/v1/plugins/{}", owned.plugin),
        format!("/v1/endpoints/{}", owned.endpoint),
        format!("/v1/connectors/{}", owned.connector),
        format!("/v1/sources/{}", owned.source),
        format!("/v1/blocks/{}", owned.block),
        format!("/v1/events/{}", owned.event),
        format!("/v1/deliveries/{}", owned.delivery),
    ] {
        let (status, record) = a.get(&path).await;
        assert_eq!(status, 200, "A's {path}: {record}");
        assert_eq!(record["deleted_at"], Value::Null, "{path}");
    }
    // A's events went to A's receiver only.
    assert_eq!(receiver_b.count(), 0, "B's endpoint got A's events");
    let (_, b_deliveries) = b
        .get(&format!(
            "/v1/endpoints/{}/deliveries",
            b_endpoint["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(b_deliveries, json!([]));
    // A's block still runs with A's connector.
    let (status, run) = a
        .post(
            &format!("/v1/blocks/{}/invoke", owned.block),
            &json!({"event": {}}),
        )
        .await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_hold_and_the_admin_token_switches_tenants() {
    let server = server().await;
    let full = As::key(
        &server,
        &tenant_with_key(&server, "acme", &["read", "write", "deliveries", "blocks"]).await,
    );
    let reader = As::key(&server, &key_for(&server, "acme", &["read"]).await);

    let mut writes = 0;
    for (method_name, path, access) in v1_operations(&server).await {
        let concrete = with_missing_records(&path);
        let body = body_for(&method_name, &path);
        let (status, answer) = reader
            .send(method(&method_name), &concrete, body.as_ref())
            .await;
        match access.as_str() {
            "read" => assert_ne!(
                status, 403,
                "read-only key on {method_name} {path}: {answer}"
            ),
            "operator" => {
                assert_eq!(status, 403, "{method_name} {path}: {answer}");
                assert_eq!(answer["code"], "operator_only", "{method_name} {path}");
                let (status, answer) = full
                    .send(method(&method_name), &concrete, body.as_ref())
                    .await;
                assert_eq!(
                    (status, answer["code"].as_str()),
                    (403, Some("operator_only")),
                    "a full key on {method_name} {path}"
                );
            }
            scope => {
                assert_eq!(
                    status, 403,
                    "read-only key on {method_name} {path}: {answer}"
                );
                assert_eq!(answer["code"], "missing_scope", "{method_name} {path}");
                assert!(
                    answer["detail"].as_str().unwrap().contains(scope),
                    "{answer}"
                );
                writes += 1;
            }
        }
    }
    assert!(writes > 20, "only {writes} write routes");

    // What the full key made is the acme tenant's: the admin token sees it
    // with the header, and not in the default tenant.
    let (status, endpoint) = full
        .post(
            "/v1/endpoints",
            &json!({"url": "https://receiver.example/acme"}),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let path = format!("/v1/endpoints/{}", endpoint["id"].as_str().unwrap());
    assert_eq!(
        server.get(&path).await.0,
        404,
        "default tenant sees acme's endpoint"
    );
    let mut admin = As::key(&server, wasmhook_tests::server::ADMIN_TOKEN);
    admin.tenant_header = Some("acme".into());
    assert_eq!(admin.get(&path).await.0, 200);
    admin.tenant_header = Some("nobody".into());
    let (status, answer) = admin.get("/v1/endpoints").await;
    assert_eq!(status, 404, "{answer}");
    // A key cannot name another tenant.
    let mut wrong = As::key(&server, &reader.key);
    wrong.tenant_header = Some("default".into());
    let (status, answer) = wrong.get("/v1/endpoints").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("tenant_mismatch"))
    );

    // The audit log names who changed what.
    let (status, log) = full.get("/v1/audit").await;
    assert_eq!(status, 200, "{log}");
    let entries = log["data"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|entry| entry["action"] == "endpoint.create"
                && entry["actor"]["kind"] == "key"
                && entry["target"] == endpoint["id"]),
        "{log}"
    );
    assert!(
        entries
            .iter()
            .any(|entry| entry["action"] == "key.create" && entry["actor"]["kind"] == "admin"),
        "{log}"
    );
    assert!(
        entries.iter().any(|entry| entry["action"] == "key.used"),
        "{log}"
    );

    // A revoked key is refused; a disabled tenant's keys are refused.
    let (_, keys) = server.get("/v1/tenants/acme/keys").await;
    let reader_id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["scopes"] == json!(["read"]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Listed by hint only: no listed key holds its secret.
    assert!(!keys.to_string().contains(&reader.key), "{keys}");
    let (status, _) = json_of(
        server
            .admin(
                Method::DELETE,
                &format!("/v1/tenants/acme/keys/{reader_id}"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reader.get("/v1/endpoints").await.0, 401);
    let (status, _) = json_of(
        server
            .admin(Method::PATCH, "/v1/tenants/acme")
            .json(&json!({"disabled": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = full.get("/v1/endpoints").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("tenant_disabled"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_quotas_is_refused_and_another_is_not() {
    let server = server().await;
    let (status, tenant) = server
        .post(
            "/v1/tenants",
            &json!({"name": "small", "quotas": {"ingest_per_second": 1, "max_sources": 1}}),
        )
        .await;
    assert_eq!(status, 201, "{tenant}");
    let small = As::key(
        &server,
        &key_for(&server, "small", &["read", "write"]).await,
    );
    let token = "small-ingest-token-0123456789";
    let (status, source) = small
        .post(
            "/v1/sources",
            &json!({"name": "small-gs", "mapper": "gupshup", "ingest_token": token}),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let (status, refused) = small
        .post(
            "/v1/sources",
            &json!({"name": "small-two", "mapper": "gupshup"}),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("quota_exceeded")),
        "{refused}"
    );
    let (_, own) = small.get("/v1/tenant").await;
    assert_eq!(own["usage"]["sources"], 1, "{own}");
    assert_eq!(own["quotas"]["max_sources"], 1, "{own}");
    let other_token = server.create_source("big-gs", "gupshup", json!({})).await;

    // 30 callbacks at once against a quota of 1 a second.
    let started = Instant::now();
    let flood = (0..30).map(|i| {
        ingest(
            &server,
            "small-gs",
            token,
            gupshup_delivered(&format!("s-{i}")),
        )
    });
    let answers = futures::future::join_all(flood).await;
    let elapsed = started.elapsed();
    let accepted = answers.iter().filter(|(status, _)| *status == 202).count();
    let limited: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .collect();
    assert_eq!(accepted + limited.len(), 30, "{answers:?}");
    // One second's burst, plus one a second while the flood lasted.
    assert!(
        accepted as u64 <= 2 + elapsed.as_secs(),
        "{accepted} accepted in {elapsed:?}"
    );
    assert!(!limited.is_empty(), "no 429 in {elapsed:?}");
    assert_eq!(limited[0].1["code"], "over_quota");
    // The vendor is told when to resend.
    let response = server
        .client
        .post(server.url("/ingest/small-gs"))
        .header("x-wasmhook-token", token)
        .header("content-type", "application/json")
        .body(gupshup_delivered("s-last"))
        .send()
        .await
        .unwrap();
    if response.status() == 429 {
        assert_eq!(response.headers()["retry-after"], "1");
    }
    // Another tenant's source is not held to it.
    for i in 0..10 {
        let (status, body) = ingest(
            &server,
            "big-gs",
            &other_token,
            gupshup_delivered(&format!("b-{i}")),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_plugin_needs_the_operators_leave_and_stays_its_tenants() {
    let server = server().await;
    let all = ["read", "write", "deliveries", "blocks"];
    let a = As::key(&server, &tenant_with_key(&server, "acme", &all).await);
    let b = As::key(&server, &tenant_with_key(&server, "bolt", &all).await);
    let mapper = || plugin_bytes("gupshup");

    // Not until the operator allows it for the tenant.
    let (status, answer) = a.upload("acme-map", mapper()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("private_plugins_not_allowed")),
        "{answer}"
    );
    allow_private_plugins(&server, "acme").await;
    allow_private_plugins(&server, "bolt").await;
    let (status, uploaded) = a.upload("acme-map", mapper()).await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["plugin"]["owner"], "acme", "{uploaded}");

    // Shared plugins are the operator's to change.
    let (status, answer) = a.upload("gupshup", mapper()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("operator_only")),
        "{answer}"
    );
    for (method_name, path, body) in [
        (
            "post",
            "/v1/plugins/gupshup/activate",
            json!({"version": 1}),
        ),
        (
            "put",
            "/v1/plugins/gupshup/settings",
            json!({"limits": {"timeout_ms": 100}}),
        ),
        ("delete", "/v1/plugins/gupshup", Value::Null),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = a.send(method(method_name), path, body.as_ref()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("operator_only")),
            "{method_name} {path}: {answer}"
        );
    }
    // Its own plugin's limits stay the operator's too.
    let (status, answer) = a
        .send(
            Method::PUT,
            "/v1/plugins/acme-map/settings",
            Some(&json!({"limits": {"timeout_ms": 60_000}})),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("operator_only")),
        "{answer}"
    );

    // Another tenant: the name is taken, the plugin unseen and unusable,
    // exactly like one that does not exist.
    let (status, answer) = b.upload("acme-map", mapper()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("name_taken")),
        "{answer}"
    );
    let (_, listed) = b.get("/v1/plugins").await;
    assert!(
        !listed.to_string().contains("acme-map"),
        "B lists A's plugin: {listed}"
    );
    let source = |name: &str, mapper: &str| json!({"name": name, "mapper": mapper, "ingest_token": "a-token-of-sixteen-chars"});
    let (foreign_status, foreign) = b.post("/v1/sources", &source("bolt-in", "acme-map")).await;
    let (missing_status, missing) = b.post("/v1/sources", &source("bolt-in", "nope-map")).await;
    assert_eq!(foreign_status, 422, "{foreign}");
    assert_eq!(
        (foreign_status, &foreign["code"]),
        (missing_status, &missing["code"]),
        "{foreign} vs {missing}"
    );
    let (status, answer) = b
        .post(
            "/v1/render",
            &json!({"plugin": "acme-map", "template": "{}", "format": "json"}),
        )
        .await;
    assert_eq!(status, 404, "{answer}");

    // Its own tenant maps callbacks with it.
    let token = "acme-ingest-token-0123456789";
    let (status, created) = a
        .post(
            "/v1/sources",
            &json!({"name": "acme-gs", "mapper": "acme-map", "ingest_token": token}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, accepted) = ingest(&server, "acme-gs", token, gupshup_delivered("p-1")).await;
    assert_eq!(status, 202, "{accepted}");
    let (_, events) = a.get("/v1/events").await;
    assert!(events.to_string().contains("p-1"), "{events}");

    // The operator sees it, with its owner; the change is in A's audit log
    // under the key's name.
    let (_, all_plugins) = server.get("/v1/plugins").await;
    let entry = all_plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|plugin| plugin["name"] == "acme-map")
        .expect("the operator lists every plugin");
    assert_eq!(entry["owner"], "acme");
    let (status, log) = a.get("/v1/audit").await;
    assert_eq!(status, 200, "{log}");
    let upload = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "plugin.upload")
        .unwrap_or_else(|| panic!("no plugin.upload in {log}"))
        .clone();
    assert_eq!(upload["target"], "acme-map v1", "{upload}");
    assert_eq!(upload["actor"]["kind"], "key", "{upload}");
}
