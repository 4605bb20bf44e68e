//! Per-call overhead of a mapper: fresh store, instantiate from the
//! pre-instantiated component, call, drop. Plain `harness = false` bench:
//!
//! ```text
//! WASMHOOK_BENCH_MAPPER=path/to/mapper.wasm cargo bench -p wasmhook --bench call_overhead
//! ```
//!
//! The input is a small JSON callback (`WASMHOOK_BENCH_BODY` to change it,
//! `WASMHOOK_BENCH_CALLS` for the count); prints mean, p50 and p99 per call.

use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook::runtime::{LimitsOverride, PluginId, Runtime, RuntimeConfig};
use wasmhook_sdk::Callback;

const WARMUP: usize = 200;

fn main() {
    let Some(path) = std::env::var_os("WASMHOOK_BENCH_MAPPER") else {
        eprintln!("set WASMHOOK_BENCH_MAPPER to a mapper component to run this bench");
        return;
    };
    let bytes = std::fs::read(&path).expect("read the mapper component");
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime
        .load(
            PluginId::new("bench", "1"),
            &bytes,
            &LimitsOverride::default(),
            &json!({}),
        )
        .expect("load the mapper");
    let body = std::env::var("WASMHOOK_BENCH_BODY").unwrap_or_else(|_| {
        r#"{"id":"m1","status":"DELIVERED","destination":"+15555555555","ts":1672310923}"#.into()
    });
    let callback = Callback {
        method: "POST".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        query: String::new(),
        content_type: Some("application/json".into()),
        body: body.into_bytes(),
    };
    let config = json!({});
    let calls: usize = std::env::var("WASMHOOK_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);

    for _ in 0..WARMUP {
        let _ = plugin.map_outcome(&callback, &config);
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(calls);
    let mut failures = 0;
    let started = Instant::now();
    for _ in 0..calls {
        let start = Instant::now();
        let outcome = plugin.map_outcome(&callback, &config);
        samples.push(start.elapsed());
        failures += usize::from(outcome.result.is_err());
    }
    let total = started.elapsed();
    samples.sort();
    let percentile = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "{calls} calls ({failures} failed): mean {:?}  p50 {:?}  p99 {:?}  max {:?}",
        total / calls as u32,
        percentile(0.5),
        percentile(0.99),
        samples[samples.len() - 1],
    );
}
