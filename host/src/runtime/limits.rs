//! Per-call resource limits: the defaults, per-plugin overrides and the
//! memory limiter that enforces the memory cap and records the peak.

use serde::{Deserialize, Serialize};

/// The limits one plugin call runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock deadline of one call, in milliseconds.
    pub timeout_ms: u64,
    /// The most linear memory the guest may have, in bytes.
    pub memory_bytes: u64,
    /// The most bytes the guest may hand the host in one value: the returned
    /// events, body or data, and an outbound request body.
    pub output_bytes: u64,
    /// The most bytes of log lines (and stdout/stderr) kept per call.
    pub log_bytes: u64,
    /// Fuel units per call; only enforced when the runtime meters fuel.
    pub fuel: Option<u64>,
}

impl Limits {
    /// Default wall-clock deadline: one second.
    pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
    /// Default memory cap: 64 MiB.
    pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;
    /// Default output cap: 4 MiB.
    pub const DEFAULT_OUTPUT_BYTES: u64 = 4 << 20;
    /// Default log cap: 64 KiB.
    pub const DEFAULT_LOG_BYTES: u64 = 64 << 10;

    /// These limits with every field the override sets replaced.
    pub fn with_override(self, over: &LimitsOverride) -> Limits {
        Limits {
            timeout_ms: over.timeout_ms.unwrap_or(self.timeout_ms),
            memory_bytes: over.memory_bytes.unwrap_or(self.memory_bytes),
            output_bytes: over.output_bytes.unwrap_or(self.output_bytes),
            log_bytes: over.log_bytes.unwrap_or(self.log_bytes),
            fuel: over.fuel.or(self.fuel),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout_ms: Self::DEFAULT_TIMEOUT_MS,
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            output_bytes: Self::DEFAULT_OUTPUT_BYTES,
            log_bytes: Self::DEFAULT_LOG_BYTES,
            fuel: None,
        }
    }
}

/// Per-plugin changes to the default [`Limits`]; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsOverride {
    /// See [`Limits::timeout_ms`].
    pub timeout_ms: Option<u64>,
    /// See [`Limits::memory_bytes`].
    pub memory_bytes: Option<u64>,
    /// See [`Limits::output_bytes`].
    pub output_bytes: Option<u64>,
    /// See [`Limits::log_bytes`].
    pub log_bytes: Option<u64>,
    /// See [`Limits::fuel`].
    pub fuel: Option<u64>,
}

/// Enforces the memory cap of one store and remembers what happened, so a
/// trap caused by a refused allocation is reported as a memory limit and the
/// call's peak memory can be reported.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// Bytes of linear memory currently held, over all memories of the store.
    current: usize,
    peak: usize,
    refused: bool,
}

/// Table growth is not what the memory cap is about, but an unbounded table is
/// still host memory; this many elements is far beyond what real guests use.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl MemoryLimiter {
    pub(crate) fn new(limit_bytes: u64) -> Self {
        MemoryLimiter {
            limit: usize::try_from(limit_bytes).unwrap_or(usize::MAX),
            current: 0,
            peak: 0,
            refused: false,
        }
    }

    /// The most linear memory the store held at once.
    pub(crate) fn peak_bytes(&self) -> u64 {
        self.peak as u64
    }

    /// Whether a memory growth was refused because of the cap.
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.current - current.min(self.current) + desired;
        if total > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.current = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.timeout_ms, 1000);
        assert_eq!(limits.memory_bytes, 64 * 1024 * 1024);
        assert_eq!(limits.output_bytes, 4 * 1024 * 1024);
        assert_eq!(limits.log_bytes, 64 * 1024);
        assert_eq!(limits.fuel, None);
    }

    #[test]
    fn override_replaces_only_what_it_sets() {
        let over = LimitsOverride {
            timeout_ms: Some(50),
            fuel: Some(1_000),
            ..LimitsOverride::default()
        };
        let limits = Limits::default().with_override(&over);
        assert_eq!(limits.timeout_ms, 50);
        assert_eq!(limits.fuel, Some(1_000));
        assert_eq!(limits.memory_bytes, Limits::DEFAULT_MEMORY_BYTES);
        assert_eq!(limits.output_bytes, Limits::DEFAULT_OUTPUT_BYTES);
        assert_eq!(limits.log_bytes, Limits::DEFAULT_LOG_BYTES);
        assert_eq!(
            Limits::default().with_override(&LimitsOverride::default()),
            Limits::default()
        );
    }

    #[test]
    fn override_parses_from_partial_json_and_rejects_unknown_fields() {
        let over: LimitsOverride = serde_json::from_str(r#"{"memory_bytes": 1048576}"#).unwrap();
        assert_eq!(over.memory_bytes, Some(1 << 20));
        assert_eq!(over.timeout_ms, None);
        assert!(serde_json::from_str::<LimitsOverride>(r#"{"memory": 1}"#).is_err());
    }

    #[test]
    fn limiter_refuses_growth_past_the_cap_and_tracks_the_peak() {
        let mut limiter = MemoryLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 64 << 10, None).unwrap());
        assert!(limiter.memory_growing(64 << 10, 1 << 20, None).unwrap());
        assert!(!limiter.refused());
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(limiter.refused());
        assert_eq!(limiter.peak_bytes(), 1 << 20);
    }
}
