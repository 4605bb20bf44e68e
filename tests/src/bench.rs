//! What the benchmark binaries share: settings read from the environment,
//! the server binary under test, percentiles of sorted latencies, a
//! process's CPU time, and the load generator (`load`).

pub mod load;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The setting `name` from the environment, else `default`; a value that
/// does not parse stops the benchmark, naming the variable.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got `{text}`")),
        Err(_) => default,
    }
}

/// The server the benchmark runs: `BENCH_SERVER` when set (another build's
/// `wasmhook`, for paired before/after runs with one load generator), else
/// `this_build` (the bench's own `CARGO_BIN_EXE_wasmhook-e2e`). A relative
/// `BENCH_SERVER` is taken from the repository root, where the README runs
/// the benchmarks (cargo runs them in `tests/`).
pub fn server_binary(this_build: &str) -> PathBuf {
    std::env::var_os("BENCH_SERVER").map_or_else(
        || PathBuf::from(this_build),
        |path| crate::repo_root().join(path),
    )
}

/// The `p` quantile (0.0–1.0, nearest rank) of `sorted` latencies in
/// milliseconds; NaN when there are none.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// User plus system CPU seconds of process `pid` so far (Linux `/proc`);
/// 0 where that is not available.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line, in clock ticks (100 per second
    // on Linux).
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 0.0), 1.0);
        assert_eq!(percentile_ms(&sorted, 0.5), 51.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&sorted, 1.0), 100.0);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }
}
