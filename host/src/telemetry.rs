//! Metrics the server records (Prometheus names and labels in one place) and
//! the process-wide recorder behind `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::runtime::CallError;

/// Plugin call latency histogram buckets, seconds: plugin calls take tens of
/// microseconds to the deadline.
const CALL_BUCKETS: [f64; 14] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.5, 1.0,
];

/// Delivery attempt latency histogram buckets, seconds: a loopback answer
/// in a millisecond to the attempt deadline (15 s by default).
const ATTEMPT_BUCKETS: [f64; 14] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

/// The process's Prometheus recorder, installed on first use. One per
/// process because the `metrics` macros write to a global recorder; servers
/// started in one test process share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(
                        "wasmhook_plugin_call_seconds".into(),
                    ),
                    &CALL_BUCKETS,
                )
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "wasmhook_delivery_attempt_seconds".into(),
                        ),
                        &ATTEMPT_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// One vendor callback's outcome at `/ingest/{source}`, under the
/// source's tenant (empty for a source that does not exist).
pub fn ingest(tenant: &str, source: &str, outcome: &'static str) {
    metrics::counter!(
        "wasmhook_ingest_total",
        "tenant" => tenant.to_owned(),
        "source" => source.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Events stored from `tenant`'s callbacks (a callback may carry many).
pub fn events_stored(tenant: &str, source: &str, count: u64) {
    metrics::counter!(
        "wasmhook_events_stored_total",
        "tenant" => tenant.to_owned(),
        "source" => source.to_owned()
    )
    .increment(count);
}

/// Accepted callbacks not kept for replays (the keeper's queue was full or
/// the store refused the write); their events are stored all the same.
pub fn callbacks_not_kept(count: u64) {
    metrics::counter!("wasmhook_callbacks_not_kept_total").increment(count);
}

/// Records of `kind` (`event`, `delivery`, `rejected`, `callback`) removed from
/// `tenant` for being past its retention.
pub fn records_expired(tenant: &str, kind: &'static str, count: u64) {
    metrics::counter!(
        "wasmhook_records_expired_total",
        "tenant" => tenant.to_owned(),
        "kind" => kind
    )
    .increment(count);
}

/// One plugin call: its latency, and its failure kind if it failed.
pub fn plugin_call(plugin: &str, duration: Duration, failure: Option<&CallError>) {
    metrics::histogram!("wasmhook_plugin_call_seconds", "plugin" => plugin.to_owned())
        .record(duration.as_secs_f64());
    if let Some(error) = failure {
        metrics::counter!(
            "wasmhook_plugin_failures_total",
            "plugin" => plugin.to_owned(),
            "kind" => call_error_code(error)
        )
        .increment(1);
    }
}

/// One delivery attempt's latency and whether it succeeded, under the
/// endpoint's tenant.
pub fn delivery_attempt(tenant: &str, endpoint: &str, duration: Duration, succeeded: bool) {
    metrics::histogram!(
        "wasmhook_delivery_attempt_seconds",
        "tenant" => tenant.to_owned(),
        "endpoint" => endpoint.to_owned()
    )
    .record(duration.as_secs_f64());
    let outcome = if succeeded { "success" } else { "failure" };
    metrics::counter!(
        "wasmhook_delivery_attempts_total",
        "tenant" => tenant.to_owned(),
        "endpoint" => endpoint.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// A delivery's state after an attempt.
pub fn delivery_outcome(
    tenant: &str,
    endpoint: &str,
    state: crate::domain::delivery::DeliveryState,
) {
    use crate::domain::delivery::DeliveryState;
    let outcome = match state {
        DeliveryState::Pending => "retrying",
        DeliveryState::Succeeded => "delivered",
        DeliveryState::Failed => "failed",
    };
    metrics::counter!(
        "wasmhook_deliveries_total",
        "tenant" => tenant.to_owned(),
        "endpoint" => endpoint.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Queue depth and the age of the oldest due delivery, sampled every few
/// seconds beside the delivery loop.
pub fn delivery_queue(depth: usize, oldest_due_age: Duration) {
    metrics::gauge!("wasmhook_delivery_queue_depth").set(depth as f64);
    metrics::gauge!("wasmhook_delivery_oldest_pending_seconds").set(oldest_due_age.as_secs_f64());
}

/// How this node's database connection pool stands (a store several nodes
/// share).
pub fn database_pool(pool: &crate::store::PoolFigures) {
    for (state, value) in [
        ("max", pool.max),
        ("open", pool.open),
        ("idle", pool.idle),
        ("waiting", pool.waiting),
    ] {
        metrics::gauge!("wasmhook_database_pool_connections", "state" => state).set(value as f64);
    }
}

/// This node took over `count` deliveries whose lease another node let run
/// out (it died, or stalled past the lease).
pub fn lease_takeovers(count: usize) {
    metrics::counter!("wasmhook_delivery_lease_takeovers_total").increment(count as u64);
}

/// A stable code for each way a plugin call fails, for API bodies and
/// metric labels.
pub fn call_error_code(error: &CallError) -> &'static str {
    match error {
        CallError::Trap { .. } => "plugin_trapped",
        CallError::Timeout { .. } => "plugin_timeout",
        CallError::MemoryLimit { .. } => "plugin_memory_limit",
        CallError::OutOfFuel { .. } => "plugin_out_of_fuel",
        CallError::OutputTooLarge { .. } => "plugin_output_too_large",
        CallError::TooManyEvents { .. } => "plugin_too_many_events",
        CallError::Plugin { .. } => "plugin_error",
        CallError::BadOutput { .. } => "plugin_bad_output",
        CallError::WrongWorld { .. } => "wrong_world",
        CallError::Overloaded { .. } => "overloaded",
        CallError::Instantiate { .. } => "plugin_instantiate_failed",
    }
}
