//! The runtime's typed errors: why a component was refused at load time
//! ([`LoadError`]) and why a call produced no result ([`CallError`]). Every
//! call error names the plugin and version it came from.

use std::fmt;

use wasmhook_sdk::PluginError;

use super::activity::CallPhase;
use super::load::World;

/// Why a component was refused (or could not be prepared) at load time.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The upload is larger than the runtime accepts.
    #[error("component is {size} bytes, over the {limit}-byte size cap")]
    TooLarge {
        /// Size of the upload in bytes.
        size: u64,
        /// The cap in bytes.
        limit: u64,
    },
    /// The bytes do not start with the WebAssembly magic number.
    #[error("random bytes: not a WebAssembly binary")]
    NotWasm,
    /// A core module was uploaded where a component is needed.
    #[error(
        "core wasm module, not a component; build with --target wasm32-wasip2 \
         or wrap with wasm-tools component new"
    )]
    CoreModule,
    /// A precompiled wasmtime artifact was uploaded; only the host's own cache
    /// may hold precompiled code.
    #[error("precompiled wasmtime artifact refused: upload the component (.wasm) itself")]
    Precompiled,
    /// The component is malformed or failed to compile.
    #[error("invalid component: {detail}")]
    Invalid {
        /// What the validator or compiler said.
        detail: String,
    },
    /// The component exports none of the known world functions.
    #[error(
        "unknown world: component exports neither `map` (mapper), `render` (renderer) \
         nor `run` (block); it exports {}",
        list_or_nothing(.exports)
    )]
    UnknownWorld {
        /// What the component does export.
        exports: Vec<String>,
    },
    /// The component exports functions of more than one world.
    #[error("ambiguous world: component exports {}; a plugin targets exactly one world", .exports.join(", "))]
    AmbiguousWorld {
        /// The world functions it exports.
        exports: Vec<String>,
    },
    /// A world function has the wrong signature.
    #[error("export `{export}` does not match the {world} world: {detail}")]
    ExportType {
        /// The world the export name suggests.
        world: World,
        /// The export's name.
        export: String,
        /// What did not match.
        detail: String,
    },
    /// The component imports something the host does not give its world.
    #[error("unsatisfied import `{import}`: the host does not provide it to a {world}{hint}")]
    UnsatisfiedImport {
        /// The world of the component.
        world: World,
        /// The import's full name, e.g. `wasi:sockets/tcp@0.2.0`.
        import: String,
        /// Extra advice (starts with `; ` when present).
        hint: &'static str,
    },
    /// Linking failed for another reason (an import of the wrong type or version).
    #[error("cannot link the {world} component: {detail}")]
    Link {
        /// The world of the component.
        world: World,
        /// What the linker said.
        detail: String,
    },
    /// The component is over the compile budget (too many functions, too
    /// much code, ...); it was refused before anything compiled it.
    #[error("{detail}")]
    OverBudget {
        /// Which limit: `too_many_functions`, `code_too_large`,
        /// `function_too_large`, `too_many_modules`, `nesting_too_deep`.
        code: &'static str,
        /// The number found and the limit.
        detail: String,
    },
    /// Compiling ran past the compile timeout and was stopped.
    #[error(
        "compiling the component took longer than the {limit_ms} ms compile timeout \
         (`compile_timeout_ms`); the compiler was stopped"
    )]
    CompileTimeout {
        /// The timeout in milliseconds.
        limit_ms: u64,
    },
    /// Compiling needed more memory than the compile memory limit.
    #[error(
        "compiling the component needed more than the {limit_bytes}-byte compile memory limit \
         (`compile_memory_bytes`); the compiler was stopped"
    )]
    CompileMemory {
        /// The limit in bytes.
        limit_bytes: u64,
    },
    /// The compiler process failed for another reason.
    #[error("compiling the component failed: {detail}")]
    CompileFailed {
        /// What the compiler process said (an excerpt of its stderr) or how it ended.
        detail: String,
    },
    /// Every compile slot stayed busy for the whole wait; nothing was compiled.
    #[error(
        "no compile slot free within {waited_ms} ms ({concurrency} compile(s) at once, \
         `compile_concurrency`); retry later"
    )]
    CompileBusy {
        /// How long the upload waited for a slot.
        waited_ms: u64,
        /// How many compiles run at once.
        concurrency: u32,
    },
    /// The compiler program cannot be run or did not produce a usable
    /// artifact: a fault of the server's setup, not of the upload.
    #[error("the compiler `{program}` is unusable: {detail}")]
    CompilerUnavailable {
        /// The program run to compile (`compile_program`).
        program: std::path::PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A per-plugin limit is above what the runtime was configured to allow.
    #[error("limit `{field}` = {value} is above the runtime's maximum of {max}")]
    LimitTooHigh {
        /// The limit's name.
        field: &'static str,
        /// The requested value.
        value: u64,
        /// The maximum.
        max: u64,
    },
}

fn list_or_nothing(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items
            .iter()
            .map(|item| format!("`{item}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why building the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine could not be created.
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    /// The host functions could not be linked.
    #[error("cannot link host functions: {0}")]
    Linker(String),
    /// The artifact cache directory is unusable.
    #[error("cannot use cache dir {path}: {source}")]
    CacheDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The epoch ticker thread could not be started.
    #[error("cannot start the epoch ticker thread: {0}")]
    Ticker(std::io::Error),
    /// The plugin threads could not be started.
    #[error("cannot start the plugin threads: {0}")]
    Executor(std::io::Error),
}

/// A plugin's name and version, as the host knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PluginId {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
}

impl PluginId {
    /// A plugin id from a name and version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        PluginId {
            name: name.into(),
            version: version.into(),
        }
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// Why a plugin call produced no result. A guest failure is always one of
/// these values, never a crash of the host.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The guest trapped (panic, `unreachable`, stack overflow, ...).
    #[error("plugin {plugin}@{version} trapped: {message}")]
    Trap {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// What happened, with the panic message when there was one.
        message: String,
    },
    /// The call ran past its wall-clock deadline and was stopped there,
    /// whatever it was doing.
    #[error("plugin {plugin}@{version} timed out after {limit_ms} ms {during}")]
    Timeout {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The deadline in milliseconds.
        limit_ms: u64,
        /// Where the call was when the deadline passed.
        during: CallPhase,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("plugin {plugin}@{version} exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The cap in bytes.
        limit_bytes: u64,
    },
    /// The guest used all its fuel (only when fuel metering is on).
    #[error("plugin {plugin}@{version} ran out of fuel ({limit} units)")]
    OutOfFuel {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The fuel it was given.
        limit: u64,
    },
    /// The returned value is larger than the output cap.
    #[error(
        "plugin {plugin}@{version} returned {size} bytes, over the {limit}-byte output cap (the \
         plugin's `output_bytes` limit)"
    )]
    OutputTooLarge {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// Bytes returned.
        size: u64,
        /// The cap in bytes.
        limit: u64,
    },
    /// A mapper returned more events than its event cap allows; none of
    /// them is kept.
    #[error(
        "plugin {plugin}@{version} returned {count} events, over its cap of {limit} events per \
         call (raise `limits.max_events` in the plugin's settings to allow more)"
    )]
    TooManyEvents {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// Events returned.
        count: u64,
        /// The cap.
        limit: u64,
    },
    /// The guest returned an error value.
    #[error("plugin {plugin}@{version} failed: {error}")]
    Plugin {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The error the plugin returned.
        error: PluginError,
    },
    /// The guest returned something the host cannot use (e.g. text that
    /// should be JSON but is not).
    #[error("plugin {plugin}@{version} returned bad output: {detail}")]
    BadOutput {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// What was wrong.
        detail: String,
    },
    /// The plugin targets another world than the call needs.
    #[error("plugin {plugin}@{version} is a {actual}, not a {expected}")]
    WrongWorld {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The world the call needs.
        expected: World,
        /// The plugin's world.
        actual: World,
    },
    /// The call waited its whole bound in the fair queue without its turn
    /// (its lane, or every instance, stayed busy); the plugin code did not
    /// run. Retry later.
    #[error(
        "plugin {plugin}@{version} not run: no turn in lane `{lane}` within {waited_ms} ms \
         (its calls, or all calls, were busy); retry later"
    )]
    Overloaded {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// The lane the call was charged to.
        lane: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// The plugin could not be instantiated (for example the instance pool is
    /// exhausted); the plugin code did not run.
    #[error("plugin {plugin}@{version} could not be instantiated: {detail}")]
    Instantiate {
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
        /// What wasmtime said.
        detail: String,
    },
}

impl CallError {
    /// The name and version of the plugin that failed.
    pub fn plugin_id(&self) -> PluginId {
        let (plugin, version) = match self {
            CallError::Trap {
                plugin, version, ..
            }
            | CallError::Timeout {
                plugin, version, ..
            }
            | CallError::MemoryLimit {
                plugin, version, ..
            }
            | CallError::OutOfFuel {
                plugin, version, ..
            }
            | CallError::OutputTooLarge {
                plugin, version, ..
            }
            | CallError::TooManyEvents {
                plugin, version, ..
            }
            | CallError::Plugin {
                plugin, version, ..
            }
            | CallError::BadOutput {
                plugin, version, ..
            }
            | CallError::WrongWorld {
                plugin, version, ..
            }
            | CallError::Overloaded {
                plugin, version, ..
            }
            | CallError::Instantiate {
                plugin, version, ..
            } => (plugin, version),
        };
        PluginId::new(plugin.clone(), version.clone())
    }
}

/// Renders a wasmtime error with its whole cause chain on one line.
pub(crate) fn chain_message(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
