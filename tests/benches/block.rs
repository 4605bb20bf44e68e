//! Workflow block invocations through the real server: `wasmhook serve`
//! (the release binary, its own process) with an `http-block` block whose
//! GET goes to a loopback "customer resource" in this process, next to the
//! same GET sent straight to the resource with reqwest.
//!
//! `cargo bench -p wasmhook-tests --bench block` prints, per concurrency
//! level (1 and 16 in flight): invocations/s and p50/p99 latency of
//! `POST /v1/blocks/{name}/invoke`, the same for the direct request, and the
//! overhead as ratios (block p50 / direct p50, direct rate / block rate)
//! and as the time a call through the block adds at p50.
//! Each level runs `BENCH_CALLS` calls (default 20000) or `BENCH_SECS`
//! seconds (default 10), whichever ends first, after a short warm-up;
//! `BENCH_LEVELS` sets the levels (e.g. `1,16`); `BENCH_SERVER` runs another
//! `wasmhook` binary instead of this build's (paired before/after runs).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};
use wasmhook_tests::bench::{env_or, percentile_ms, server_binary};
use wasmhook_tests::process::ServerProcess;
use wasmhook_tests::server::ADMIN_TOKEN;

const BLOCK: &str = "contacts_get_by_email";
const WARM_UP_CALLS: u64 = 200;

/// What one level of calls came to.
struct Run {
    latencies: Vec<Duration>,
    failures: u64,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies, p)
    }
}

/// One way of sending the request: through the block or straight.
#[derive(Clone)]
enum Target {
    /// `POST /v1/blocks/{BLOCK}/invoke` on the server.
    Block { invoke_url: String },
    /// `GET` the resource directly.
    Direct { url: String },
}

fn main() {
    let calls = env_or("BENCH_CALLS", 20_000);
    let seconds = env_or("BENCH_SECS", 10);
    let levels: Vec<usize> = std::env::var("BENCH_LEVELS")
        .ok()
        .map(|text| {
            text.split(',')
                .map(|level| level.trim().parse().expect("BENCH_LEVELS: numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![1, 16]);

    // The resource gets its own thread and runtime, as a separate service
    // would; the load generator runs on another.
    let resource = start_resource();
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let server = ServerProcess::start(
        &server_binary(env!("CARGO_BIN_EXE_wasmhook-e2e")),
        data_dir.path(),
        &[
            "--outbound-allowlist",
            "127.0.0.1/32",
            "--allow-plain-http-blocks",
        ],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let resource_url = format!("http://{resource}/contacts?email=ann%40example.com");
    runtime.block_on(create_block(&client, &server, resource));
    let block = Target::Block {
        invoke_url: server.url(&format!("/v1/blocks/{BLOCK}/invoke")),
    };
    let direct = Target::Direct { url: resource_url };

    println!(
        "block: http-block GET of a loopback resource answering [{{\"id\": 4217}}]; up to {calls} calls or {seconds} s per level, server pid {}",
        server.pid()
    );
    println!(
        "{:<5} {:>13} {:>9} {:>9}   {:>13} {:>9} {:>9}   {:>9} {:>10} {:>12}",
        "c",
        "block calls/s",
        "p50 ms",
        "p99 ms",
        "direct req/s",
        "p50 ms",
        "p99 ms",
        "p50 ratio",
        "rate ratio",
        "added p50 ms"
    );
    for concurrency in levels {
        let measure = |target: &Target| {
            runtime.block_on(drive(&client, target, concurrency, WARM_UP_CALLS, 60));
            runtime.block_on(drive(&client, target, concurrency, calls, seconds))
        };
        let through_block = measure(&block);
        let straight = measure(&direct);
        println!(
            "c={concurrency:<3} {:>13.0} {:>9.2} {:>9.2}   {:>13.0} {:>9.2} {:>9.2}   {:>8.1}x {:>9.1}x {:>12.2}   ({} + {} calls, {} + {} failed)",
            through_block.rate(),
            through_block.percentile_ms(0.50),
            through_block.percentile_ms(0.99),
            straight.rate(),
            straight.percentile_ms(0.50),
            straight.percentile_ms(0.99),
            through_block.percentile_ms(0.50) / straight.percentile_ms(0.50),
            straight.rate() / through_block.rate(),
            through_block.percentile_ms(0.50) - straight.percentile_ms(0.50),
            through_block.latencies.len(),
            straight.latencies.len(),
            through_block.failures,
            straight.failures,
        );
    }
}

/// The customer's resource: `GET /contacts?email=…` → `[{"id": 4217, …}]`,
/// on 127.0.0.1:0 in a thread of its own.
fn start_resource() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the resource");
    listener.set_nonblocking(true).expect("non-blocking");
    let addr = listener.local_addr().expect("resource address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("resource runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("resource listener");
            let app = axum::Router::new().route(
                "/contacts",
                get(
                    |Query(query): Query<std::collections::HashMap<String, String>>| async move {
                        let email = query.get("email").cloned().unwrap_or_default();
                        Json(json!([{"id": 4217, "email": email}]))
                    },
                ),
            );
            axum::serve(listener, app).await.expect("resource server");
        });
    });
    addr
}

async fn create_block(client: &reqwest::Client, server: &ServerProcess, resource: SocketAddr) {
    let response = client
        .post(server.url("/v1/blocks"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "name": BLOCK,
            "plugin": "http-block",
            "config": {
                "method": "GET",
                "url": format!("http://{resource}/contacts?email=${{email}}"),
                "response_format": "json",
            },
        }))
        .send()
        .await
        .expect("POST /v1/blocks");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status.as_u16(), 201, "creating the block: {body}");
}

/// Keeps `concurrency` calls in flight until `calls` are done or `seconds`
/// have passed.
async fn drive(
    client: &reqwest::Client,
    target: &Target,
    concurrency: usize,
    calls: u64,
    seconds: u64,
) -> Run {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, target, next) = (client.clone(), target.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                while next.fetch_add(1, Ordering::Relaxed) < calls && Instant::now() < deadline {
                    let sent = Instant::now();
                    if call(&client, &target).await {
                        latencies.push(sent.elapsed());
                    } else {
                        failures += 1;
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut run = Run {
        latencies: Vec::new(),
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        let (latencies, failures) = worker.await.expect("load worker");
        run.latencies.extend(latencies);
        run.failures += failures;
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    run
}

/// One call; true when it succeeded (the block's `ok`, or a 200 with the
/// contact). The first failure is printed.
async fn call(client: &reqwest::Client, target: &Target) -> bool {
    static REPORTED: std::sync::Once = std::sync::Once::new();
    let (ok, text) = match target {
        Target::Block { invoke_url } => {
            let response = client
                .post(invoke_url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&json!({"event": {"email": "ann@example.com"}}))
                .send()
                .await
                .expect("invoke");
            let text = response.text().await.unwrap_or_default();
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            (answer["data"][BLOCK][0]["id"] == 4217, text)
        }
        Target::Direct { url } => {
            let response = client.get(url).send().await.expect("direct GET");
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            (status.is_success() && answer[0]["id"] == 4217, text)
        }
    };
    if !ok {
        REPORTED.call_once(|| eprintln!("failed call: {text}"));
    }
    ok
}
