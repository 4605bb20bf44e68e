//! The server's configuration, layered: defaults in the binary, then a TOML
//! file (`--config`), then `WASMHOOK_*` environment variables, then flags
//! (clap merges the last two). Validated once at start, with messages that
//! name the file and field at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::domain::Secret;
use crate::runtime::{Budget, Compiler, FairShare, Limits, RuntimeConfig};

/// How `wasmhook serve` runs, after layering.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the store, the compile cache and the admin token live.
    pub data_dir: PathBuf,
    /// The admin token; generated and kept in the data dir when absent.
    pub admin_token: Option<Secret>,
    /// A folder of `<name>.wasm` components installed (as version 1 and
    /// active) when no plugin of that name exists yet.
    pub plugins_dir: Option<PathBuf>,
    /// Largest JSON request body, bytes.
    pub max_body_bytes: usize,
    /// Largest vendor callback body, bytes.
    pub max_ingest_bytes: usize,
    /// Largest plugin upload, bytes.
    pub max_plugin_bytes: u64,
    /// Default limits of every plugin call.
    pub plugin_limits: Limits,
    /// Concurrent plugin instances.
    pub max_instances: u32,
    /// Plugin calls one lane (a source, an endpoint, a block) may run at
    /// once; the rest wait in the fair queue.
    pub plugin_lane_calls: u32,
    /// The longest a plugin call waits in the fair queue before it is
    /// refused (a callback then gets 503 with `Retry-After`), ms.
    pub plugin_queue_wait_ms: u64,
    /// Outbound targets allowed despite being private/loopback (CIDRs or
    /// host names), for the delivery engine and blocks.
    pub outbound_allowlist: Vec<String>,
    /// Log as JSON lines instead of text.
    pub log_json: bool,
    /// Where compiled plugins are cached [default: DATA_DIR/cache].
    pub cache_dir: Option<PathBuf>,
    /// Attempts in flight at once over all endpoints.
    pub delivery_workers: usize,
    /// Deadline of one delivery attempt, ms.
    pub delivery_timeout_ms: u64,
    /// The delivery clock runs this many times faster than real time (1 in
    /// production; tests use it to run minutes of retries in seconds).
    pub clock_scale: f64,
    /// Let workflow blocks call plain `http://` URLs (seed 001 refuses them;
    /// tests and local setups allow them).
    pub allow_plain_http_blocks: bool,
    /// Deadline of one block run, its outbound requests included, ms.
    pub block_timeout_ms: u64,
    /// Largest response body a block's request may read, bytes; a larger
    /// one fails the request as too large.
    pub block_max_response_bytes: usize,
    /// Wall-clock limit of compiling one plugin, ms; also the longest an
    /// upload waits for a free compile slot.
    pub compile_timeout_ms: u64,
    /// Address-space limit of the process compiling one plugin, bytes.
    pub compile_memory_bytes: u64,
    /// Plugins compiled at once.
    pub compile_concurrency: u32,
    /// Most core functions a plugin may have to be compiled.
    pub max_plugin_functions: u64,
    /// Most bytes of code a plugin may have to be compiled.
    pub max_plugin_code_bytes: u64,
    /// The binary run (as `PROGRAM __compile-plugin`) to compile a plugin;
    /// `None` is this executable.
    pub compile_program: Option<PathBuf>,
    /// Compile on the calling thread of this process, without the compile
    /// limits (only the budget applies): for tests and embedders that have
    /// no server binary to run. Not a flag.
    pub compile_in_process: bool,
    /// Client connections open at once; lowered at start to fit the
    /// descriptor limit.
    pub max_connections: usize,
    /// The longest a client may take to send a request's line and headers
    /// once it started sending them, ms.
    pub header_timeout_ms: u64,
    /// The longest a request's body may take to arrive in full, ms.
    pub body_timeout_ms: u64,
    /// A connection with no request in flight and nothing sent is closed
    /// after this long, ms.
    pub idle_timeout_ms: u64,
    /// Writes are refused (503) while the store's filesystem has less free
    /// space than this, bytes; the server does not start with less.
    pub min_free_disk_bytes: u64,
}

impl ServeConfig {
    /// Default listen address.
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    /// Default JSON body cap: 1 MiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
    /// Default callback body cap: 4 MiB.
    pub const DEFAULT_MAX_INGEST_BYTES: usize = 4 << 20;
    /// Default block run deadline: 30 s.
    pub const DEFAULT_BLOCK_TIMEOUT_MS: u64 = 30_000;
    /// Default cap of a block request's response body: 1 MiB.
    pub const DEFAULT_BLOCK_MAX_RESPONSE_BYTES: usize = 1 << 20;
    /// Default connection cap.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    /// Default header timeout: 10 s.
    pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
    /// Default body timeout: 60 s (a 4 MiB callback at 70 KB/s).
    pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 60_000;
    /// Default idle timeout: 60 s.
    pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;
    /// Default free-space floor of the store's filesystem: 64 MiB.
    pub const DEFAULT_MIN_FREE_DISK_BYTES: u64 = 64 << 20;

    /// A configuration with every default and `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        ServeConfig {
            listen: Self::DEFAULT_LISTEN.parse().expect("valid default address"),
            data_dir: data_dir.into(),
            admin_token: None,
            plugins_dir: None,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_ingest_bytes: Self::DEFAULT_MAX_INGEST_BYTES,
            max_plugin_bytes: RuntimeConfig::DEFAULT_MAX_COMPONENT_BYTES,
            plugin_limits: Limits::default(),
            max_instances: RuntimeConfig::DEFAULT_MAX_INSTANCES,
            plugin_lane_calls: FairShare::DEFAULT_PER_LANE,
            plugin_queue_wait_ms: FairShare::DEFAULT_MAX_WAIT.as_millis() as u64,
            outbound_allowlist: Vec::new(),
            log_json: false,
            cache_dir: None,
            delivery_workers: 128,
            delivery_timeout_ms: 15_000,
            clock_scale: 1.0,
            allow_plain_http_blocks: false,
            block_timeout_ms: Self::DEFAULT_BLOCK_TIMEOUT_MS,
            block_max_response_bytes: Self::DEFAULT_BLOCK_MAX_RESPONSE_BYTES,
            compile_timeout_ms: Compiler::DEFAULT_TIMEOUT.as_millis() as u64,
            compile_memory_bytes: Compiler::DEFAULT_MEMORY_BYTES,
            compile_concurrency: Compiler::DEFAULT_CONCURRENCY,
            max_plugin_functions: Budget::DEFAULT_MAX_FUNCTIONS,
            max_plugin_code_bytes: Budget::DEFAULT_MAX_CODE_BYTES,
            compile_program: None,
            compile_in_process: false,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout_ms: Self::DEFAULT_HEADER_TIMEOUT_MS,
            body_timeout_ms: Self::DEFAULT_BODY_TIMEOUT_MS,
            idle_timeout_ms: Self::DEFAULT_IDLE_TIMEOUT_MS,
            min_free_disk_bytes: Self::DEFAULT_MIN_FREE_DISK_BYTES,
        }
    }

    /// The runtime's configuration under this server configuration.
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            cache_dir: Some(
                self.cache_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("cache")),
            ),
            default_limits: self.plugin_limits,
            max_component_bytes: self.max_plugin_bytes,
            max_instances: self.max_instances,
            per_lane_calls: self.plugin_lane_calls,
            max_queue_wait: std::time::Duration::from_millis(self.plugin_queue_wait_ms),
            compiler: self.compiler(),
            budget: Budget {
                max_functions: self.max_plugin_functions,
                max_code_bytes: self.max_plugin_code_bytes,
                ..Budget::default()
            },
            ..RuntimeConfig::default()
        }
    }

    /// How plugins are compiled under this configuration.
    pub fn compiler(&self) -> Compiler {
        if self.compile_in_process {
            return Compiler::InProcess;
        }
        // An executable that cannot name itself is reported when a compile
        // cannot start `wasmhook`, naming the setting to use instead.
        let program = self.compile_program.clone().unwrap_or_else(|| {
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("wasmhook"))
        });
        Compiler::Subprocess {
            program,
            timeout: std::time::Duration::from_millis(self.compile_timeout_ms),
            memory_bytes: self.compile_memory_bytes,
            concurrency: self.compile_concurrency,
        }
    }
}

/// Flags (and their `WASMHOOK_*` variables) of `wasmhook serve`. (It
/// serializes only to tell which fields were set, for error messages.)
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct ServeArgs {
    /// A TOML configuration file; its keys are the flags' names with `_`.
    #[arg(long, env = "WASMHOOK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "WASMHOOK_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./wasmhook-data].
    #[arg(long, env = "WASMHOOK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Admin token for `/v1` [default: generated on first start, kept in DATA_DIR/admin_token].
    #[arg(long, env = "WASMHOOK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Folder of first-party components to install on a fresh data dir.
    #[arg(long, env = "WASMHOOK_PLUGINS_DIR", value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Largest JSON request body, bytes [default: 1048576].
    #[arg(long, env = "WASMHOOK_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest vendor callback body, bytes [default: 4194304].
    #[arg(long, env = "WASMHOOK_MAX_INGEST_BYTES")]
    pub max_ingest_bytes: Option<usize>,
    /// Largest plugin upload, bytes [default: 20971520].
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_BYTES")]
    pub max_plugin_bytes: Option<u64>,
    /// Default deadline of a plugin call, ms [default: 1000].
    #[arg(long, env = "WASMHOOK_PLUGIN_TIMEOUT_MS")]
    pub plugin_timeout_ms: Option<u64>,
    /// Default memory cap of a plugin call, bytes [default: 67108864].
    #[arg(long, env = "WASMHOOK_PLUGIN_MEMORY_BYTES")]
    pub plugin_memory_bytes: Option<u64>,
    /// Default cap of events one mapper call may return [default: 5000].
    #[arg(long, env = "WASMHOOK_PLUGIN_MAX_EVENTS")]
    pub plugin_max_events: Option<u64>,
    /// Concurrent plugin instances [default: 256].
    #[arg(long, env = "WASMHOOK_MAX_INSTANCES")]
    pub max_instances: Option<u32>,
    /// Plugin calls one source, endpoint or block may run at once [default: 8].
    #[arg(long, env = "WASMHOOK_PLUGIN_LANE_CALLS")]
    pub plugin_lane_calls: Option<u32>,
    /// Longest wait for a plugin call's turn before a 503, ms [default: 2000].
    #[arg(long, env = "WASMHOOK_PLUGIN_QUEUE_WAIT_MS")]
    pub plugin_queue_wait_ms: Option<u64>,
    /// Private/loopback outbound targets to allow (CIDR or host), comma-separated.
    #[arg(long, env = "WASMHOOK_OUTBOUND_ALLOWLIST", value_delimiter = ',')]
    pub outbound_allowlist: Option<Vec<String>>,
    /// Log JSON lines [default: false].
    #[arg(
        long,
        env = "WASMHOOK_LOG_JSON",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub log_json: Option<bool>,
    /// Where compiled plugins are cached [default: DATA_DIR/cache].
    #[arg(long, env = "WASMHOOK_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Delivery attempts in flight at once [default: 128].
    #[arg(long, env = "WASMHOOK_DELIVERY_WORKERS")]
    pub delivery_workers: Option<usize>,
    /// Deadline of one delivery attempt, ms [default: 15000].
    #[arg(long, env = "WASMHOOK_DELIVERY_TIMEOUT_MS")]
    pub delivery_timeout_ms: Option<u64>,
    /// Run the delivery clock this many times faster (tests only).
    #[arg(long, env = "WASMHOOK_CLOCK_SCALE", hide = true)]
    pub clock_scale: Option<f64>,
    /// Let workflow blocks call plain http:// URLs [default: false].
    #[arg(
        long,
        env = "WASMHOOK_ALLOW_PLAIN_HTTP_BLOCKS",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub allow_plain_http_blocks: Option<bool>,
    /// Deadline of one block run, its requests included, ms [default: 30000].
    #[arg(long, env = "WASMHOOK_BLOCK_TIMEOUT_MS")]
    pub block_timeout_ms: Option<u64>,
    /// Largest response body a block request reads, bytes [default: 1048576].
    #[arg(long, env = "WASMHOOK_BLOCK_MAX_RESPONSE_BYTES")]
    pub block_max_response_bytes: Option<usize>,
    /// Default cap of HTTP requests one block run may make [default: 50].
    #[arg(long, env = "WASMHOOK_BLOCK_MAX_REQUESTS")]
    pub block_max_requests: Option<u64>,
    /// Longest compile of one plugin (and wait for a compile slot), ms [default: 60000].
    #[arg(long, env = "WASMHOOK_COMPILE_TIMEOUT_MS")]
    pub compile_timeout_ms: Option<u64>,
    /// Address-space limit of a plugin compile, bytes [default: 2147483648].
    #[arg(long, env = "WASMHOOK_COMPILE_MEMORY_BYTES")]
    pub compile_memory_bytes: Option<u64>,
    /// Plugins compiled at once [default: 1].
    #[arg(long, env = "WASMHOOK_COMPILE_CONCURRENCY")]
    pub compile_concurrency: Option<u32>,
    /// Most core functions a plugin may have [default: 100000].
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_FUNCTIONS")]
    pub max_plugin_functions: Option<u64>,
    /// Most bytes of code a plugin may have [default: 16777216].
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_CODE_BYTES")]
    pub max_plugin_code_bytes: Option<u64>,
    /// The wasmhook binary that compiles plugins [default: this executable].
    #[arg(long, env = "WASMHOOK_COMPILE_PROGRAM", value_name = "PATH")]
    pub compile_program: Option<PathBuf>,
    /// Client connections open at once [default: 4096, lowered to fit the descriptor limit].
    #[arg(long, env = "WASMHOOK_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Longest a client may take to send a request's headers, ms [default: 10000].
    #[arg(long, env = "WASMHOOK_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Longest a request body may take to arrive in full, ms [default: 60000].
    #[arg(long, env = "WASMHOOK_BODY_TIMEOUT_MS")]
    pub body_timeout_ms: Option<u64>,
    /// Close a connection idle this long, ms [default: 60000].
    #[arg(long, env = "WASMHOOK_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Refuse writes while the data dir's filesystem has less free, bytes [default: 67108864].
    #[arg(long, env = "WASMHOOK_MIN_FREE_DISK_BYTES")]
    pub min_free_disk_bytes: Option<u64>,
}

/// The configuration file's keys; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    admin_token: Option<String>,
    plugins_dir: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    max_ingest_bytes: Option<usize>,
    max_plugin_bytes: Option<u64>,
    plugin_timeout_ms: Option<u64>,
    plugin_memory_bytes: Option<u64>,
    plugin_max_events: Option<u64>,
    max_instances: Option<u32>,
    plugin_lane_calls: Option<u32>,
    plugin_queue_wait_ms: Option<u64>,
    outbound_allowlist: Option<Vec<String>>,
    log_json: Option<bool>,
    cache_dir: Option<PathBuf>,
    delivery_workers: Option<usize>,
    delivery_timeout_ms: Option<u64>,
    clock_scale: Option<f64>,
    allow_plain_http_blocks: Option<bool>,
    block_timeout_ms: Option<u64>,
    block_max_response_bytes: Option<usize>,
    block_max_requests: Option<u64>,
    compile_timeout_ms: Option<u64>,
    compile_memory_bytes: Option<u64>,
    compile_concurrency: Option<u32>,
    max_plugin_functions: Option<u64>,
    max_plugin_code_bytes: Option<u64>,
    compile_program: Option<PathBuf>,
    max_connections: Option<usize>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    min_free_disk_bytes: Option<u64>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A value is out of range.
    #[error("config field `{field}`: {detail}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A value is out of range, and where it was set.
    #[error("{origin}: `{field}` {detail}")]
    InvalidAt {
        /// Where the value came from: the config file (named), a flag or an
        /// environment variable.
        origin: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl ServeArgs {
    /// Layers defaults, the file, and these flags/variables, and validates.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("wasmhook-data"));
        let mut config = ServeConfig::with_data_dir(data_dir);
        macro_rules! layer {
            ($field:ident) => {
                if let Some(value) = self.$field.clone().or(file.$field) {
                    config.$field = value;
                }
            };
        }
        layer!(listen);
        layer!(max_body_bytes);
        layer!(max_ingest_bytes);
        layer!(max_plugin_bytes);
        layer!(max_instances);
        layer!(plugin_lane_calls);
        layer!(plugin_queue_wait_ms);
        layer!(outbound_allowlist);
        layer!(log_json);
        layer!(delivery_workers);
        layer!(delivery_timeout_ms);
        layer!(clock_scale);
        layer!(allow_plain_http_blocks);
        layer!(block_timeout_ms);
        layer!(block_max_response_bytes);
        layer!(compile_timeout_ms);
        layer!(compile_memory_bytes);
        layer!(compile_concurrency);
        layer!(max_plugin_functions);
        layer!(max_plugin_code_bytes);
        config.compile_program = self.compile_program.clone().or(file.compile_program);
        layer!(max_connections);
        layer!(header_timeout_ms);
        layer!(body_timeout_ms);
        layer!(idle_timeout_ms);
        layer!(min_free_disk_bytes);
        config.plugins_dir = self.plugins_dir.clone().or(file.plugins_dir);
        config.cache_dir = self.cache_dir.clone().or(file.cache_dir);
        config.admin_token = self
            .admin_token
            .clone()
            .or(file.admin_token)
            .map(Secret::new);
        if let Some(ms) = self.plugin_timeout_ms.or(file.plugin_timeout_ms) {
            config.plugin_limits.timeout_ms = ms;
        }
        if let Some(bytes) = self.plugin_memory_bytes.or(file.plugin_memory_bytes) {
            config.plugin_limits.memory_bytes = bytes;
        }
        if let Some(events) = self.plugin_max_events.or(file.plugin_max_events) {
            config.plugin_limits.max_events = events;
        }
        if let Some(requests) = self.block_max_requests.or(file.block_max_requests) {
            config.plugin_limits.max_http_requests = requests;
        }
        validate(&config).map_err(|error| self.locate(error))?;
        Ok(config)
    }

    /// Says where an out-of-range value was set: a flag, its environment
    /// variable, or the config file (named); a default stays unlocated.
    fn locate(&self, error: ConfigError) -> ConfigError {
        let ConfigError::Invalid { field, detail } = error else {
            return error;
        };
        let from_args = serde_json::to_value(self)
            .ok()
            .and_then(|args| args.get(field).cloned())
            .is_some_and(|value| !value.is_null());
        let origin = if from_args {
            let flag = format!("--{}", field.replace('_', "-"));
            let variable = format!("WASMHOOK_{}", field.to_ascii_uppercase());
            let on_command_line =
                std::env::args().any(|arg| arg == flag || arg.starts_with(&format!("{flag}=")));
            if !on_command_line && std::env::var_os(&variable).is_some() {
                format!("environment variable {variable}")
            } else {
                format!("flag {flag}")
            }
        } else if let Some(path) = &self.config
            && file_sets(path, field)
        {
            format!("config file {}", path.display())
        } else {
            return ConfigError::Invalid { field, detail };
        };
        ConfigError::InvalidAt {
            origin,
            field,
            detail,
        }
    }
}

/// Whether the config file at `path` (already read once) sets `key`.
fn file_sets(path: &Path, key: &str) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key(key))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        detail: error.message().to_owned()
            + &error
                .span()
                .map(|span| format!(" (at byte {})", span.start))
                .unwrap_or_default(),
    })
}

/// The smallest compile memory limit taken: below it even an empty
/// component cannot be compiled.
const MIN_COMPILE_MEMORY_BYTES: u64 = 16 << 20;

fn validate(config: &ServeConfig) -> Result<(), ConfigError> {
    let invalid = |field, detail: &str| {
        Err(ConfigError::Invalid {
            field,
            detail: detail.to_owned(),
        })
    };
    if let Some(token) = &config.admin_token
        && token.expose().len() < 16
    {
        return invalid("admin_token", "must be at least 16 characters");
    }
    if config.max_body_bytes < 1024 {
        return invalid("max_body_bytes", "must be at least 1024");
    }
    if config.max_ingest_bytes < 1024 {
        return invalid("max_ingest_bytes", "must be at least 1024");
    }
    if config.plugin_limits.timeout_ms == 0 {
        return invalid("plugin_timeout_ms", "must be more than 0");
    }
    if config.plugin_limits.memory_bytes > RuntimeConfig::DEFAULT_MAX_MEMORY_BYTES {
        return invalid("plugin_memory_bytes", "must be at most 536870912 (512 MiB)");
    }
    if let Err(error) = crate::outbound::AddressPolicy::from_allowlist(&config.outbound_allowlist) {
        return invalid("outbound_allowlist", &error.to_string());
    }
    if config.delivery_workers == 0 {
        return invalid("delivery_workers", "must be more than 0");
    }
    if config.delivery_timeout_ms == 0 {
        return invalid("delivery_timeout_ms", "must be more than 0");
    }
    if !(config.clock_scale >= 1.0 && config.clock_scale <= 1_000_000.0) {
        return invalid("clock_scale", "must be between 1 and 1000000");
    }
    if config.max_instances == 0 {
        return invalid("max_instances", "must be more than 0");
    }
    if config.plugin_lane_calls == 0 {
        return invalid("plugin_lane_calls", "must be more than 0");
    }
    if !(1..=600_000).contains(&config.plugin_queue_wait_ms) {
        return invalid("plugin_queue_wait_ms", "must be between 1 and 600000");
    }
    if config.block_timeout_ms == 0 {
        return invalid("block_timeout_ms", "must be more than 0");
    }
    if config.block_max_response_bytes < 1024 {
        return invalid("block_max_response_bytes", "must be at least 1024");
    }
    if !(1..=Limits::MAX_EVENTS).contains(&config.plugin_limits.max_events) {
        return invalid("plugin_max_events", "must be between 1 and 100000");
    }
    if !(1..=Limits::MAX_HTTP_REQUESTS).contains(&config.plugin_limits.max_http_requests) {
        return invalid("block_max_requests", "must be between 1 and 1000");
    }
    if !(1..=3_600_000).contains(&config.compile_timeout_ms) {
        return invalid("compile_timeout_ms", "must be between 1 and 3600000");
    }
    if config.compile_memory_bytes < MIN_COMPILE_MEMORY_BYTES {
        return invalid("compile_memory_bytes", "must be at least 16777216 (16 MiB)");
    }
    if !(1..=64).contains(&config.compile_concurrency) {
        return invalid("compile_concurrency", "must be between 1 and 64");
    }
    if config.max_plugin_functions == 0 {
        return invalid("max_plugin_functions", "must be more than 0");
    }
    if config.max_plugin_code_bytes < 1024 {
        return invalid("max_plugin_code_bytes", "must be at least 1024");
    }
    if let Some(program) = &config.compile_program
        && !program.is_file()
    {
        return invalid(
            "compile_program",
            &format!("{} is not a file", program.display()),
        );
    }
    if !(1..=1_000_000).contains(&config.max_connections) {
        return invalid("max_connections", "must be between 1 and 1000000");
    }
    for (field, ms) in [
        ("header_timeout_ms", config.header_timeout_ms),
        ("body_timeout_ms", config.body_timeout_ms),
        ("idle_timeout_ms", config.idle_timeout_ms),
    ] {
        if !(1..=3_600_000).contains(&ms) {
            return invalid(field, "must be between 1 and 3600000 (an hour)");
        }
    }
    if config.min_free_disk_bytes < 1 << 20 {
        return invalid("min_free_disk_bytes", "must be at least 1048576 (1 MiB)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wasmhook.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 4096\nplugin_timeout_ms = 50\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            listen: Some("127.0.0.1:9001".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.max_body_bytes, 4096);
        assert_eq!(config.plugin_limits.timeout_ms, 50);
        assert_eq!(config.max_instances, RuntimeConfig::DEFAULT_MAX_INSTANCES);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "listn = \"x\"\n").unwrap();
        let error = ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("bad.toml") && error.contains("listn"),
            "{error}"
        );

        let error = ServeArgs {
            admin_token: Some("short".into()),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(error.contains("admin_token"), "{error}");
    }

    #[test]
    fn compile_settings_layer_and_are_checked() {
        let defaults = ServeArgs::default().resolve().unwrap();
        assert_eq!(defaults.compile_timeout_ms, 60_000);
        assert_eq!(defaults.compile_memory_bytes, 2 << 30);
        assert_eq!(defaults.compile_concurrency, 1);
        assert_eq!(defaults.max_plugin_functions, 100_000);
        assert_eq!(defaults.max_plugin_code_bytes, 16 << 20);
        // By default the server compiles with its own executable.
        let Compiler::Subprocess { program, .. } = defaults.compiler() else {
            panic!("the server compiles in a child process");
        };
        assert_eq!(program, std::env::current_exe().unwrap());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compile.toml");
        let program = dir.path().join("wasmhook");
        std::fs::write(&program, "").unwrap();
        std::fs::write(
            &file,
            format!(
                "compile_timeout_ms = 5000\ncompile_memory_bytes = 1073741824\n\
                 compile_concurrency = 2\nmax_plugin_functions = 500\n\
                 max_plugin_code_bytes = 4096\ncompile_program = {:?}\n",
                program.display().to_string()
            ),
        )
        .unwrap();
        let config = ServeArgs {
            config: Some(file),
            compile_timeout_ms: Some(7000),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            config.compiler(),
            Compiler::Subprocess {
                program,
                timeout: std::time::Duration::from_millis(7000),
                memory_bytes: 1 << 30,
                concurrency: 2,
            }
        );
        let runtime = config.runtime_config();
        assert_eq!(runtime.budget.max_functions, 500);
        assert_eq!(runtime.budget.max_code_bytes, 4096);

        for (args, field) in [
            (
                ServeArgs {
                    compile_timeout_ms: Some(0),
                    ..ServeArgs::default()
                },
                "compile_timeout_ms",
            ),
            (
                ServeArgs {
                    compile_memory_bytes: Some(1 << 20),
                    ..ServeArgs::default()
                },
                "compile_memory_bytes",
            ),
            (
                ServeArgs {
                    compile_concurrency: Some(0),
                    ..ServeArgs::default()
                },
                "compile_concurrency",
            ),
            (
                ServeArgs {
                    max_plugin_functions: Some(0),
                    ..ServeArgs::default()
                },
                "max_plugin_functions",
            ),
            (
                ServeArgs {
                    compile_program: Some("/nonexistent/wasmhook".into()),
                    ..ServeArgs::default()
                },
                "compile_program",
            ),
        ] {
            let error = args.resolve().unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        }
    }

    #[test]
    fn the_sample_file_is_every_default() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wasmhook.toml");
        let from_file = ServeArgs {
            config: Some(sample),
            ..ServeArgs::default()
        }
        .resolve()
        .expect("examples/wasmhook.toml resolves");
        let defaults = ServeArgs::default().resolve().unwrap();
        // Debug output compares every field (the admin token is unset in both).
        assert_eq!(format!("{from_file:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn an_out_of_range_value_names_the_file_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("limits.toml");
        std::fs::write(&file, "max_body_bytes = 10\nlog_json = true\n").unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        };
        let error = args.resolve().unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "config file {}: `max_body_bytes` must be at least 1024",
                file.display()
            )
        );
        let error = ServeArgs {
            config: Some(file.clone()),
            max_body_bytes: Some(20),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "flag --max-body-bytes: `max_body_bytes` must be at least 1024"
        );

        // `log_json` in the file counts, and the bare flag means true.
        std::fs::write(&file, "log_json = true\n").unwrap();
        let config = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap();
        assert!(config.log_json);
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        use clap::Parser as _;
        let bare = Cli::try_parse_from(["wasmhook", "--log-json"]).unwrap();
        assert_eq!(bare.serve.log_json, Some(true));
    }

    #[test]
    fn block_settings_layer_and_are_checked() {
        let defaults = ServeArgs::default().resolve().unwrap();
        assert!(!defaults.allow_plain_http_blocks);
        assert_eq!(defaults.block_timeout_ms, 30_000);
        assert_eq!(defaults.block_max_response_bytes, 1 << 20);
        assert_eq!(defaults.plugin_limits.max_http_requests, 50);
        assert_eq!(defaults.plugin_limits.max_events, 5_000);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("blocks.toml");
        std::fs::write(
            &file,
            "allow_plain_http_blocks = true\nblock_timeout_ms = 5000\nblock_max_response_bytes = 2048\n\
             block_max_requests = 5\nplugin_max_events = 100\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            block_timeout_ms: Some(7000),
            plugin_max_events: Some(200),
            ..ServeArgs::default()
        };
        let config = args.resolve().unwrap();
        assert!(config.allow_plain_http_blocks);
        assert_eq!(config.block_timeout_ms, 7000);
        assert_eq!(config.block_max_response_bytes, 2048);
        assert_eq!(config.plugin_limits.max_http_requests, 5);
        assert_eq!(config.plugin_limits.max_events, 200);

        // The bare flag means true, and `=false` turns it off again.
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        use clap::Parser as _;
        let bare = Cli::try_parse_from(["wasmhook", "--allow-plain-http-blocks"]).unwrap();
        assert_eq!(bare.serve.allow_plain_http_blocks, Some(true));
        let off = Cli::try_parse_from(["wasmhook", "--allow-plain-http-blocks=false"]).unwrap();
        assert_eq!(off.serve.allow_plain_http_blocks, Some(false));

        for (args, field) in [
            (
                ServeArgs {
                    block_timeout_ms: Some(0),
                    ..ServeArgs::default()
                },
                "block_timeout_ms",
            ),
            (
                ServeArgs {
                    block_max_response_bytes: Some(10),
                    ..ServeArgs::default()
                },
                "block_max_response_bytes",
            ),
            (
                ServeArgs {
                    block_max_requests: Some(0),
                    ..ServeArgs::default()
                },
                "block_max_requests",
            ),
            (
                ServeArgs {
                    block_max_requests: Some(1001),
                    ..ServeArgs::default()
                },
                "block_max_requests",
            ),
            (
                ServeArgs {
                    plugin_max_events: Some(0),
                    ..ServeArgs::default()
                },
                "plugin_max_events",
            ),
        ] {
            let error = args.resolve().unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        }
    }

    #[test]
    fn connection_and_disk_settings_layer_and_are_checked() {
        let defaults = ServeArgs::default().resolve().unwrap();
        assert_eq!(defaults.max_connections, 4096);
        assert_eq!(defaults.header_timeout_ms, 10_000);
        assert_eq!(defaults.body_timeout_ms, 60_000);
        assert_eq!(defaults.idle_timeout_ms, 60_000);
        assert_eq!(defaults.min_free_disk_bytes, 64 << 20);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("conn.toml");
        std::fs::write(
            &file,
            "max_connections = 100\nheader_timeout_ms = 500\nbody_timeout_ms = 900\n\
             idle_timeout_ms = 700\nmin_free_disk_bytes = 2097152\n",
        )
        .unwrap();
        let config = ServeArgs {
            config: Some(file),
            idle_timeout_ms: Some(800),
            ..ServeArgs::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(config.max_connections, 100);
        assert_eq!(config.header_timeout_ms, 500);
        assert_eq!(config.body_timeout_ms, 900);
        assert_eq!(config.idle_timeout_ms, 800);
        assert_eq!(config.min_free_disk_bytes, 2 << 20);

        for (args, field) in [
            (
                ServeArgs {
                    max_connections: Some(0),
                    ..ServeArgs::default()
                },
                "max_connections",
            ),
            (
                ServeArgs {
                    header_timeout_ms: Some(0),
                    ..ServeArgs::default()
                },
                "header_timeout_ms",
            ),
            (
                ServeArgs {
                    body_timeout_ms: Some(3_600_001),
                    ..ServeArgs::default()
                },
                "body_timeout_ms",
            ),
            (
                ServeArgs {
                    idle_timeout_ms: Some(0),
                    ..ServeArgs::default()
                },
                "idle_timeout_ms",
            ),
            (
                ServeArgs {
                    min_free_disk_bytes: Some(1000),
                    ..ServeArgs::default()
                },
                "min_free_disk_bytes",
            ),
        ] {
            let error = args.resolve().unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        }
    }
}
