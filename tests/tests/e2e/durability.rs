//! A 202 from `/ingest` is a promise that the events are on disk: the real
//! binary is killed with SIGKILL the moment the last 202 arrives, or stopped
//! with SIGTERM, and every accepted event is there after a restart on the
//! same data dir.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::server::ADMIN_TOKEN;

const SOURCE: &str = "gupshup-durable";
const INGEST_TOKEN: &str = "gupshup-durable-token-0123456789";
/// Callbacks accepted before the SIGKILL.
const KILLED_AFTER: usize = 500;
/// Every request and wait of these tests is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(20);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
}

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .expect("client")
}

/// Starts the binary on `data_dir` off the async runtime (it blocks until
/// the server prints its address).
async fn start(data_dir: &Path) -> ServerProcess {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || ServerProcess::start(binary(), &data_dir, &[]))
        .await
        .expect("start the server")
}

async fn create_source(client: &Client, server: &ServerProcess) {
    let response = client
        .post(server.url("/v1/sources"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": SOURCE, "mapper": "gupshup", "config": {}, "ingest_token": INGEST_TOKEN}))
        .send()
        .await
        .expect("POST /v1/sources");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

/// Sends `count` distinct callbacks, at most 64 in flight, and returns the
/// event ids their 202s named; panics on any other answer.
async fn ingest(
    client: &Client,
    server: &ServerProcess,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let callbacks = GupshupCallbacks::load();
    let in_flight = Arc::new(Semaphore::new(64));
    let url = server.url(&format!("/ingest/{SOURCE}"));
    let mut requests = JoinSet::new();
    for n in 0..count {
        let request = client
            .post(&url)
            .header("x-wasmhook-token", INGEST_TOKEN)
            .header("content-type", "application/json")
            .body(callbacks.body(&format!("{prefix}-{n}")));
        let in_flight = Arc::clone(&in_flight);
        requests.spawn(async move {
            let _permit = in_flight.acquire_owned().await.expect("semaphore open");
            let response = request.send().await.expect("POST /ingest");
            let status = response.status();
            let body: Value = response.json().await.expect("JSON answer");
            assert_eq!(status, 202, "ingest answered {status}: {body}");
            assert_eq!(body["accepted"], 1, "one new event per callback: {body}");
            body["events"][0]["id"]
                .as_str()
                .expect("the 202 names the event id")
                .to_owned()
        });
    }
    let mut ids = Vec::with_capacity(count);
    while let Some(id) = requests.join_next().await {
        ids.push(id.expect("ingest task"));
    }
    ids
}

/// Every event id the server lists, following `next_cursor`.
async fn listed_event_ids(client: &Client, server: &ServerProcess) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = server.url(&format!("/v1/events?source={SOURCE}&limit=1000"));
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = client
            .get(&url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET /v1/events");
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.expect("JSON page");
        for event in page["data"].as_array().expect("data is an array") {
            ids.insert(event["id"].as_str().expect("event id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

fn assert_all_listed(accepted: &[String], listed: &HashSet<String>, when: &str) {
    let missing: Vec<&String> = accepted.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{when}: {} of {} accepted events are missing, e.g. {:?}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_event_survives_sigkill_right_after_its_202() {
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let client = client();
    let mut server = start(data_dir.path()).await;
    create_source(&client, &server).await;

    let accepted = tokio::time::timeout(TIMEOUT, ingest(&client, &server, "kill", KILLED_AFTER))
        .await
        .expect("the callbacks were answered in time");
    // The last 202 has just arrived: nothing gets a chance to flush.
    server.kill();
    assert_eq!(
        accepted.iter().collect::<HashSet<_>>().len(),
        KILLED_AFTER,
        "distinct event ids"
    );

    let server = start(data_dir.path()).await;
    let listed = listed_event_ids(&client, &server).await;
    assert_all_listed(&accepted, &listed, "after SIGKILL and restart");
    assert_eq!(
        listed.len(),
        KILLED_AFTER,
        "no event beyond the accepted ones"
    );
    // One by id as well: the store answers point reads, not only ranges.
    let response = client
        .get(server.url(&format!("/v1/events/{}", accepted[accepted.len() - 1])))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET /v1/events/{id}");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly_and_keeps_the_events() {
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let client = client();
    let mut server = start(data_dir.path()).await;
    create_source(&client, &server).await;
    let accepted = tokio::time::timeout(TIMEOUT, ingest(&client, &server, "term", 50))
        .await
        .expect("50 callbacks answered in time");

    let status = tokio::task::spawn_blocking(move || server.terminate(TIMEOUT))
        .await
        .expect("terminate task");
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0: {status}");

    let server = start(data_dir.path()).await;
    let listed = listed_event_ids(&client, &server).await;
    assert_all_listed(&accepted, &listed, "after SIGTERM and restart");
    // The source survived too: the restarted server accepts its callbacks.
    let more = tokio::time::timeout(TIMEOUT, ingest(&client, &server, "after", 5))
        .await
        .expect("5 callbacks answered in time");
    assert_eq!(more.len(), 5);
}
