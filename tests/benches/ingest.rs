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
//! The generator (`wasmhook_tests::bench::load`) is one thread of raw
//! HTTP/1.1 keep-alive connections (one per request in flight), so it takes
//! as little as possible of the cores it shares with the server.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use wasmhook_tests::bench::load::{self, Mode, Target};
use wasmhook_tests::bench::{cpu_seconds, env_or, percentile_ms, server_binary};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::server::ADMIN_TOKEN;

const SOURCE: &str = "gupshup-bench";
const INGEST_TOKEN: &str = "gupshup-bench-token-0123456789";
const WARM_UP: Duration = Duration::from_secs(1);

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
        let target = Target {
            nodes: vec![server.addr],
            source: SOURCE.to_owned(),
            token: INGEST_TOKEN.to_owned(),
            mode,
            callbacks: Arc::clone(&callbacks),
            next_id: Arc::clone(&next_id),
        };
        for &concurrency in &levels {
            let load =
                |duration| runtime.block_on(load::drive(&target, concurrency, duration, None));
            load(WARM_UP);
            let cpu_before = cpu_seconds(server.pid());
            let run = load(Duration::from_secs(seconds));
            let cpu = cpu_seconds(server.pid()) - cpu_before;
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
