//! One mapper call end to end — fresh store, instantiate from the
//! pre-instantiated component, call, convert the result, drop — for the
//! gupshup and sendgrid mappers, next to the same mapping function compiled
//! natively (the plugin crates are ordinary Rust libraries too).
//!
//! `cargo bench -p wasmhook-tests --bench mapper_call` prints, per case, the
//! median and p99 µs per call of both and the wasm/native ratio of medians.
//! Set `BENCH_CALLS` to change the number of timed calls (default 20000).

use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook::runtime::{LimitsOverride, PluginId, Runtime, RuntimeConfig};
use wasmhook_sdk::{Callback, Config, Mapped, PluginError};
use wasmhook_tests::bench::{env_or, percentile_ms};
use wasmhook_tests::{fixtures_dir, plugin_bytes};

type NativeMapper = fn(Callback, Config) -> Result<Mapped, PluginError>;

struct Case {
    plugin: &'static str,
    sample: (&'static str, &'static str),
    native: NativeMapper,
}

const CASES: [Case; 3] = [
    Case {
        plugin: "gupshup",
        sample: ("gupshup", "secondary-wa-v2-delivered.json"),
        native: gupshup::map,
    },
    Case {
        plugin: "sendgrid",
        sample: ("sendgrid", "delivered.json"),
        native: sendgrid::map,
    },
    Case {
        plugin: "sendgrid",
        sample: ("sendgrid", "batch-all-event-types.json"),
        native: sendgrid::map,
    },
];

/// Times `calls` calls one by one after a warm-up, returning sorted samples.
fn time_calls(calls: usize, mut call: impl FnMut()) -> Vec<Duration> {
    for _ in 0..calls / 10 {
        call();
    }
    let mut samples: Vec<Duration> = (0..calls)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples
}

/// The `p` quantile of `sorted` in microseconds.
fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    percentile_ms(sorted, p) * 1e3
}

fn main() {
    let calls: usize = env_or("BENCH_CALLS", 20_000);
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime starts");
    println!("mapper call, end to end ({calls} timed calls each)");
    println!(
        "{:<44} {:>12} {:>10} {:>12} {:>10} {:>8}",
        "case", "wasm p50 µs", "p99 µs", "native p50", "p99 µs", "ratio"
    );
    for case in CASES {
        let plugin = runtime
            .load(
                PluginId::new(case.plugin, "bench"),
                &plugin_bytes(case.plugin),
                &LimitsOverride::default(),
                &json!({}),
            )
            .expect("plugin loads");
        let (vendor, file) = case.sample;
        let body = std::fs::read(fixtures_dir(vendor).join(file)).expect("sample");
        let callback = Callback::json(body);
        let config = json!({});

        // Both sides must agree before their speed is worth comparing.
        let (from_wasm, _) = plugin.map(&callback, &config).expect("wasm maps");
        let native = (case.native)(callback.clone(), Config(config.clone())).expect("native maps");
        assert_eq!(from_wasm, native, "{file}: wasm and native disagree");

        let wasm = time_calls(calls, || {
            std::hint::black_box(plugin.map(&callback, &config).expect("wasm maps"));
        });
        let native = time_calls(calls, || {
            let result = (case.native)(callback.clone(), Config(config.clone()));
            std::hint::black_box(result.expect("native maps"));
        });
        let (wasm_p50, native_p50) = (percentile_us(&wasm, 0.5), percentile_us(&native, 0.5));
        println!(
            "{:<44} {:>12.1} {:>10.1} {:>12.1} {:>10.1} {:>7.1}x",
            format!(
                "{} {} ({} events)",
                case.plugin,
                file,
                from_wasm.events.len()
            ),
            wasm_p50,
            percentile_us(&wasm, 0.99),
            native_p50,
            percentile_us(&native, 0.99),
            wasm_p50 / native_p50
        );
    }
}
