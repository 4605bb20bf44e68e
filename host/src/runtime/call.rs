//! One plugin call: a fresh store with the call's limits, instantiation from
//! the pre-instantiated component, the call itself, and the translation of
//! whatever went wrong into a [`CallError`] naming the plugin.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmhook_sdk::LogLevel;
use wasmtime::{Store, Trap};

use super::bindings::types;
use super::error::{CallError, chain_message};
use super::http_impl::HttpHandler;
use super::plugin::Plugin;
use super::state::{CallState, panic_message};

/// What one call cost and logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    /// Wall-clock time from store creation to the end of the call.
    pub duration: Duration,
    /// The most linear memory the plugin held, in bytes.
    pub memory_peak_bytes: u64,
    /// Fuel used, when the runtime meters fuel.
    pub fuel_consumed: Option<u64>,
    /// Log lines (and stdout/stderr lines) dropped past the log cap.
    pub logs_dropped: u64,
    /// The log lines kept, in order; stdout lines are `info`, stderr `warn`.
    pub logs: Vec<(LogLevel, String)>,
}

/// A call's result together with its stats, which are worth having on
/// failure too (the logs often say why).
#[derive(Debug, Clone)]
pub struct CallOutcome<T> {
    /// The value, or why there is none.
    pub result: Result<T, CallError>,
    /// Time, memory, fuel and logs of the call.
    pub stats: CallStats,
}

impl<T> CallOutcome<T> {
    /// The value with its stats, or the error alone.
    pub fn into_result(self) -> Result<(T, CallStats), CallError> {
        self.result.map(|value| (value, self.stats))
    }
}

impl Plugin {
    /// Runs one call in a fresh store. `instantiate` and `invoke` are the
    /// world's generated bindings; `finish` checks and converts the value the
    /// guest returned.
    pub(crate) fn call<I, W, R>(
        &self,
        http: Option<Arc<dyn HttpHandler>>,
        instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<I>,
        invoke: impl FnOnce(
            &I,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<W, types::PluginError>>,
        finish: impl FnOnce(W) -> Result<R, CallError>,
    ) -> CallOutcome<R> {
        let inner = &self.inner;
        let limits = &inner.limits;
        let timeout = Duration::from_millis(limits.timeout_ms);
        let Some(_slot) = inner.shared.slots.acquire(Instant::now() + timeout) else {
            return CallOutcome {
                result: Err(CallError::Overloaded {
                    plugin: inner.id.name.clone(),
                    version: inner.id.version.clone(),
                    max_instances: inner.shared.config.max_instances,
                }),
                stats: CallStats::default(),
            };
        };
        let start = Instant::now();
        let deadline = start + timeout;
        let state = CallState::new(limits, Arc::clone(&inner.plugin_config), http, deadline);
        let mut store = Store::new(&inner.shared.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(inner.shared.ticker.epoch_delta(deadline));
        store.epoch_deadline_trap();
        let fuel = inner
            .shared
            .config
            .fuel
            .then(|| limits.fuel.unwrap_or(u64::MAX));
        if let Some(fuel) = fuel {
            // Cannot fail: fuel metering is on in this engine.
            let _ = store.set_fuel(fuel);
        }

        let returned = match instantiate(&mut store) {
            Ok(instance) => invoke(&instance, &mut store).map_err(|e| (Stage::Call, e)),
            Err(error) => Err((Stage::Instantiate, error)),
        };

        let duration = start.elapsed();
        let fuel_consumed = fuel.map(|fuel| fuel - store.get_fuel().unwrap_or(fuel));
        let stderr = store.data_mut().drain_console();
        let state = store.data_mut();
        let stats = CallStats {
            duration,
            memory_peak_bytes: state.limiter.peak_bytes(),
            fuel_consumed,
            logs_dropped: state.logs.dropped,
            logs: std::mem::take(&mut state.logs.lines),
        };
        let result = match returned {
            Ok(Ok(value)) => finish(value),
            Ok(Err(error)) => Err(self.plugin_error(error)),
            Err((stage, error)) => Err(self.classify(stage, &error, store.data(), fuel, &stderr)),
        };
        CallOutcome { result, stats }
    }

    /// Turns a wasmtime error into the call error that explains it best.
    fn classify(
        &self,
        stage: Stage,
        error: &wasmtime::Error,
        state: &CallState,
        fuel: Option<u64>,
        stderr: &str,
    ) -> CallError {
        let (plugin, version) = (self.inner.id.name.clone(), self.inner.id.version.clone());
        let limits = &self.inner.limits;
        let trap = error.downcast_ref::<Trap>().copied();
        match trap {
            Some(Trap::Interrupt) => {
                return CallError::Timeout {
                    plugin,
                    version,
                    limit_ms: limits.timeout_ms,
                };
            }
            Some(Trap::OutOfFuel) => {
                return CallError::OutOfFuel {
                    plugin,
                    version,
                    limit: fuel.unwrap_or_default(),
                };
            }
            _ => {}
        }
        // A refused memory growth surfaces as whatever the guest does when an
        // allocation fails (Rust aborts with `unreachable`), so the limiter's
        // record is what tells a memory limit apart from other traps.
        if state.limiter.refused() {
            return CallError::MemoryLimit {
                plugin,
                version,
                limit_bytes: limits.memory_bytes,
            };
        }
        let message = match trap {
            Some(Trap::StackOverflow) => {
                "stack overflow: the plugin recursed too deeply".to_owned()
            }
            Some(trap) => match panic_message(stderr) {
                Some(panic) => format!("{panic} ({})", trap_text(trap)),
                None => trap_text(trap),
            },
            None if stage == Stage::Instantiate => {
                return CallError::Instantiate {
                    plugin,
                    version,
                    detail: chain_message(error),
                };
            }
            None => chain_message(error),
        };
        CallError::Trap {
            plugin,
            version,
            message,
        }
    }

    fn plugin_error(&self, error: types::PluginError) -> CallError {
        if let Err(too_large) = self.check_output_size(error.message.len() as u64) {
            return too_large;
        }
        CallError::Plugin {
            plugin: self.inner.id.name.clone(),
            version: self.inner.id.version.clone(),
            error: error.into(),
        }
    }

    /// Refuses a returned value larger than the output cap.
    pub(crate) fn check_output_size(&self, size: u64) -> Result<(), CallError> {
        let limit = self.inner.limits.output_bytes;
        if size > limit {
            return Err(CallError::OutputTooLarge {
                plugin: self.inner.id.name.clone(),
                version: self.inner.id.version.clone(),
                size,
                limit,
            });
        }
        Ok(())
    }

    pub(crate) fn bad_output(&self, detail: String) -> CallError {
        CallError::BadOutput {
            plugin: self.inner.id.name.clone(),
            version: self.inner.id.version.clone(),
            detail,
        }
    }
}

/// Where in the call an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Instantiate,
    Call,
}

/// `wasm trap: wasm `unreachable` instruction executed` without the prefix.
fn trap_text(trap: Trap) -> String {
    let text = trap.to_string();
    text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned()
}
