//! Per-call overhead of a mapper: fresh store, instantiate from the
//! pre-instantiated component, call, drop. Plain `harness = false` bench:
//!
//! ```text
//! WASMHOOK_BENCH_MAPPER=path/to/mapper.wasm cargo bench -p wasmhook --bench call_overhead
//! ```
//!
//! The input is a small JSON callback (`WASMHOOK_BENCH_BODY` to change it,
//! `WASMHOOK_BENCH_CALLS` for the count); prints mean, p50 and p99 per call.
//!
//! `WASMHOOK_BENCH_MAPPER` may list several components separated by `:` (two
//! builds of one mapper, say): their calls are then interleaved in rounds, so
//! that load from elsewhere on the machine affects every variant alike, and
//! each gets its own line.

use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook::runtime::{LimitsOverride, PluginId, Runtime, RuntimeConfig};
use wasmhook_sdk::Callback;

const WARMUP: usize = 200;
/// Calls of one variant before the next variant's turn.
const ROUND: usize = 500;

fn main() {
    let Some(paths) = std::env::var_os("WASMHOOK_BENCH_MAPPER") else {
        eprintln!("set WASMHOOK_BENCH_MAPPER to a mapper component to run this bench");
        return;
    };
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let paths: Vec<_> = std::env::split_paths(&paths).collect();
    let plugins: Vec<_> = paths
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).expect("read the mapper component");
            runtime
                .load(
                    PluginId::new("bench", "1"),
                    &bytes,
                    &LimitsOverride::default(),
                    &json!({}),
                )
                .expect("load the mapper")
        })
        .collect();
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

    for plugin in &plugins {
        for _ in 0..WARMUP {
            let _ = plugin.map_outcome(&callback, &config);
        }
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(calls); plugins.len()];
    let mut failures = vec![0; plugins.len()];
    let mut totals = vec![Duration::ZERO; plugins.len()];
    let mut done = 0;
    while done < calls {
        let round = ROUND.min(calls - done);
        for (index, plugin) in plugins.iter().enumerate() {
            let started = Instant::now();
            for _ in 0..round {
                let start = Instant::now();
                let outcome = plugin.map_outcome(&callback, &config);
                samples[index].push(start.elapsed());
                failures[index] += usize::from(outcome.result.is_err());
            }
            totals[index] += started.elapsed();
        }
        done += round;
    }
    for (index, samples) in samples.iter_mut().enumerate() {
        samples.sort();
        let percentile = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
        let name = if plugins.len() > 1 {
            format!("{}: ", paths[index].display())
        } else {
            String::new()
        };
        println!(
            "{name}{calls} calls ({} failed): mean {:?}  p50 {:?}  p99 {:?}  max {:?}",
            failures[index],
            totals[index] / calls as u32,
            percentile(0.5),
            percentile(0.99),
            samples[samples.len() - 1],
        );
    }
}
