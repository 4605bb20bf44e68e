//! The plugin sandbox: compiles (or loads from the artifact cache), validates
//! and runs WebAssembly components under per-call limits. The only module that
//! knows wasmtime; what it exposes speaks the SDK's model types.
//!
//! ```no_run
//! use wasmhook::runtime::{LimitsOverride, PluginId, Runtime, RuntimeConfig};
//! use wasmhook_sdk::Callback;
//!
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let bytes = std::fs::read("gupshup.wasm")?;
//! let plugin = runtime.load(
//!     PluginId::new("gupshup", "1"),
//!     &bytes,
//!     &LimitsOverride::default(),
//!     &serde_json::json!({}),
//! )?;
//! let callback = Callback { method: "POST".into(), ..Callback::default() };
//! let (mapped, stats) = plugin.map(&callback, &serde_json::json!({}))?;
//! println!("{} events in {:?}", mapped.events.len(), stats.duration);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod activity;
mod bindings;
mod budget;
mod cache;
mod call;
mod compile;
mod console;
mod convert;
mod engine;
mod error;
mod executor;
mod host_impl;
mod http_impl;
mod limits;
mod linker;
mod load;
mod output;
mod plugin;
mod scheduler;
mod state;
mod wasi_io;

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::Engine;

pub use activity::CallPhase;
pub use budget::{Budget, Cost};
pub use call::{CallOutcome, CallStats};
pub use compile::{COMPILE_SUBCOMMAND, ChildFailure, ChildRequest, Compiler, compile_child};
pub use error::{CallError, LoadError, PluginId, RuntimeError};
pub use http_impl::{DenyAllHttp, HttpHandler, HttpSent};
pub use limits::{LimitError, Limits, LimitsOverride};
pub use load::{PluginInfo, World};
pub use output::{MAX_REPLY_BODY_BYTES, MAX_REPLY_CONTENT_TYPE_BYTES};
pub use plugin::Plugin;
pub use scheduler::{FairShare, Lane};

use cache::{ArtifactCache, sha256_hex};
use compile::CompileService;
use engine::{EngineSizing, EpochTicker};
use error::chain_message;
use executor::Executor;
use linker::Linkers;
use plugin::WorldPre;
use scheduler::Scheduler;

/// How a [`Runtime`] is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Limits of every call unless a plugin overrides them.
    pub default_limits: Limits,
    /// The largest component accepted, in bytes.
    pub max_component_bytes: u64,
    /// The largest memory cap a plugin may be given, in bytes; also the size
    /// of a memory slot in the instance pool.
    pub max_memory_bytes: u64,
    /// Plugin instances alive at once, i.e. calls running at once; further
    /// calls wait in the fair queue.
    pub max_instances: u32,
    /// Calls one lane (a source, an endpoint, a block) may run at once.
    pub per_lane_calls: u32,
    /// The longest a call waits in the fair queue before it is refused
    /// ([`CallError::Overloaded`]).
    pub max_queue_wait: std::time::Duration,
    /// Meter fuel (costs some speed); [`Limits::fuel`] is enforced only then.
    pub fuel: bool,
    /// Where and under which limits components are compiled.
    pub compiler: Compiler,
    /// What a component may hold to be compiled at all.
    pub budget: Budget,
}

impl RuntimeConfig {
    /// Default size cap of an upload: 20 MiB.
    pub const DEFAULT_MAX_COMPONENT_BYTES: u64 = 20 << 20;
    /// Default ceiling of per-plugin memory caps: 512 MiB.
    pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 512 << 20;
    /// Default number of concurrent plugin instances.
    pub const DEFAULT_MAX_INSTANCES: u32 = 256;
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            default_limits: Limits::default(),
            max_component_bytes: Self::DEFAULT_MAX_COMPONENT_BYTES,
            max_memory_bytes: Self::DEFAULT_MAX_MEMORY_BYTES,
            max_instances: Self::DEFAULT_MAX_INSTANCES,
            per_lane_calls: FairShare::DEFAULT_PER_LANE,
            max_queue_wait: FairShare::DEFAULT_MAX_WAIT,
            fuel: false,
            compiler: Compiler::InProcess,
            budget: Budget::default(),
        }
    }
}

/// Loads and runs plugins. Cheap to clone; one per process is plenty.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// What a runtime and every plugin it loaded share. The epoch ticker and
/// the plugin threads live here so they run for as long as any plugin can
/// still be called.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linkers: Linkers,
    /// The fair queue every call goes through.
    pub(crate) scheduler: Arc<Scheduler>,
    /// The threads calls run on.
    pub(crate) executor: Executor,
    cache: Option<ArtifactCache>,
    compile: CompileService,
    pub(crate) config: RuntimeConfig,
    /// Held for its `Drop`: the ticker runs while a plugin can be called.
    _ticker: EpochTicker,
}

/// A validated component, ready to instantiate.
struct Prepared {
    info: PluginInfo,
    pre: WorldPre,
    cache_hit: bool,
}

impl Runtime {
    /// Creates the engine, the host linkers, the cache directory, the epoch
    /// ticker and the plugin threads.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = engine::build_engine(EngineSizing {
            max_instances: config.max_instances,
            max_memory_bytes: config.max_memory_bytes,
            fuel: config.fuel,
        })?;
        let linkers = Linkers::new(&engine)?;
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| ArtifactCache::open(dir, &engine))
            .transpose()?;
        let compile = CompileService::new(
            config.compiler.clone(),
            &engine,
            config.fuel,
            config.cache_dir.as_deref(),
        );
        let ticker = EpochTicker::start(&engine)?;
        let scheduler = Scheduler::new(FairShare {
            max_running: config.max_instances,
            per_lane: config.per_lane_calls,
            max_wait: config.max_queue_wait,
        });
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linkers,
                scheduler,
                executor: Executor::start()?,
                cache,
                compile,
                config,
                _ticker: ticker,
            }),
        })
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.shared.config
    }

    /// Validates a component without keeping it: its world, imports, exports,
    /// size and hash, or why it would be refused.
    pub fn inspect(&self, bytes: &[u8]) -> Result<PluginInfo, LoadError> {
        self.prepare(bytes).map(|prepared| prepared.info)
    }

    /// Validates and compiles (or loads from the cache) a component and
    /// pre-instantiates it, ready for calls. `limits` adjusts the runtime's
    /// default limits; `plugin_config` is what the plugin's `plugin-config`
    /// import returns.
    pub fn load(
        &self,
        id: PluginId,
        bytes: &[u8],
        limits: &LimitsOverride,
        plugin_config: &serde_json::Value,
    ) -> Result<Plugin, LoadError> {
        let limits = self.shared.config.default_limits.with_override(limits);
        if limits.memory_bytes > self.shared.config.max_memory_bytes {
            return Err(LoadError::LimitTooHigh {
                field: "memory_bytes",
                value: limits.memory_bytes,
                max: self.shared.config.max_memory_bytes,
            });
        }
        let prepared = self.prepare(bytes)?;
        tracing::debug!(
            plugin = %id,
            world = %prepared.info.world,
            cache_hit = prepared.cache_hit,
            "plugin loaded"
        );
        Ok(Plugin::new(
            id,
            prepared.info,
            limits,
            plugin_config.to_string().into(),
            prepared.pre,
            prepared.cache_hit,
            Arc::clone(&self.shared),
        ))
    }

    fn prepare(&self, bytes: &[u8]) -> Result<Prepared, LoadError> {
        let shared = &self.shared;
        load::check_bytes(bytes, shared.config.max_component_bytes)?;
        // Before the cache and the compiler: what is over the budget is
        // refused whether or not it was compiled once under another budget.
        budget::measure(bytes, &shared.config.budget)?;
        let sha256 = sha256_hex(bytes);
        let cached = shared
            .cache
            .as_ref()
            .and_then(|cache| cache.lookup(&shared.engine, &sha256));
        let cache_hit = cached.is_some();
        let (component, artifact) = match cached {
            Some(component) => (component, None),
            None => {
                let compiled = shared
                    .compile
                    .compile(&shared.engine, &shared.executor, bytes)?;
                (compiled.component, compiled.artifact)
            }
        };

        let world = load::classify(&shared.engine, &component)?;
        let (imports, exports) = load::names(&shared.engine, &component);
        load::check_imports(world, imports.iter().map(String::as_str))?;
        let linker = match world {
            World::Block => &shared.linkers.block,
            World::Mapper | World::Renderer => &shared.linkers.plugin,
        };
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|error| LoadError::Link {
                world,
                detail: chain_message(&error),
            })?;
        let pre = WorldPre::new(world, instance_pre).map_err(|error| LoadError::ExportType {
            world,
            export: world.export().to_owned(),
            detail: chain_message(&error),
        })?;

        // Only components that passed every check are worth caching.
        if !cache_hit && let Some(cache) = &shared.cache {
            match &artifact {
                Some(artifact) => cache.store_artifact(&sha256, artifact),
                None => cache.store(&sha256, &component),
            }
        }
        drop(artifact);
        Ok(Prepared {
            info: PluginInfo {
                world,
                exports,
                imports,
                size_bytes: bytes.len() as u64,
                sha256,
            },
            pre,
            cache_hit,
        })
    }
}

#[cfg(test)]
mod tests;
