//! The ranges a resolved [`ServeConfig`] must keep, checked once at start.
//! A failure names the setting; [`super::layers`] adds where it was set.

use super::ServeConfig;
use super::error::Invalid;
use crate::runtime::{Limits, RuntimeConfig};

/// The smallest compile memory limit taken: below it even an empty
/// component cannot be compiled.
const MIN_COMPILE_MEMORY_BYTES: u64 = 16 << 20;

impl ServeConfig {
    /// The first setting out of its range, if any.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        let invalid = |field, detail: &str| {
            Err(Invalid {
                field,
                detail: detail.to_owned(),
            })
        };
        if let Some(token) = &self.admin_token
            && token.expose().len() < 16
        {
            return invalid("admin_token", "must be at least 16 characters");
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes", "must be at least 1024");
        }
        if self.max_ingest_bytes < 1024 {
            return invalid("max_ingest_bytes", "must be at least 1024");
        }
        if self.plugin_timeout_ms == 0 {
            return invalid("plugin_timeout_ms", "must be more than 0");
        }
        if self.plugin_memory_bytes > RuntimeConfig::DEFAULT_MAX_MEMORY_BYTES {
            return invalid("plugin_memory_bytes", "must be at most 536870912 (512 MiB)");
        }
        if let Err(error) = crate::outbound::AddressPolicy::from_allowlist(&self.outbound_allowlist)
        {
            return invalid("outbound_allowlist", &error.to_string());
        }
        if self.delivery_workers == 0 {
            return invalid("delivery_workers", "must be more than 0");
        }
        if self.delivery_timeout_ms == 0 {
            return invalid("delivery_timeout_ms", "must be more than 0");
        }
        if self.retention_sweep_secs == 0 {
            return invalid("retention_sweep_secs", "must be more than 0");
        }
        if !(self.clock_scale >= 1.0 && self.clock_scale <= 1_000_000.0) {
            return invalid("clock_scale", "must be between 1 and 1000000");
        }
        if self.max_instances == 0 {
            return invalid("max_instances", "must be more than 0");
        }
        if self.plugin_lane_calls == 0 {
            return invalid("plugin_lane_calls", "must be more than 0");
        }
        if !(1..=600_000).contains(&self.plugin_queue_wait_ms) {
            return invalid("plugin_queue_wait_ms", "must be between 1 and 600000");
        }
        if self.block_timeout_ms == 0 {
            return invalid("block_timeout_ms", "must be more than 0");
        }
        if self.block_max_response_bytes < 1024 {
            return invalid("block_max_response_bytes", "must be at least 1024");
        }
        if !(1..=Limits::MAX_EVENTS).contains(&self.plugin_max_events) {
            return invalid("plugin_max_events", "must be between 1 and 100000");
        }
        if !(1..=Limits::MAX_HTTP_REQUESTS).contains(&self.block_max_requests) {
            return invalid("block_max_requests", "must be between 1 and 1000");
        }
        if !(1..=3_600_000).contains(&self.compile_timeout_ms) {
            return invalid("compile_timeout_ms", "must be between 1 and 3600000");
        }
        if self.compile_memory_bytes < MIN_COMPILE_MEMORY_BYTES {
            return invalid("compile_memory_bytes", "must be at least 16777216 (16 MiB)");
        }
        if !(1..=64).contains(&self.compile_concurrency) {
            return invalid("compile_concurrency", "must be between 1 and 64");
        }
        if self.max_plugin_functions == 0 {
            return invalid("max_plugin_functions", "must be more than 0");
        }
        if self.max_plugin_code_bytes < 1024 {
            return invalid("max_plugin_code_bytes", "must be at least 1024");
        }
        if let Some(program) = &self.compile_program
            && !program.is_file()
        {
            return invalid(
                "compile_program",
                &format!("{} is not a file", program.display()),
            );
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return invalid("max_connections", "must be between 1 and 1000000");
        }
        for (field, ms) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if !(1..=3_600_000).contains(&ms) {
                return invalid(field, "must be between 1 and 3600000 (an hour)");
            }
        }
        if self.min_free_disk_bytes < 1 << 20 {
            return invalid("min_free_disk_bytes", "must be at least 1048576 (1 MiB)");
        }
        Ok(())
    }
}
