//! The one wasmtime `Engine` of a runtime (async calls, pooling allocator,
//! epoch interruption, optional fuel) and the ticker thread that advances
//! its epoch: at every tick a running call yields its thread and checks its
//! wall-clock deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::error::{RuntimeError, chain_message};

/// How often the epoch advances: the time slice of a running call, and how
/// late (at most) its deadline fires.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(2);

/// How the engine is sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EngineSizing {
    /// Plugin instances that may be alive at once (concurrent calls).
    pub(crate) max_instances: u32,
    /// The largest memory any plugin may be given, in bytes.
    pub(crate) max_memory_bytes: u64,
    /// Whether to meter fuel.
    pub(crate) fuel: bool,
}

/// Builds the engine, with the pooling allocator when it can be set up and
/// the on-demand allocator (and a warning) when it cannot, e.g. when the
/// address space is limited by `ulimit -v`.
pub(crate) fn build_engine(sizing: EngineSizing) -> Result<Engine, RuntimeError> {
    let pooled = Engine::new(&engine_config(sizing, Some(pooling_config(sizing))));
    match pooled {
        Ok(engine) => Ok(engine),
        Err(error) => {
            tracing::warn!(
                error = %chain_message(&error),
                "pooling allocator unavailable; falling back to on-demand instance allocation"
            );
            Engine::new(&engine_config(sizing, None))
                .map_err(|error| RuntimeError::Engine(chain_message(&error)))
        }
    }
}

/// The engine a compile child process builds: the server's configuration
/// without the instance pool (a compiler instantiates nothing, and the pool
/// reserves far more address space than a compile memory limit allows).
/// The allocator is not part of what compiled code depends on, so its
/// artifacts load into the server's engine; the server checks the
/// compatibility hash all the same.
pub(crate) fn build_compile_engine(fuel: bool) -> Result<Engine, RuntimeError> {
    let sizing = EngineSizing {
        max_instances: 1,
        max_memory_bytes: 0,
        fuel,
    };
    Engine::new(&engine_config(sizing, None))
        .map_err(|error| RuntimeError::Engine(chain_message(&error)))
}

fn engine_config(sizing: EngineSizing, pooling: Option<PoolingAllocationConfig>) -> Config {
    let mut config = Config::new();
    // Calls are async (always possible in this wasmtime): a call waiting in
    // a host function (a sleep, a block's HTTP request) is a pending future
    // that its deadline can drop, and a running call yields at every epoch
    // tick so calls share the threads.
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(sizing.fuel);
    if let Some(pooling) = pooling {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    config
}

/// Linear memory kept resident (and reset by zeroing) per slot: a Rust
/// guest's 1 MiB shadow stack sits below its data, so a small call touches
/// pages up to just past 1 MiB.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Table bytes kept resident per slot.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;
/// Freed slots kept warm (resident, with their plugin's memory image mapped)
/// so the next call of the same plugin reuses one.
const MAX_WARM_SLOTS: u32 = 32;

/// Sizes the pool for `max_instances` live plugin instances. A Rust
/// `wasm32-wasip2` component has one linear memory and a handful of core
/// instances (main module plus the shims `wit-component` adds), so the pool
/// has one memory slot per instance, two table slots and eight core instances.
///
/// Each memory slot reserves address space (not RAM) for the default 4 GiB
/// reservation plus guard pages, which lets compiled code skip bounds checks:
/// 256 slots are about 1 TiB of the 128 TiB user address space. Resident
/// memory is only what guests touch, bounded by their memory caps (64 MiB by
/// default), and returned to the system when an instance is dropped beyond the
/// warm slots kept.
fn pooling_config(sizing: EngineSizing) -> PoolingAllocationConfig {
    let mut pooling = PoolingAllocationConfig::new();
    let instances = sizing.max_instances.max(1);
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances)
        .total_tables(instances.saturating_mul(2))
        // One fiber stack per running async call.
        .total_stacks(instances)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        .max_memory_size(usize::try_from(sizing.max_memory_bytes).unwrap_or(usize::MAX))
        // Reset a freed memory by zeroing only its dirty pages (found with
        // Linux's PAGEMAP_SCAN, kernel 6.7+; plain `madvise` elsewhere) instead
        // of unmapping them: the next call in the slot then takes no page
        // faults. This halves the per-call cost of a small plugin; the price
        // is up to KEEP_RESIDENT bytes of RSS per warm slot.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        .max_unused_warm_slots(instances.min(MAX_WARM_SLOTS));
    pooling
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        // A weak handle: the ticker must not be what keeps the engine alive.
        let weak = engine.weak();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wasmhook-epoch".into())
            .spawn(move || {
                // Deadlines are checked against the real clock at each
                // tick, so a tick that comes late on a busy machine delays a
                // deadline by that much, never brings it forward.
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    let Some(engine) = weak.upgrade() else { break };
                    engine.increment_epoch();
                }
            })
            .map_err(RuntimeError::Ticker)?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread wakes within one tick; a panic in it is not ours to
            // propagate while dropping.
            let _ = thread.join();
        }
    }
}
