//! Per-call resource limits: the defaults (each argued where it is
//! defined), per-plugin overrides and their ceilings, and the memory limiter
//! that enforces the memory cap and records the peak.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The limits one plugin call runs under. (Read from text, a missing field
/// is its default.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wall-clock deadline of one call, in milliseconds.
    pub timeout_ms: u64,
    /// The most linear memory the guest may have, in bytes.
    pub memory_bytes: u64,
    /// The most bytes the guest may hand the host in one value: the returned
    /// events, body or data, and an outbound request body. A mapper's events
    /// count their structure too (see [`Limits::EVENT_BYTES`]).
    pub output_bytes: u64,
    /// The most bytes of log lines (and stdout/stderr) kept per call.
    pub log_bytes: u64,
    /// Fuel units per call; only enforced when the runtime meters fuel.
    pub fuel: Option<u64>,
    /// The most events one mapper call may return; a result with more is
    /// refused whole (nothing of it is stored).
    pub max_events: u64,
    /// The most HTTP requests one block run may ask the host to send. The
    /// embedder's [`HttpHandler`](super::HttpHandler) enforces it (the
    /// server's refuses every request past it at once, without sending or
    /// keeping it); the runtime only carries the number.
    pub max_http_requests: u64,
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
    /// Default events per mapper call: 5,000.
    ///
    /// The largest real batches are SendGrid's: its Event Webhook posts when
    /// a batch reaches 768 KB, about 2,200 of its ~350-byte events (3,000 of
    /// the smallest). Other vendors batch far less (Gupshup SMS at most 20,
    /// Brevo 500, eSputnik and Meta a handful). 5,000 leaves twice
    /// SendGrid's worst case, so no real callback is refused, while a
    /// hostile mapper's 100,000 events from a 50-byte callback (measured:
    /// ~1.2 GB of server memory while stored) is refused before anything is
    /// stored. Every stored event costs server memory and a write, so the
    /// cap is what bounds one call's cost; [`Limits::output_bytes`] (with
    /// [`Limits::EVENT_BYTES`] per event) bounds it too.
    pub const DEFAULT_MAX_EVENTS: u64 = 5_000;
    /// Default requests per block run: 50. A workflow block calls one or
    /// two resources (seed 001: a GET or a POST, maybe a token first); 50
    /// leaves room for a short paginated fetch, and bounds what one run can
    /// make the server send (10,000 requests in 0.8 s without it).
    pub const DEFAULT_MAX_HTTP_REQUESTS: u64 = 50;

    /// What one mapped event counts against [`Limits::output_bytes`]
    /// besides its text: its fixed fields and the canonical event's keys,
    /// id and timestamps the host stores for it (about 300 bytes of JSON).
    /// So a flood of empty events hits the output cap, not only the event
    /// cap.
    pub const EVENT_BYTES: u64 = 256;
    /// What one media item of an inbound message counts besides its text.
    pub const MEDIA_BYTES: u64 = 32;

    /// What a mapper may always return besides twice its callback, whatever
    /// its `output_bytes`: 64 KiB for the events' structure.
    pub const MAPPER_OUTPUT_HEADROOM: u64 = 64 << 10;

    /// Highest `timeout_ms` an override may set: 10 minutes.
    pub const MAX_TIMEOUT_MS: u64 = 600_000;
    /// Highest `output_bytes` an override may set: 64 MiB.
    pub const MAX_OUTPUT_BYTES: u64 = 64 << 20;
    /// Highest `log_bytes` an override may set: 16 MiB.
    pub const MAX_LOG_BYTES: u64 = 16 << 20;
    /// Highest `max_events` an override may set.
    pub const MAX_EVENTS: u64 = 100_000;
    /// Highest `max_http_requests` an override may set.
    pub const MAX_HTTP_REQUESTS: u64 = 1_000;

    /// The output cap of one mapper call given `input_bytes` of callback:
    /// `output_bytes`, but never less than twice the input plus
    /// [`Limits::MAPPER_OUTPUT_HEADROOM`]. Mappers commonly keep the
    /// vendor's payload in each event's `raw`, so a callback the server
    /// accepted (up to `max_ingest_bytes`) must be mappable: a limit of
    /// the server's own is never the vendor's fault.
    pub fn mapper_output_cap(&self, input_bytes: u64) -> u64 {
        self.output_bytes.max(
            input_bytes
                .saturating_mul(2)
                .saturating_add(Self::MAPPER_OUTPUT_HEADROOM),
        )
    }

    /// These limits with every field the override sets replaced.
    pub fn with_override(self, over: &LimitsOverride) -> Limits {
        Limits {
            timeout_ms: over.timeout_ms.unwrap_or(self.timeout_ms),
            memory_bytes: over.memory_bytes.unwrap_or(self.memory_bytes),
            output_bytes: over.output_bytes.unwrap_or(self.output_bytes),
            log_bytes: over.log_bytes.unwrap_or(self.log_bytes),
            fuel: over.fuel.or(self.fuel),
            max_events: over.max_events.unwrap_or(self.max_events),
            max_http_requests: over.max_http_requests.unwrap_or(self.max_http_requests),
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
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_http_requests: Self::DEFAULT_MAX_HTTP_REQUESTS,
        }
    }
}

/// Per-plugin changes to the default [`Limits`]; `None` keeps the default.
/// The server keeps one per plugin (`limits` in `PUT
/// /v1/plugins/{name}/settings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsOverride {
    /// Wall-clock deadline of one call, ms (1 to 600000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The most linear memory the guest may have, bytes (at most the
    /// runtime's ceiling, 512 MiB by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// The most bytes the guest may hand the host in one value (at most
    /// 64 MiB); see [`Limits::output_bytes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// The most bytes of log lines kept per call (at most 16 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_bytes: Option<u64>,
    /// Fuel units per call, when the runtime meters fuel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Mappers: the most events one call may return (1 to 100000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u64>,
    /// Blocks: the most HTTP requests one run may make (1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_http_requests: Option<u64>,
}

impl LimitsOverride {
    /// `self` with every field `over` sets replaced: `over` wins.
    pub fn and_then(self, over: &LimitsOverride) -> LimitsOverride {
        LimitsOverride {
            timeout_ms: over.timeout_ms.or(self.timeout_ms),
            memory_bytes: over.memory_bytes.or(self.memory_bytes),
            output_bytes: over.output_bytes.or(self.output_bytes),
            log_bytes: over.log_bytes.or(self.log_bytes),
            fuel: over.fuel.or(self.fuel),
            max_events: over.max_events.or(self.max_events),
            max_http_requests: over.max_http_requests.or(self.max_http_requests),
        }
    }

    /// Checks every field that is set: at least 1 and at most its ceiling
    /// (the `Limits::MAX_*` constants; `memory_bytes` is checked against the
    /// runtime's ceiling when the plugin loads).
    pub fn validate(&self) -> Result<(), LimitError> {
        let fields = [
            ("timeout_ms", self.timeout_ms, Some(Limits::MAX_TIMEOUT_MS)),
            ("memory_bytes", self.memory_bytes, None),
            (
                "output_bytes",
                self.output_bytes,
                Some(Limits::MAX_OUTPUT_BYTES),
            ),
            ("log_bytes", self.log_bytes, Some(Limits::MAX_LOG_BYTES)),
            ("fuel", self.fuel, None),
            ("max_events", self.max_events, Some(Limits::MAX_EVENTS)),
            (
                "max_http_requests",
                self.max_http_requests,
                Some(Limits::MAX_HTTP_REQUESTS),
            ),
        ];
        for (field, value, max) in fields {
            let Some(value) = value else { continue };
            if value == 0 {
                return Err(LimitError {
                    field,
                    detail: "must be at least 1".to_owned(),
                });
            }
            if let Some(max) = max
                && value > max
            {
                return Err(LimitError {
                    field,
                    detail: format!("must be at most {max}"),
                });
            }
        }
        Ok(())
    }
}

/// Why a [`LimitsOverride`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limits.{field}: {detail}")]
pub struct LimitError {
    /// The limit's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub detail: String,
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
        assert_eq!(limits.max_events, 5_000);
        assert_eq!(limits.max_http_requests, 50);
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
        assert_eq!(limits.max_events, Limits::DEFAULT_MAX_EVENTS);
        assert_eq!(limits.max_http_requests, Limits::DEFAULT_MAX_HTTP_REQUESTS);
        let caps = LimitsOverride {
            max_events: Some(10),
            max_http_requests: Some(3),
            ..LimitsOverride::default()
        };
        let limits = Limits::default().with_override(&caps);
        assert_eq!((limits.max_events, limits.max_http_requests), (10, 3));
        assert_eq!(limits.timeout_ms, Limits::DEFAULT_TIMEOUT_MS);
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
        let caps: LimitsOverride =
            serde_json::from_str(r#"{"max_events": 20000, "max_http_requests": 5}"#).unwrap();
        assert_eq!(caps.max_events, Some(20_000));
        assert_eq!(caps.max_http_requests, Some(5));
        // Unset fields are left out when kept or shown.
        assert_eq!(
            serde_json::to_string(&caps).unwrap(),
            r#"{"max_events":20000,"max_http_requests":5}"#
        );
    }

    #[test]
    fn a_later_override_wins_field_by_field() {
        let server = LimitsOverride {
            timeout_ms: Some(30_000),
            max_events: Some(7),
            ..LimitsOverride::default()
        };
        let plugin = LimitsOverride {
            max_events: Some(9),
            max_http_requests: Some(2),
            ..LimitsOverride::default()
        };
        let merged = server.and_then(&plugin);
        assert_eq!(merged.timeout_ms, Some(30_000));
        assert_eq!(merged.max_events, Some(9));
        assert_eq!(merged.max_http_requests, Some(2));
        assert_eq!(merged.memory_bytes, None);
    }

    #[test]
    fn overrides_are_checked_against_zero_and_the_ceilings() {
        assert_eq!(LimitsOverride::default().validate(), Ok(()));
        let ok = LimitsOverride {
            max_events: Some(Limits::MAX_EVENTS),
            max_http_requests: Some(1),
            timeout_ms: Some(Limits::MAX_TIMEOUT_MS),
            ..LimitsOverride::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let zero = LimitsOverride {
            max_http_requests: Some(0),
            ..LimitsOverride::default()
        };
        let error = zero.validate().unwrap_err();
        assert_eq!(error.field, "max_http_requests");
        assert_eq!(
            error.to_string(),
            "limits.max_http_requests: must be at least 1"
        );
        let high = LimitsOverride {
            max_events: Some(Limits::MAX_EVENTS + 1),
            ..LimitsOverride::default()
        };
        assert_eq!(
            high.validate().unwrap_err().to_string(),
            "limits.max_events: must be at most 100000"
        );
        let output = LimitsOverride {
            output_bytes: Some(Limits::MAX_OUTPUT_BYTES + 1),
            ..LimitsOverride::default()
        };
        assert_eq!(output.validate().unwrap_err().field, "output_bytes");
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
