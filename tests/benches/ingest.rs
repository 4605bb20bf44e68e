//! Sustained ingest through the real server: `wasmhook serve` (the release
//! binary, its own process and runtime) with a gupshup source, driven over
//! loopback by a load generator that keeps `c` requests in flight, each a
//! distinct gupshup callback, for a fixed time per level; then the same
//! levels publishing events directly, `POST /v1/events` with batches of
//! events (each the event the gupshup callback maps to, its payload
//! included), the path a publisher with many events takes.
//!
//! `cargo bench -p wasmhook-tests --bench ingest` prints one line per mode
//! and concurrency level (1, 16, 64): for ingest, requests/s answered 202
//! (the events are on disk; one event per callback, so also events/s); for
//! publish, events/s and batch requests/s answered 202; both with p50/p99
//! latency per request and the server's CPU use — as a share of one core
//! and as CPU time per request (ingest) or per event (publish), the figure
//! that shows what a change saved even when other work shares the machine.
//! A last line per level compares publish's events/s with ingest's.
//! `BENCH_SECS` sets the seconds per level (default 10); `BENCH_LEVELS` the
//! levels (e.g. `64` or `1,16,64`); `BENCH_MODES` the modes (`ingest`,
//! `publish`, default both); `BENCH_PUBLISH_BATCH` the events per publish
//! (default 50). `BENCH_SERVER` runs another `wasmhook` binary instead of
//! this build's (for paired before/after runs with one load generator; a
//! binary without batch publishing answers the publish mode 422).
//!
//! The generator is one thread of raw HTTP/1.1 keep-alive connections (one
//! per request in flight), so it takes as little as possible of the cores it
//! shares with the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use wasmhook_tests::bench::{cpu_seconds, env_or, percentile_ms, server_binary};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::server::ADMIN_TOKEN;

const SOURCE: &str = "gupshup-bench";
const INGEST_TOKEN: &str = "gupshup-bench-token-0123456789";
const WARM_UP: Duration = Duration::from_secs(1);

/// What one level of load came to.
struct Run {
    latencies: Vec<Duration>,
    failures: u64,
    elapsed: Duration,
}

/// What the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One gupshup callback per request to `/ingest/{source}`.
    Ingest,
    /// `POST /v1/events` with this many events per request.
    Publish { batch: usize },
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Ingest => "ingest",
            Mode::Publish { .. } => "publish",
        }
    }

    /// Events stored per request answered 202.
    fn events_per_request(self) -> usize {
        match self {
            Mode::Ingest => 1,
            Mode::Publish { batch } => batch,
        }
    }
}

fn main() {
    let seconds: u64 = env_or("BENCH_SECS", 10);
    let levels: Vec<usize> = std::env::var("BENCH_LEVELS")
        .ok()
        .map(|text| {
            text.split(',')
                .map(|level| level.trim().parse().expect("BENCH_LEVELS: numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![1, 16, 64]);
    let batch: usize = env_or("BENCH_PUBLISH_BATCH", 50);
    let modes: Vec<Mode> = std::env::var("BENCH_MODES")
        .unwrap_or_else(|_| "ingest,publish".to_owned())
        .split(',')
        .map(|mode| match mode.trim() {
            "ingest" => Mode::Ingest,
            "publish" => Mode::Publish { batch },
            other => panic!("BENCH_MODES: `ingest` or `publish`, got `{other}`"),
        })
        .collect();
    let data_dir = tempfile::tempdir().expect("temp data dir");
    let binary = server_binary(env!("CARGO_BIN_EXE_wasmhook-e2e"));
    let server = ServerProcess::start(&binary, data_dir.path(), &[]);
    create_source(&server);
    let callbacks = Arc::new(GupshupCallbacks::load());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    println!(
        "ingest: POST /ingest/{{source}}, gupshup WhatsApp status callbacks; publish: POST /v1/events, batches of {batch} of the events they map to; {seconds} s per level, server {} pid {}",
        binary.display(),
        server.pid()
    );
    let next_id = Arc::new(AtomicU64::new(0));
    // Events/s per mode and level, for the comparison.
    let mut rates: Vec<(Mode, usize, f64)> = Vec::new();
    for &mode in &modes {
        for &concurrency in &levels {
            let load = |duration| {
                runtime.block_on(drive(
                    &server,
                    mode,
                    &callbacks,
                    &next_id,
                    concurrency,
                    duration,
                ))
            };
            load(WARM_UP);
            let cpu_before = cpu_seconds(server.pid());
            let mut run = load(Duration::from_secs(seconds));
            let cpu = cpu_seconds(server.pid()) - cpu_before;
            run.latencies.sort();
            let accepted = run.latencies.len();
            let requests_per_second = accepted as f64 / run.elapsed.as_secs_f64();
            let events = accepted * mode.events_per_request();
            let events_per_second = events as f64 / run.elapsed.as_secs_f64();
            rates.push((mode, concurrency, events_per_second));
            let (p50, p99) = (
                percentile_ms(&run.latencies, 0.50),
                percentile_ms(&run.latencies, 0.99),
            );
            let cpu_share = cpu / run.elapsed.as_secs_f64() * 100.0;
            match mode {
                Mode::Ingest => println!(
                    "ingest  c={concurrency:<3} {requests_per_second:>8.0} requests/s  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  ({accepted} accepted, {} failed; server CPU {cpu_share:.0}%, {:.0} µs/request)",
                    run.failures,
                    cpu * 1e6 / accepted.max(1) as f64,
                ),
                Mode::Publish { batch } => println!(
                    "publish c={concurrency:<3} {events_per_second:>8.0} events/s  ({requests_per_second:.0} batches of {batch}/s)  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  ({accepted} accepted, {} failed; server CPU {cpu_share:.0}%, {:.1} µs/event)",
                    run.failures,
                    cpu * 1e6 / events.max(1) as f64,
                ),
            }
        }
    }
    for &concurrency in &levels {
        let rate = |wanted: &str| {
            rates
                .iter()
                .find(|(mode, level, _)| mode.name() == wanted && *level == concurrency)
                .map(|(_, _, rate)| *rate)
        };
        if let (Some(ingest), Some(publish)) = (rate("ingest"), rate("publish")) {
            println!(
                "c={concurrency:<3} publish {publish:.0} events/s vs ingest {ingest:.0} events/s: {:.2}x",
                publish / ingest.max(1.0)
            );
        }
    }
}

/// Keeps `concurrency` requests in flight for `duration`.
async fn drive(
    server: &ServerProcess,
    mode: Mode,
    callbacks: &Arc<GupshupCallbacks>,
    next_id: &Arc<AtomicU64>,
    concurrency: usize,
    duration: Duration,
) -> Run {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(worker(
                server.addr,
                mode,
                Arc::clone(callbacks),
                Arc::clone(next_id),
                deadline,
            ))
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
    run
}

/// One connection, one request at a time, until `deadline`: the latencies
/// of the 202s and the number of other answers.
async fn worker(
    addr: std::net::SocketAddr,
    mode: Mode,
    callbacks: Arc<GupshupCallbacks>,
    next_id: Arc<AtomicU64>,
    deadline: tokio::time::Instant,
) -> (Vec<Duration>, u64) {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let ingest_path = format!("/ingest/{SOURCE}");
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let mut latencies = Vec::new();
    let mut failures = 0;
    while tokio::time::Instant::now() < deadline {
        let builder = Request::builder()
            .method(Method::POST)
            .header("host", addr.to_string())
            .header("content-type", "application/json");
        let request = match mode {
            Mode::Ingest => {
                let message_id = format!("bench-{}", next_id.fetch_add(1, Ordering::Relaxed));
                builder
                    .uri(&ingest_path)
                    .header("x-wasmhook-token", INGEST_TOKEN)
                    .body(Full::new(Bytes::from(callbacks.body(&message_id))))
            }
            Mode::Publish { batch } => {
                let first = next_id.fetch_add(batch as u64, Ordering::Relaxed);
                builder
                    .uri("/v1/events")
                    .header("authorization", &admin)
                    .body(Full::new(Bytes::from(publish_batch(
                        &callbacks, first, batch,
                    ))))
            }
        }
        .expect("request");
        let sent = Instant::now();
        let response = sender.send_request(request).await.expect("send request");
        let status = response.status();
        let body = response.into_body().collect().await.expect("response body");
        if status == StatusCode::ACCEPTED {
            latencies.push(sent.elapsed());
        } else {
            failures += 1;
            if failures == 1 {
                eprintln!(
                    "answer {status}: {}",
                    String::from_utf8_lossy(&body.to_bytes())
                );
            }
        }
    }
    (latencies, failures)
}

/// A `POST /v1/events` body: `batch` distinct events, each the one a gupshup
/// callback maps to, with that callback as its `vendor_response`.
fn publish_batch(callbacks: &GupshupCallbacks, first_id: u64, batch: usize) -> String {
    let mut body = String::from("[");
    for n in 0..batch {
        if n > 0 {
            body.push(',');
        }
        let message_id = format!("bench-{}", first_id + n as u64);
        body.push_str(&format!(
            r#"{{"event_type":"status","channel":"whatsapp","channel_value":"918x98xx21x4","status":{{"status":"delivered","vendor_status":"delivered","timestamp":1672310923000}},"reference":{{"vendor_message_id":"{message_id}"}},"vendor_name":"gupshup","source":"{SOURCE}","vendor_response":{{"gupshup":{}}}}}"#,
            callbacks.body(&message_id)
        ));
    }
    body.push(']');
    body
}

fn create_source(server: &ServerProcess) {
    let response = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(server.url("/v1/sources"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({
            "name": SOURCE, "mapper": "gupshup", "config": {}, "ingest_token": INGEST_TOKEN,
        }))
        .send()
        .expect("POST /v1/sources");
    let status = response.status();
    assert_eq!(
        status.as_u16(),
        201,
        "creating the source: {}",
        response.text().unwrap_or_default()
    );
}
