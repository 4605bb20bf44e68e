//! `wasmhook migrate --from-sled DIR --to URL` as an operator runs it: a
//! server on the embedded store gets a source, endpoints to real receivers,
//! a tenant with a key, a connector and a block, and ingests callbacks (one
//! delivery left pending, waiting for its retry); it is stopped and the real
//! binary copies its data dir into a new database. A server on that
//! database then serves the same records: the same event ids, the source's
//! ingest token ingests, the endpoint's secret signs what it delivers, the
//! pending delivery is retried under its own id, the tenant's key is
//! accepted. Refused along the way: a dir a running server holds, a
//! missing dir, a database that holds records.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::database::{drop_database_of, share_database};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::receiver::{Script, TestReceiver};
use wasmhook_tests::server::{ADMIN_TOKEN, TestServer, json_of};

const SOURCE: &str = "gs-migrated";
/// Every wait of this test is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The pending delivery's retry delay: long enough that the embedded
/// server does not retry before it stops, short enough to see the
/// database's server retry it.
const RETRY_SECS: u64 = 15;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
}

/// Runs `wasmhook migrate` with `args`.
async fn migrate(args: &[&str]) -> Output {
    tokio::process::Command::new(binary())
        .arg("migrate")
        .args(args)
        .env_remove("WASMHOOK_DATABASE_URL")
        .output()
        .await
        .expect("wasmhook migrate runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The summary's lines: kind → count.
fn summary(output: &Output) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // `kind` may hold spaces; the count is what follows the run of
            // spaces that pads the kind.
            let (kind, count) = line.split_once("  ")?;
            Some((kind.trim().to_owned(), count.trim().to_owned()))
        })
        .collect()
}

/// Either server: its base URL and a client.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn of(server: &TestServer) -> Self {
        Api {
            base: server.base.clone(),
            client: server.client.clone(),
        }
    }

    fn of_process(server: &ServerProcess) -> Self {
        Api {
            base: server.base.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(TIMEOUT)
                .build()
                .expect("client"),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        json_of(request.send().await.expect("request")).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(Method::POST, path, Some(&body)).await;
        assert_eq!(status, 201, "POST {path} {body}: {answer}");
        answer
    }

    /// Ingests a gupshup callback with message id `message_id`; its
    /// event's id.
    async fn ingest(&self, token: &str, message_id: &str) -> String {
        let response = self
            .client
            .post(format!("{}/ingest/{SOURCE}", self.base))
            .header("x-wasmhook-token", token)
            .header("content-type", "application/json")
            .body(GupshupCallbacks::load().body(message_id))
            .send()
            .await
            .expect("POST /ingest");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 202, "ingest: {body}");
        body["events"][0]["id"]
            .as_str()
            .expect("the 202 names the event")
            .to_owned()
    }

    /// Event ids listed, newest first.
    async fn event_ids(&self) -> Vec<String> {
        let page = self.get("/v1/events?limit=100").await;
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|event| event["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// What the API shows of the configuration: what must read the same
    /// from the database.
    async fn configuration(&self) -> Value {
        json!({
            "plugins": self.get("/v1/plugins").await,
            "gupshup": self.get("/v1/plugins/gupshup").await,
            "sources": self.get("/v1/sources").await,
            "endpoints": self.get("/v1/endpoints").await,
            "connectors": self.get("/v1/connectors").await,
            "blocks": self.get("/v1/blocks").await,
            "tenants": self.get("/v1/tenants").await,
            "acme_keys": self.get("/v1/tenants/acme/keys").await,
        })
    }
}

/// Polls `check` until it answers `Some`, at most [`TIMEOUT`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify(secret: &str, received: &wasmhook_tests::receiver::Received) -> bool {
    let webhook = standardwebhooks::Webhook::new(secret).expect("secret parses");
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in &received.headers {
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(value).unwrap(),
        );
    }
    webhook.verify(&received.body, &headers).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_data_dir_serves_the_same_records_from_postgres() {
    let sled_dir = tempfile::tempdir().expect("temp dir");
    let pg_dir = tempfile::tempdir().expect("temp dir");
    // A new database for the server that follows, named in its data dir.
    let Some(url) = share_database(&[pg_dir.path()]) else {
        return;
    };
    let sled_path = sled_dir.path().to_str().expect("a UTF-8 path").to_owned();

    // An embedded server, whatever store the other tests run on.
    let server = TestServer::start_embedded_in(sled_dir.path(), |config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    let api = Api::of(&server);
    let receiver = TestReceiver::start().await;
    let token = server.create_source(SOURCE, "gupshup", json!({})).await;
    let endpoint = api
        .post("/v1/endpoints", json!({"url": receiver.url("/hook")}))
        .await;
    let secret = endpoint["secret"].as_str().expect("secret").to_owned();
    api.post("/v1/tenants", json!({"name": "acme"})).await;
    let key = api
        .post(
            "/v1/tenants/acme/keys",
            json!({"name": "ci", "scopes": ["read"]}),
        )
        .await["key"]
        .as_str()
        .expect("the key is shown")
        .to_owned();
    api.post(
        "/v1/connectors",
        json!({"name": "crm", "auth": {"kind": "bearer", "token": "crm-secret-token"}}),
    )
    .await;
    api.post(
        "/v1/blocks",
        json!({"name": "notify", "config": {"method": "POST", "url": "https://crm.example/hook", "connector": "crm"}}),
    )
    .await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(api.ingest(&token, &format!("before-{n}")).await);
    }
    receiver.wait_for(3, TIMEOUT).await;
    // A second endpoint whose receiver fails the first request: its
    // delivery of the next event waits for a retry.
    let flaky = TestReceiver::with_script(Script {
        statuses: vec![503],
        ..Script::default()
    })
    .await;
    let retried = api
        .post(
            "/v1/endpoints",
            json!({"url": flaky.url("/hook"), "retry": {"schedule_secs": [RETRY_SECS]}}),
        )
        .await;
    let retried_id = retried["id"].as_str().expect("id").to_owned();
    let retried_secret = retried["secret"].as_str().expect("secret").to_owned();
    events.push(api.ingest(&token, "before-3").await);
    receiver.wait_for(4, TIMEOUT).await;
    let pending = eventually("the failed attempt recorded", || async {
        let deliveries = api
            .get(&format!("/v1/endpoints/{retried_id}/deliveries"))
            .await;
        let delivery = deliveries.get(0)?.clone();
        (delivery["state"] == "pending" && delivery["attempt_count"] == 1).then_some(delivery)
    })
    .await;
    let pending_id = pending["id"].as_str().expect("id").to_owned();
    let pending_before = api.get(&format!("/v1/deliveries/{pending_id}")).await;
    let configuration = api.configuration().await;
    let listed = api.event_ids().await;
    events.reverse();
    assert_eq!(listed, events, "newest first");

    // While the server runs, its data dir is refused.
    let refused = migrate(&["--from-sled", &sled_path, "--to", &url]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("stop the server first"),
        "{}",
        stderr(&refused)
    );
    server.stop().await;

    let missing = sled_dir.path().join("nope");
    let refused = migrate(&["--from-sled", missing.to_str().unwrap(), "--to", &url]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains(&format!("{}: no such directory", missing.display())),
        "{}",
        stderr(&refused)
    );

    let migrated = migrate(&["--from-sled", &sled_path, "--to", &url]).await;
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let counts = summary(&migrated);
    let plugins = configuration["plugins"].as_array().expect("plugins").len();
    for (kind, count) in [
        ("tenants", "2".to_owned()),
        ("api keys", "1".to_owned()),
        ("plugins", plugins.to_string()),
        ("sources", "1".to_owned()),
        ("endpoints", "2".to_owned()),
        ("connectors", "1".to_owned()),
        ("blocks", "1".to_owned()),
        ("events", "4".to_owned()),
        ("deliveries pending", "1".to_owned()),
        ("deliveries done", "4 (4 succeeded, 0 failed)".to_owned()),
        ("rejected callbacks", "0".to_owned()),
    ] {
        assert_eq!(
            counts.get(kind),
            Some(&count),
            "{kind} in {}",
            String::from_utf8_lossy(&migrated.stdout)
        );
    }
    // Twice is refused: the database holds records now.
    let again = migrate(&["--from-sled", &sled_path, "--to", &url]).await;
    assert!(!again.status.success());
    assert!(again.stdout.is_empty());
    assert!(
        stderr(&again).contains("already holds wasmhook records"),
        "{}",
        stderr(&again)
    );

    // A server on the database (named in its data dir).
    let pg_path = pg_dir.path().to_path_buf();
    let mut node = tokio::task::spawn_blocking(move || {
        ServerProcess::start(
            binary(),
            &pg_path,
            &["--outbound-allowlist", "127.0.0.1/32"],
        )
    })
    .await
    .expect("start the server");
    let pg = Api::of_process(&node);
    assert_eq!(pg.configuration().await, configuration);
    assert_eq!(
        pg.event_ids().await,
        listed,
        "the same events, the same ids"
    );
    // The pending delivery is as it was, unless its retry came already.
    let pending_after = pg.get(&format!("/v1/deliveries/{pending_id}")).await;
    assert_eq!(pending_after["attempts"][0], pending_before["attempts"][0]);
    if pending_after["state"] == "pending" {
        assert_eq!(pending_after, pending_before);
    }
    // The tenant's key is accepted.
    let (status, body) = json_of(
        pg.client
            .get(format!("{}/v1/sources", pg.base))
            .bearer_auth(&key)
            .send()
            .await
            .expect("GET with the key"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The source's token ingests; the delivery is signed with the
    // endpoint's secret of before.
    let new_event = pg.ingest(&token, "after-0").await;
    let received = receiver.wait_for(5, TIMEOUT).await;
    let delivered = &received[4];
    let body: Value = serde_json::from_slice(&delivered.body).expect("JSON body");
    assert_eq!(body["id"], new_event.as_str());
    assert!(verify(&secret, delivered), "the endpoint's secret verifies");
    // The pending delivery is retried under its own id (the receiver
    // accepts it now), signed with its endpoint's secret.
    let retry = eventually("the pending delivery's retry", || async {
        flaky
            .received()
            .into_iter()
            .skip(1)
            .find(|request| request.header("webhook-id") == Some(pending_id.as_str()))
    })
    .await;
    assert!(verify(&retried_secret, &retry));
    let done = eventually("the retry recorded", || async {
        let delivery = pg.get(&format!("/v1/deliveries/{pending_id}")).await;
        (delivery["state"] == "succeeded").then_some(delivery)
    })
    .await;
    assert_eq!(done["attempts"][0], pending_before["attempts"][0]);
    assert_eq!(done["attempts"][1]["status"], 200);
    let mut all = vec![new_event];
    all.extend(listed);
    assert_eq!(pg.event_ids().await, all);

    node.terminate(TIMEOUT);
    drop_database_of(pg_dir.path());
}
