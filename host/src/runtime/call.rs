//! One plugin call, the single path every world's calls take: admission
//! through the fair queue, then on the plugin threads a fresh store with the
//! call's limits, async instantiation and the call itself under a deadline
//! that holds whatever the guest is doing (running code yields and checks
//! it at every epoch tick; a wait in a host function is dropped at it), and
//! the translation of whatever went wrong into a [`CallError`] naming the
//! plugin and where it was stuck.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmhook_sdk::LogLevel;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::activity::{CallActivity, CallPhase};
use super::bindings::types;
use super::error::{CallError, chain_message};
use super::http_impl::HttpHandler;
use super::plugin::{Plugin, WorldPre};
use super::scheduler::Lane;
use super::state::{CallState, panic_message};

/// What one call cost and logged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    /// Wall-clock time from store creation to the end of the call.
    pub duration: Duration,
    /// How long the call waited for its turn in the fair queue.
    pub queued: Duration,
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

    pub(crate) fn failed(error: CallError) -> Self {
        CallOutcome {
            result: Err(error),
            stats: CallStats::default(),
        }
    }
}

/// What a call asks of its plugin's world, in the generated types.
pub(crate) enum Invocation {
    Map {
        callback: types::Callback,
        config: String,
    },
    Render(types::RenderRequest),
    Run {
        input: types::BlockInput,
        config: String,
    },
}

/// What the world function returned.
pub(crate) enum Returned {
    Mapped(types::Mapped),
    Rendered(types::Rendered),
    Data(String),
}

/// Checks and converts what the guest returned into the caller's type.
pub(crate) type Finish<R> = Box<dyn FnOnce(&Plugin, Returned) -> Result<R, CallError> + Send>;

/// Where in the call an error came from.
enum Failure {
    /// Wasmtime failed instantiating (or the start functions trapped).
    Instantiate(wasmtime::Error),
    /// The call trapped or was interrupted.
    Call(wasmtime::Error),
    /// The deadline passed while the guest waited in a host function.
    Stuck(CallPhase),
}

impl Plugin {
    /// Runs one call on the plugin threads, charged to `lane`.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        lane: &Lane,
        invocation: Invocation,
        http: Option<Arc<dyn HttpHandler>>,
        finish: Finish<R>,
    ) -> CallOutcome<R> {
        let plugin = self.clone();
        let lane = lane.clone();
        let ran = self
            .inner
            .shared
            .executor
            .run(async move { plugin.call_here(&lane, invocation, http, finish).await })
            .await;
        ran.unwrap_or_else(|error| CallOutcome::failed(self.host_failure(&error.to_string())))
    }

    /// [`Plugin::call`] for synchronous callers: blocks this thread.
    pub(crate) fn call_blocking<R: Send + 'static>(
        &self,
        lane: &Lane,
        invocation: Invocation,
        http: Option<Arc<dyn HttpHandler>>,
        finish: Finish<R>,
    ) -> CallOutcome<R> {
        let plugin = self.clone();
        let lane = lane.clone();
        let ran =
            self.inner.shared.executor.run_blocking(async move {
                plugin.call_here(&lane, invocation, http, finish).await
            });
        ran.unwrap_or_else(|| CallOutcome::failed(self.host_failure("the plugin threads stopped")))
    }

    /// The lane of a caller that names none: the plugin itself.
    pub(crate) fn own_lane(&self) -> Lane {
        Lane::new(format!("plugin:{}", self.inner.id.name))
    }

    async fn call_here<R>(
        &self,
        lane: &Lane,
        invocation: Invocation,
        http: Option<Arc<dyn HttpHandler>>,
        finish: Finish<R>,
    ) -> CallOutcome<R> {
        let inner = &self.inner;
        let queued_at = Instant::now();
        let admission = match inner.shared.scheduler.admit(lane).await {
            Ok(admission) => admission,
            Err(refused) => {
                return CallOutcome::failed(CallError::Overloaded {
                    plugin: inner.id.name.clone(),
                    version: inner.id.version.clone(),
                    lane: lane.to_string(),
                    waited_ms: refused.waited.as_millis() as u64,
                });
            }
        };
        let queued = queued_at.elapsed();
        let limits = &inner.limits;
        let start = Instant::now();
        let deadline = start + Duration::from_millis(limits.timeout_ms);
        let activity = Arc::new(CallActivity::default());
        let state = CallState::new(
            limits,
            Arc::clone(&inner.plugin_config),
            http,
            deadline,
            Arc::clone(&activity),
        );
        let mut store = Store::new(&inner.shared.engine, state);
        store.limiter(|state| &mut state.limiter);
        // At every tick a running guest gives its thread to the other calls
        // and, once past its deadline, is interrupted.
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        store.set_epoch_deadline(1);
        let fuel = inner
            .shared
            .config
            .fuel
            .then(|| limits.fuel.unwrap_or(u64::MAX));
        if let Some(fuel) = fuel {
            // Cannot fail: fuel metering is on in this engine.
            let _ = store.set_fuel(fuel);
        }

        let returned = {
            let work =
                std::pin::pin!(self.instantiate_and_invoke(&mut store, invocation, &activity));
            tokio::select! {
                biased;
                returned = work => returned,
                // Only a guest waiting in a host function gets here: one
                // running its own code is interrupted by the epoch callback.
                () = tokio::time::sleep_until(deadline.into()) => Err(Failure::Stuck(activity.get())),
            }
        };

        let duration = start.elapsed();
        let fuel_consumed = fuel.map(|fuel| fuel - store.get_fuel().unwrap_or(fuel));
        let stderr = store.data_mut().drain_console();
        let state = store.data_mut();
        let stats = CallStats {
            duration,
            queued,
            memory_peak_bytes: state.limiter.peak_bytes(),
            fuel_consumed,
            logs_dropped: state.logs.dropped,
            logs: std::mem::take(&mut state.logs.lines),
        };
        let result = match returned {
            Ok(Ok(value)) => finish(self, value),
            Ok(Err(error)) => Err(self.plugin_error(error)),
            Err(failure) => Err(self.classify(failure, store.data(), &activity, fuel, &stderr)),
        };
        // The store (the instance and its memory) goes before the place in
        // the queue is given to the next call.
        drop(store);
        drop(admission);
        CallOutcome { result, stats }
    }

    async fn instantiate_and_invoke(
        &self,
        store: &mut Store<CallState>,
        invocation: Invocation,
        activity: &CallActivity,
    ) -> Result<Result<Returned, types::PluginError>, Failure> {
        macro_rules! instantiate {
            ($pre:expr) => {{
                let instance = $pre
                    .instantiate_async(&mut *store)
                    .await
                    .map_err(Failure::Instantiate)?;
                activity.set(CallPhase::Guest);
                instance
            }};
        }
        let returned = match (&self.inner.pre, invocation) {
            (WorldPre::Mapper(pre), Invocation::Map { callback, config }) => {
                let instance = instantiate!(pre);
                instance
                    .call_map(&mut *store, &callback, &config)
                    .await
                    .map(|result| result.map(Returned::Mapped))
            }
            (WorldPre::Renderer(pre), Invocation::Render(request)) => {
                let instance = instantiate!(pre);
                instance
                    .call_render(&mut *store, &request)
                    .await
                    .map(|result| result.map(Returned::Rendered))
            }
            (WorldPre::Block(pre), Invocation::Run { input, config }) => {
                let instance = instantiate!(pre);
                instance
                    .call_run(&mut *store, &input, &config)
                    .await
                    .map(|result| result.map(Returned::Data))
            }
            // The typed entry points check the world before calling.
            _ => unreachable!("a call reached a plugin of another world"),
        };
        returned.map_err(Failure::Call)
    }

    /// Turns what went wrong into the call error that explains it best.
    fn classify(
        &self,
        failure: Failure,
        state: &CallState,
        activity: &CallActivity,
        fuel: Option<u64>,
        stderr: &str,
    ) -> CallError {
        let (plugin, version) = (self.inner.id.name.clone(), self.inner.id.version.clone());
        let limits = &self.inner.limits;
        let (instantiating, error) = match failure {
            Failure::Stuck(during) => {
                return CallError::Timeout {
                    plugin,
                    version,
                    limit_ms: limits.timeout_ms,
                    during,
                };
            }
            Failure::Instantiate(error) => (true, error),
            Failure::Call(error) => (false, error),
        };
        let trap = error.downcast_ref::<Trap>().copied();
        match trap {
            Some(Trap::Interrupt) => {
                return CallError::Timeout {
                    plugin,
                    version,
                    limit_ms: limits.timeout_ms,
                    during: activity.get(),
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
            None if instantiating => {
                return CallError::Instantiate {
                    plugin,
                    version,
                    detail: chain_message(&error),
                };
            }
            None => chain_message(&error),
        };
        CallError::Trap {
            plugin,
            version,
            message,
        }
    }

    /// The host's side of a call failed (its task panicked, the plugin
    /// threads are gone): the plugin code may not have run.
    fn host_failure(&self, detail: &str) -> CallError {
        CallError::Instantiate {
            plugin: self.inner.id.name.clone(),
            version: self.inner.id.version.clone(),
            detail: format!("the host could not run the call: {detail}"),
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
        self.check_output_under(size, self.inner.limits.output_bytes)
    }

    /// Refuses a returned value larger than `limit`.
    pub(crate) fn check_output_under(&self, size: u64, limit: u64) -> Result<(), CallError> {
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

/// `wasm trap: wasm `unreachable` instruction executed` without the prefix.
fn trap_text(trap: Trap) -> String {
    let text = trap.to_string();
    text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned()
}
