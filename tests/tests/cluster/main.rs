//! Several `wasmhook serve` processes on one PostgreSQL database, as an
//! operator runs them: callbacks spread over the nodes while nodes are
//! killed with SIGKILL and restarted, and then every acknowledged event is
//! stored exactly once and delivered at least once; an `endpoint`-ordered
//! endpoint receives in order across nodes; a 50/s endpoint is held to
//! 50/s cluster-wide; a plugin activated on one node serves callbacks on
//! another within 2 s; nodes ride out their database stopping for 10 s
//! under load (`outage`). These tests always run on PostgreSQL (a test
//! cluster from `tests/postgres.sh`, which `tests/run.sh` starts).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;
use wasmhook_tests::database::share_database;
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::ADMIN_TOKEN;

mod outage;

/// The multi-node tests take turns: each runs several server processes,
/// and two at once on a 2-core machine would starve each other's nodes
/// (a rate limit then measures the machine, not the limiter).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for this test's turn; held until the guard drops.
async fn my_turn() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

const SOURCE_TOKEN: &str = "cluster-source-token-0123456789";

/// Nodes of one system: one data dir each (their compile caches), one
/// database.
struct Cluster {
    dirs: Vec<TempDir>,
    nodes: Vec<ServerProcess>,
    client: reqwest::Client,
}

impl Cluster {
    /// `count` nodes on a new database, or `None` when no test cluster is
    /// configured (see [`share_database`]).
    async fn start(count: usize) -> Option<Cluster> {
        let dirs: Vec<TempDir> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let paths: Vec<&Path> = dirs.iter().map(TempDir::path).collect();
        share_database(&paths)?;
        Some(Cluster::start_in(dirs).await)
    }

    /// One node on each of `dirs`, one after the other; the dirs name
    /// their database already.
    async fn start_in(dirs: Vec<TempDir>) -> Cluster {
        let mut nodes = Vec::new();
        for dir in &dirs {
            nodes.push(start_node(dir.path()).await);
        }
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Cluster {
            dirs,
            nodes,
            client,
        }
    }

    /// `count` nodes on a new database started at the same moment, so
    /// they race to install the first-party plugins.
    async fn start_together(count: usize) -> Option<Cluster> {
        let dirs: Vec<TempDir> = (0..count).map(|_| tempfile::tempdir().unwrap()).collect();
        let paths: Vec<&Path> = dirs.iter().map(TempDir::path).collect();
        share_database(&paths)?;
        let starting: Vec<_> = dirs.iter().map(|dir| start_node(dir.path())).collect();
        let nodes = futures::future::join_all(starting).await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Some(Cluster {
            dirs,
            nodes,
            client,
        })
    }

    /// Kills node `index` with SIGKILL and starts it again on its data dir.
    async fn kill_and_restart(&mut self, index: usize) {
        self.nodes[index].kill();
        self.nodes[index] = start_node(self.dirs[index].path()).await;
    }

    fn admin(&self, node: usize, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.nodes[node].url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// The gupshup source `gs` made on node 1 and an endpoint to `receiver`
    /// on node 2: each node learns of the other's from the database.
    async fn source_and_endpoint(&self, receiver: &TestReceiver) {
        self.post(
            0,
            "/v1/sources",
            json!({"name": "gs", "mapper": "gupshup", "ingest_token": SOURCE_TOKEN}),
        )
        .await;
        self.post(1, "/v1/endpoints", json!({"url": receiver.url("/all")}))
            .await;
    }

    async fn post(&self, node: usize, path: &str, body: Value) -> Value {
        let response = self
            .admin(node, reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "POST {path} on node {node}: {status} {body}"
        );
        body
    }
}

/// A node: short leases so a killed node's deliveries are taken over in
/// seconds (an attempt still has 2 s).
async fn start_node(data_dir: &Path) -> ServerProcess {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        ServerProcess::start(
            Path::new(env!("CARGO_BIN_EXE_wasmhook-e2e")),
            &data_dir,
            &[
                "--outbound-allowlist",
                "127.0.0.1/32",
                "--delivery-timeout-ms",
                "2000",
                "--delivery-lease-ms",
                "4000",
            ],
        )
    })
    .await
    .expect("start a node")
}

/// Sends gupshup callbacks `from..to` over the nodes in turn, 16 at a
/// time; the event ids answered 202 (a request cut by a kill is not).
async fn ingest_spread(
    cluster: &Cluster,
    callbacks: &GupshupCallbacks,
    from: usize,
    to: usize,
) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(from));
    let bases: Vec<String> = cluster.nodes.iter().map(|node| node.base.clone()).collect();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, next, callbacks, bases) = (
            cluster.client.clone(),
            Arc::clone(&next),
            callbacks.clone(),
            bases.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    return accepted;
                }
                let base = &bases[i % bases.len()];
                let Ok(response) = client
                    .post(format!("{base}/ingest/gs?token={SOURCE_TOKEN}"))
                    .header("content-type", "application/json")
                    .body(callbacks.body(&format!("cluster-{i}")))
                    .send()
                    .await
                else {
                    continue;
                };
                if response.status() == 202
                    && let Ok(body) = response.json::<Value>().await
                    && let Some(id) = body["events"][0]["id"].as_str()
                {
                    accepted.push(id.to_owned());
                }
            }
        }));
    }
    let mut accepted = Vec::new();
    for task in tasks {
        accepted.extend(task.await.expect("an ingest task"));
    }
    accepted
}

/// Every event of source `gs`, read through node `node`, paging.
async fn stored_events(cluster: &Cluster, node: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/events?source=gs&limit=1000".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = cluster
            .admin(node, reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for event in page["data"].as_array().expect("a page of events") {
            ids.push(event["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// The event ids of what `receiver` got, in arrival order.
fn arrived(receiver: &TestReceiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .filter_map(|request| {
            serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|body| body["id"].as_str().map(str::to_owned))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_acknowledged_across_two_kills() {
    let _turn = my_turn().await;
    const EVENTS: usize = 3_000;
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let receiver = TestReceiver::start().await;
    let callbacks = GupshupCallbacks::load();
    cluster.source_and_endpoint(&receiver).await;
    // Node 3 learns of the source and the endpoint from the database.
    let started = Instant::now();
    let mut accepted = Vec::new();
    let step = EVENTS / 3;
    for round in 0..3 {
        let (from, to) = (
            round * step,
            if round == 2 {
                EVENTS
            } else {
                (round + 1) * step
            },
        );
        let arrived_before = receiver.count();
        accepted.extend(ingest_spread(&cluster, &callbacks, from, to).await);
        if round < 2 {
            // Mid-delivery: wait until the nodes deliver, then kill one.
            receiver
                .wait_for(arrived_before + 1, Duration::from_secs(120))
                .await;
            cluster.kill_and_restart(round + 1).await;
        }
    }
    let expected: HashSet<String> = accepted.iter().cloned().collect();
    assert_eq!(
        expected.len(),
        accepted.len(),
        "one event id per accepted callback"
    );
    assert!(
        expected.len() >= EVENTS - 2 * 16,
        "only {} of {EVENTS} accepted",
        expected.len()
    );

    // Stored exactly once: every accepted event, no other, no twice.
    let stored = stored_events(&cluster, 2).await;
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "an event stored twice");
    for id in &expected {
        assert!(
            stored_set.contains(id),
            "acknowledged event {id} is not stored"
        );
    }
    // Anything stored beyond the acknowledged was cut off by a kill before
    // its answer (the vendor would resend it): at most one per connection.
    assert!(
        stored.len() <= expected.len() + 2 * 16,
        "{} stored",
        stored.len()
    );

    // Delivered at least once.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let got: HashSet<String> = arrived(&receiver).into_iter().collect();
        let missing = expected.iter().filter(|id| !got.contains(*id)).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged events never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = receiver.count();
    eprintln!(
        "cluster: {} accepted over 3 nodes, 2 SIGKILLs, {total} requests received ({} duplicates), {:.1} s",
        expected.len(),
        total - expected.len().min(total),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_rate_and_plugin_activations_hold_across_nodes() {
    let _turn = my_turn().await;
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let receiver = TestReceiver::start().await;

    // `endpoint` ordering across nodes: events published one after another
    // on the nodes in turn arrive in that order, one at a time.
    cluster
        .post(
            0,
            "/v1/endpoints",
            json!({"url": receiver.url("/strict"), "ordering": {"mode": "endpoint"},
                   "filters": {"match": {"channel_value": "+15555550100"}}}),
        )
        .await;
    // 50/s, counted where the requests arrive.
    cluster
        .post(
            1,
            "/v1/endpoints",
            json!({"url": receiver.url("/paced"), "rate_limit": 50,
                   "filters": {"match": {"channel_value": "+15555550101"}}}),
        )
        .await;
    let mut published = Vec::new();
    for i in 0..60 {
        let body = cluster
            .post(
                i % 3,
                "/v1/events",
                json!({"event_type": "status", "channel": "sms", "channel_value": "+15555550100",
                       "status": {"status": "delivered"},
                       "reference": {"vendor_message_id": format!("strict-{i}")}}),
            )
            .await;
        published.push(body["events"][0]["id"].as_str().unwrap().to_owned());
    }
    const PACED: usize = 300;
    for batch in 0..3 {
        let events: Vec<Value> = (0..PACED / 3)
            .map(|i| {
                json!({"event_type": "status", "channel": "sms", "channel_value": "+15555550101",
                       "status": {"status": "delivered"},
                       "reference": {"vendor_message_id": format!("paced-{batch}-{i}")}})
            })
            .collect();
        cluster.post(batch, "/v1/events", json!(events)).await;
    }

    // Wait for both endpoints to have everything.
    let deadline = Instant::now() + Duration::from_secs(120);
    let by_path = loop {
        let mut by_path: HashMap<String, Vec<(Duration, String)>> = HashMap::new();
        for request in receiver.received() {
            let id = serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|body| body["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            by_path
                .entry(request.uri.clone())
                .or_default()
                .push((request.at, id));
        }
        let strict = by_path.get("/strict").map_or(0, Vec::len);
        let paced = by_path.get("/paced").map_or(0, Vec::len);
        if strict >= published.len() && paced >= PACED {
            break by_path;
        }
        assert!(
            Instant::now() < deadline,
            "strict {strict}/{}, paced {paced}/{PACED} arrived",
            published.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let strict: Vec<String> = by_path["/strict"]
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(
        strict, published,
        "the strict endpoint received out of order"
    );

    // The paced endpoint: the overall rate within 20 % of 50/s, and no
    // second holding more than 50 + 20 %.
    let times: Vec<Duration> = by_path["/paced"].iter().map(|(at, _)| *at).collect();
    let span = (times[times.len() - 1] - times[0]).as_secs_f64();
    let rate = (times.len() - 1) as f64 / span;
    let busiest = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|at| **at >= *start && **at < *start + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    eprintln!("cluster: paced endpoint {rate:.1}/s over {span:.1} s, busiest second {busiest}");
    assert!((40.0..=60.0).contains(&rate), "{rate:.1}/s, not 50/s ±20 %");
    assert!(busiest <= 60, "{busiest} requests in one second");

    // A plugin activated on node 1 serves callbacks on node 3 within 2 s:
    // version 1 is a mapper that refuses gupshup callbacks, version 2 the
    // gupshup mapper.
    let upload = |version_of: &str| {
        std::fs::read(wasmhook_tests::plugin_path(version_of)).expect("a first-party plugin")
    };
    for (wasm, activate) in [("twilio", true), ("gupshup", false)] {
        let response = cluster
            .admin(
                0,
                reqwest::Method::PUT,
                &format!("/v1/plugins/switch?activate={activate}"),
            )
            .header("content-type", "application/wasm")
            .body(upload(wasm))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "upload {wasm}: {}",
            response.status()
        );
    }
    cluster
        .post(
            0,
            "/v1/sources",
            json!({"name": "sw", "mapper": "switch", "ingest_token": SOURCE_TOKEN}),
        )
        .await;
    let callbacks = GupshupCallbacks::load();
    let send_on_node_3 = |i: usize| {
        cluster
            .client
            .post(cluster.nodes[2].url(&format!("/ingest/sw?token={SOURCE_TOKEN}")))
            .header("content-type", "application/json")
            .body(callbacks.body(&format!("switch-{i}")))
            .send()
    };
    // Node 3 has version 1 (wait for the source to reach it).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 0;
    loop {
        i += 1;
        let status = send_on_node_3(i).await.unwrap().status();
        if status.is_client_error() && status != 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 3 never used version 1: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster
        .post(0, "/v1/plugins/switch/activate", json!({"version": 2}))
        .await;
    let activated = Instant::now();
    loop {
        i += 1;
        let status = send_on_node_3(i).await.unwrap().status();
        if status == 202 {
            break;
        }
        assert!(
            activated.elapsed() < Duration::from_secs(2),
            "node 3 still refused with version 1 after 2 s: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "cluster: version 2 served on node 3 {} ms after its activation on node 1",
        activated.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_install_the_first_party_plugins_once() {
    let _turn = my_turn().await;
    let Some(cluster) = Cluster::start_together(2).await else {
        return;
    };
    let bundled = std::fs::read_dir(wasmhook_tests::repo_root().join("plugins/dist"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "wasm"))
        })
        .count();
    for node in 0..2 {
        let response = cluster
            .admin(node, reqwest::Method::GET, "/v1/plugins")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let plugins: Value = response.json().await.unwrap();
        let plugins = plugins.as_array().expect("a list of plugins");
        assert_eq!(plugins.len(), bundled, "node {node}: {plugins:?}");
        for plugin in plugins {
            assert_eq!(
                (&plugin["latest_version"], &plugin["active_version"]),
                (&json!(1), &json!(1)),
                "node {node}: installed once: {plugin}"
            );
        }
    }
}
