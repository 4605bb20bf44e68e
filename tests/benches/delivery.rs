//! End-to-end delivery through the real server: vendor callbacks in (gupshup
//! through `/ingest`), signed webhooks out to receivers on loopback.
//!
//! `cargo bench -p wasmhook-tests --bench delivery` prints:
//! - throughput: `BENCH_EVENTS` (default 20000) events sent as fast as 32
//!   connections allow, timed until the receiver has every delivery, for 1
//!   endpoint and for 10 endpoints (each event to each): once as gupshup
//!   callbacks of one event each, and once as SendGrid batch callbacks of
//!   `BENCH_BATCH` (default 50) events each, as SendGrid sends them — there
//!   the ingest side costs little per event and the figure is the delivery
//!   engine's own;
//! - latency: callbacks paced at 1,000/s for `BENCH_SECS` (default 10)
//!   seconds to one endpoint, p50/p99 from sending the callback to the
//!   webhook's arrival.
//!
//! `BENCH_ONLY` runs some phases only: a comma-separated list of `single`,
//! `single10`, `batch`, `batch10`, `latency`.
//!
//! `BENCH_SERVER` runs another `wasmhook` binary instead of this build's
//! (paired before/after runs with one load generator).
//!
//! The server is the release binary in its own process; the load generator
//! and the receivers share this process and the machine's 2 cores with it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmhook_tests::bench::{env_or, percentile_ms, server_binary};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::ADMIN_TOKEN;

const TOKEN: &str = "bench-source-token-0123456789";

struct Bench {
    server: ServerProcess,
    client: reqwest::Client,
    callbacks: Arc<GupshupCallbacks>,
    _data_dir: tempfile::TempDir,
}

impl Bench {
    async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let server = ServerProcess::start(
            &server_binary(env!("CARGO_BIN_EXE_wasmhook-e2e")),
            data_dir.path(),
            &["--outbound-allowlist", "127.0.0.1/32"],
        );
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let bench = Bench {
            server,
            client,
            callbacks: Arc::new(GupshupCallbacks::load()),
            _data_dir: data_dir,
        };
        bench
            .admin(
                "/v1/sources",
                json!({"name": "gs", "mapper": "gupshup", "ingest_token": TOKEN}),
            )
            .await;
        bench
            .admin(
                "/v1/sources",
                json!({"name": "sg", "mapper": "sendgrid", "ingest_token": TOKEN}),
            )
            .await;
        bench
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(self.server.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    async fn endpoint(&self, receiver: &TestReceiver) {
        self.admin("/v1/endpoints", json!({"url": receiver.url("/bench")}))
            .await;
    }

    async fn send(&self, message_id: &str) {
        let response = self
            .client
            .post(self.server.url(&format!("/ingest/gs?token={TOKEN}")))
            .header("content-type", "application/json")
            .body(self.callbacks.body(message_id))
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), 202);
    }

    /// Sends one SendGrid callback of `size` events, message ids `{prefix}-{k}`.
    async fn send_batch(&self, prefix: &str, size: usize) {
        let response = self
            .client
            .post(self.server.url(&format!("/ingest/sg?token={TOKEN}")))
            .header("content-type", "application/json")
            .body(sendgrid_batch(prefix, size))
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), 202);
    }
}

/// A SendGrid batch callback of `size` `delivered` events, message ids
/// `{prefix}-{k}`.
fn sendgrid_batch(prefix: &str, size: usize) -> String {
    let events: Vec<Value> = (0..size)
        .map(|k| {
            json!({
                "email": "example@test.com",
                "timestamp": 1513299569,
                "event": "delivered",
                "sg_event_id": format!("{prefix}-{k}-event"),
                "sg_message_id": format!("{prefix}-{k}"),
                "response": "250 OK"
            })
        })
        .collect();
    Value::Array(events).to_string()
}

/// Sends `events` events over 32 connections and returns when all are
/// accepted: `batch` 1 as gupshup callbacks of one event, more as SendGrid
/// callbacks of `batch` events.
async fn blast(bench: &Arc<Bench>, prefix: &str, events: usize, batch: usize) {
    let callbacks = events.div_ceil(batch);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (bench, next, prefix) = (Arc::clone(bench), Arc::clone(&next), prefix.to_owned());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= callbacks {
                        return;
                    }
                    if batch > 1 {
                        let size = batch.min(events - i * batch);
                        bench.send_batch(&format!("{prefix}-{i}"), size).await;
                    } else {
                        bench.send(&format!("{prefix}-{i}")).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("sender");
    }
}

async fn wait_all(receivers: &[TestReceiver], each: usize, limit: Duration) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        if receivers.iter().all(|r| r.count() >= each) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "deliveries did not all arrive within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `batch` 1: gupshup callbacks of one event; more: SendGrid batches.
async fn throughput(endpoints: usize, events: usize, batch: usize) {
    let bench = Arc::new(Bench::start().await);
    let mut receivers = Vec::new();
    for _ in 0..endpoints {
        let receiver = TestReceiver::start().await;
        bench.endpoint(&receiver).await;
        receivers.push(receiver);
    }
    // Warm-up: plugins loaded, connections open.
    blast(&bench, "warm", 200, 1).await;
    wait_all(&receivers, 200, Duration::from_secs(60)).await;
    let started = Instant::now();
    blast(&bench, "tp", events, batch).await;
    let accepted = started.elapsed();
    let done = wait_all(&receivers, 200 + events, Duration::from_secs(600)).await;
    let elapsed = done - started;
    println!(
        "throughput  endpoints {endpoints:>2}  events {events:>6}  per callback {batch:>3}  ingest {:>7.0} ev/s  delivered {:>7.0} ev/s  ({:>7.0} deliveries/s, {:.1} s)",
        events as f64 / accepted.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        (events * endpoints) as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

async fn latency(rate: u64, seconds: u64) {
    let bench = Arc::new(Bench::start().await);
    let receiver = TestReceiver::start().await;
    bench.endpoint(&receiver).await;
    blast(&bench, "warm", 200, 1).await;
    wait_all(
        std::slice::from_ref(&receiver),
        200,
        Duration::from_secs(60),
    )
    .await;
    let total = (rate * seconds) as usize;
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(total);
    let interval = Duration::from_micros(1_000_000 / rate);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let id = format!("lat-{i}");
        sent.insert(id.clone(), Instant::now());
        let bench = Arc::clone(&bench);
        tasks.push(tokio::spawn(async move { bench.send(&id).await }));
    }
    for task in tasks {
        task.await.expect("sender");
    }
    wait_all(
        std::slice::from_ref(&receiver),
        200 + total,
        Duration::from_secs(120),
    )
    .await;
    let mut latencies: Vec<Duration> = receiver
        .received()
        .iter()
        .filter_map(|request| {
            let body: Value = serde_json::from_slice(&request.body).ok()?;
            let id = body["reference"]["vendor_message_id"].as_str()?;
            let sent_at = sent.get(id)?;
            Some((receiver.started() + request.at).saturating_duration_since(*sent_at))
        })
        .collect();
    latencies.sort();
    println!(
        "latency     rate {rate} ev/s for {seconds} s  events {}  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        latencies.len(),
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

fn main() {
    let events: usize = env_or("BENCH_EVENTS", 20_000);
    let seconds: u64 = env_or("BENCH_SECS", 10);
    let batch: usize = env_or("BENCH_BATCH", 50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // `BENCH_ONLY` picks phases (e.g. `batch` or `single,latency`).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p.trim() == phase);
    runtime.block_on(async {
        if run("single") {
            throughput(1, events, 1).await;
        }
        if run("single10") {
            throughput(10, events / 4, 1).await;
        }
        if run("batch") {
            throughput(1, events, batch).await;
        }
        if run("batch10") {
            throughput(10, events / 4, batch).await;
        }
        if run("latency") {
            latency(1000, seconds).await;
        }
    });
}
