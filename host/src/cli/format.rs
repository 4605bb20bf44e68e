//! Human-readable rendering of a call's stats for the terminal.

use std::time::Duration;

use wasmhook_sdk::LogLevel;

use crate::runtime::CallStats;

/// `duration 123µs  memory 1.2 MiB  fuel n/a  logs 2 (dropped 0)`.
pub(super) fn stats_line(stats: &CallStats) -> String {
    let fuel = stats
        .fuel_consumed
        .map_or_else(|| "n/a".to_owned(), |fuel| fuel.to_string());
    format!(
        "duration {}  memory {}  fuel {fuel}  logs {} (dropped {})",
        duration(stats.duration),
        bytes(stats.memory_peak_bytes),
        stats.logs.len(),
        stats.logs_dropped,
    )
}

/// One plugin log line, `[warn] message`.
pub(super) fn log_line(level: LogLevel, message: &str) -> String {
    let level = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    format!("[{level}] {message}")
}

fn duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 10_000 {
        format!("{micros}µs")
    } else {
        format!("{:.1}ms", duration.as_secs_f64() * 1000.0)
    }
}

fn bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_line_reads_well() {
        let stats = CallStats {
            duration: Duration::from_micros(123),
            queued: Duration::ZERO,
            memory_peak_bytes: 1_258_291,
            fuel_consumed: None,
            logs_dropped: 0,
            logs: vec![],
        };
        assert_eq!(
            stats_line(&stats),
            "duration 123µs  memory 1.2 MiB  fuel n/a  logs 0 (dropped 0)"
        );
    }
}
