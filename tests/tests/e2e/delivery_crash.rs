//! At-least-once across crashes: 10,000 vendor callbacks ingested while the
//! real server process is killed with SIGKILL three times mid-delivery (the
//! receiver holds its answers, so a kill always finds deliveries in flight
//! and queued, however loaded the machine) and restarted on the same data
//! dir. Every event that got a 202 reaches the
//! receiver at least once (counted by event id and by distinct
//! `webhook-id`), and the number of duplicates is reported. And with
//! ordering by key, kills mid-delivery neither lose a key's queue nor let
//! a later event of a key reach the receiver before an earlier one.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::ADMIN_TOKEN;

const EVENTS: usize = 10_000;
const KILLS: usize = 3;
const CONCURRENCY: usize = 16;
const SOURCE_TOKEN: &str = "crash-source-token-0123456789";

fn start(data_dir: &Path) -> ServerProcess {
    ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_wasmhook-e2e")),
        data_dir,
        &["--outbound-allowlist", "127.0.0.1/32"],
    )
}

/// Ingests callbacks `from..to` at `CONCURRENCY`; the event ids that got a
/// 202 (a request cut by a kill just isn't counted).
async fn ingest(
    client: &reqwest::Client,
    base: &str,
    callbacks: &GupshupCallbacks,
    from: usize,
    to: usize,
) -> Vec<String> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, next, callbacks) = (client.clone(), Arc::clone(&next), callbacks.clone());
        let url = format!("{base}/ingest/gs?token={SOURCE_TOKEN}");
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= to {
                    return accepted;
                }
                let Ok(response) = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(callbacks.body(&format!("crash-{i}")))
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
        accepted.extend(task.await.expect("ingest task"));
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_event_is_delivered_at_least_once_across_three_kills() {
    let data_dir = tempfile::tempdir().unwrap();
    // The receiver holds its answers until every kill is done: each kill
    // lands with deliveries in flight (waiting for an answer) and queued.
    let receiver = TestReceiver::start().await;
    receiver.hold();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let callbacks = GupshupCallbacks::load();

    let mut server = start(data_dir.path());
    let admin =
        |server: &ServerProcess, path: &str| client.post(server.url(path)).bearer_auth(ADMIN_TOKEN);
    let created = admin(&server, "/v1/sources")
        .json(&json!({"name": "gs", "mapper": "gupshup", "ingest_token": SOURCE_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = admin(&server, "/v1/endpoints")
        .json(&json!({"url": receiver.url("/crash")}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let started = Instant::now();
    let mut accepted: Vec<String> = Vec::new();
    let step = EVENTS / (KILLS + 1);
    for round in 0..=KILLS {
        let from = round * step;
        let to = if round == KILLS { EVENTS } else { from + step };
        let arrived_before = receiver.count();
        accepted.extend(ingest(&client, &server.base, &callbacks, from, to).await);
        if round < KILLS {
            // Mid-delivery, by construction: this server's attempts reach
            // the receiver and wait there for an answer that never comes.
            receiver
                .wait_for(arrived_before + 1, Duration::from_secs(120))
                .await;
            server.kill();
            server = start(data_dir.path());
        }
    }
    receiver.release();
    let expected: HashSet<String> = accepted.iter().cloned().collect();
    assert!(
        expected.len() >= EVENTS - KILLS * CONCURRENCY,
        "only {} of {EVENTS} accepted",
        expected.len()
    );

    // Wait (bounded) until every accepted event has arrived.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (by_event, webhook_ids, total) = loop {
        let received = receiver.received();
        let mut by_event: HashMap<String, usize> = HashMap::new();
        let mut webhook_ids = HashSet::new();
        for request in &received {
            if let Ok(body) = serde_json::from_slice::<Value>(&request.body)
                && let Some(id) = body["id"].as_str()
            {
                *by_event.entry(id.to_owned()).or_default() += 1;
            }
            if let Some(id) = request.header("webhook-id") {
                webhook_ids.insert(id.to_owned());
            }
        }
        if expected.iter().all(|id| by_event.contains_key(id)) {
            break (by_event, webhook_ids, received.len());
        }
        if Instant::now() > deadline {
            let missing = expected
                .iter()
                .filter(|id| !by_event.contains_key(*id))
                .count();
            panic!(
                "{missing} of {} accepted events never arrived",
                expected.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let duplicates = total - webhook_ids.len();
    eprintln!(
        "delivery crash test: {} events accepted, {KILLS} SIGKILLs, {} requests received, {} distinct webhook-ids, {duplicates} duplicates, {:.1} s",
        expected.len(),
        total,
        webhook_ids.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(webhook_ids.len() >= expected.len());
    assert_eq!(
        by_event.len(),
        webhook_ids.len(),
        "one webhook-id per event and endpoint"
    );
    server.terminate(Duration::from_secs(20));
}

const KEYS: [&str; 4] = [
    "+15555550001",
    "+15555550002",
    "+15555550003",
    "+15555550004",
];

/// Publishes `per_key` events for each key, interleaved; returns their
/// (key, event id) in publish order.
async fn publish_round(
    client: &reqwest::Client,
    server: &ServerProcess,
    round: usize,
    per_key: usize,
) -> Vec<(String, String)> {
    let mut published = Vec::new();
    for i in 0..per_key {
        for key in KEYS {
            let response = client
                .post(server.url("/v1/events"))
                .bearer_auth(ADMIN_TOKEN)
                .json(&json!({
                    "event_type": "status", "channel": "sms", "channel_value": key,
                    "status": {"status": "delivered"},
                    "reference": {"vendor_message_id": format!("k-{round}-{i}-{key}")}
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
            let body: Value = response.json().await.unwrap();
            let id = body["events"][0]["id"].as_str().unwrap().to_owned();
            published.push((key.to_owned(), id));
        }
    }
    published
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_mid_delivery_lose_no_key_queue_and_reorder_no_key() {
    let data_dir = tempfile::tempdir().unwrap();
    let receiver = TestReceiver::start().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut server = start(data_dir.path());
    let created = client
        .post(server.url("/v1/endpoints"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"url": receiver.url("/keyed"), "ordering": {"mode": "key"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut published = Vec::new();
    for round in 0..KILLS {
        // Each kill lands mid-delivery: the receiver holds its answers, so
        // key heads wait for one and the rest of each key is queued.
        receiver.hold();
        published.extend(publish_round(&client, &server, round, 8).await);
        let deadline = Instant::now() + Duration::from_secs(120);
        while receiver.unanswered() == 0 {
            assert!(Instant::now() < deadline, "nothing in flight");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.kill();
        server = start(data_dir.path());
        // Some progress before the next kill.
        receiver.release();
        receiver
            .wait_for(receiver.count() + 2 * KEYS.len(), Duration::from_secs(120))
            .await;
    }
    receiver.release();
    // Every event arrives; per key, first arrivals follow publish order.
    let deadline = Instant::now() + Duration::from_secs(120);
    let first_arrivals = loop {
        let mut first_arrivals: Vec<String> = Vec::new();
        for request in receiver.received() {
            if let Ok(body) = serde_json::from_slice::<Value>(&request.body)
                && let Some(id) = body["id"].as_str()
                && !first_arrivals.iter().any(|seen| seen == id)
            {
                first_arrivals.push(id.to_owned());
            }
        }
        if first_arrivals.len() == published.len() {
            break first_arrivals;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events arrived",
            first_arrivals.len(),
            published.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for key in KEYS {
        let sent: Vec<&String> = published
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, id)| id)
            .collect();
        let arrived: Vec<&String> = first_arrivals
            .iter()
            .filter(|id| sent.contains(id))
            .collect();
        assert_eq!(arrived, sent, "key {key} in publish order");
    }
    eprintln!(
        "keyed crash test: {} events, {KILLS} SIGKILLs, {} requests received",
        published.len(),
        receiver.count()
    );
    server.terminate(Duration::from_secs(20));
}
