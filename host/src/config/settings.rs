//! [`ServeConfig`]: every setting of `wasmhook serve`, declared once. A
//! field's name is its file key; its clap attribute makes it the flag
//! `--name-with-dashes` and the variable `WASMHOOK_NAME`, and holds its
//! default; its doc comment is both the Rust doc and the `--help` line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, FromArgMatches};
use serde::{Deserialize, Serialize};

use crate::domain::Secret;
use crate::runtime::{Budget, Compiler, FairShare, Limits, RuntimeConfig};

/// How `wasmhook serve` runs. Built by layering (see [`super::ServeArgs`])
/// or, by tests and embedders, from [`ServeConfig::default`] or
/// [`ServeConfig::with_data_dir`] with fields set.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(
        long,
        env = "WASMHOOK_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: std::net::SocketAddr,
    /// Data directory: the store, the compile cache, the generated admin token.
    #[arg(
        long,
        env = "WASMHOOK_DATA_DIR",
        value_name = "DIR",
        default_value = "wasmhook-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL database shared by every node (`postgres://user:pass@host/db`)
    /// [default: the embedded store in DATA_DIR, one node]. DATA_DIR then
    /// keeps only this node's compile cache.
    #[arg(long, env = "WASMHOOK_DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<Secret>,
    /// Connections this node keeps to the database.
    #[arg(long, env = "WASMHOOK_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: u32,
    /// How long a node holds a delivery it is attempting before another node
    /// may take it over (the node died), ms; longer than an attempt.
    #[arg(long, env = "WASMHOOK_DELIVERY_LEASE_MS", default_value_t = 30_000)]
    pub delivery_lease_ms: u64,
    /// Admin token for `/v1`, at least 16 characters [default: generated on
    /// first start, kept in DATA_DIR/admin_token; required, the same on every
    /// node, with --database-url].
    #[arg(long, env = "WASMHOOK_ADMIN_TOKEN", hide_env_values = true, value_parser = secret)]
    pub admin_token: Option<Secret>,
    /// Folder of first-party `<name>.wasm` components, each installed (as
    /// version 1, active) when no plugin of that name exists.
    #[arg(long, env = "WASMHOOK_PLUGINS_DIR", value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Largest JSON request body, bytes.
    #[arg(long, env = "WASMHOOK_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Largest vendor callback body, bytes.
    #[arg(long, env = "WASMHOOK_MAX_INGEST_BYTES", default_value_t = Self::DEFAULT_MAX_INGEST_BYTES)]
    pub max_ingest_bytes: usize,
    /// Largest plugin upload, bytes.
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_BYTES", default_value_t = RuntimeConfig::DEFAULT_MAX_COMPONENT_BYTES)]
    pub max_plugin_bytes: u64,
    /// Default deadline of a plugin call, ms.
    #[arg(long, env = "WASMHOOK_PLUGIN_TIMEOUT_MS", default_value_t = Limits::DEFAULT_TIMEOUT_MS)]
    pub plugin_timeout_ms: u64,
    /// Default memory cap of a plugin call, bytes (at most 536870912).
    #[arg(long, env = "WASMHOOK_PLUGIN_MEMORY_BYTES", default_value_t = Limits::DEFAULT_MEMORY_BYTES)]
    pub plugin_memory_bytes: u64,
    /// Default cap of events one mapper call may return (1 to 100000).
    #[arg(long, env = "WASMHOOK_PLUGIN_MAX_EVENTS", default_value_t = Limits::DEFAULT_MAX_EVENTS)]
    pub plugin_max_events: u64,
    /// Concurrent plugin instances: plugin calls running at once.
    #[arg(long, env = "WASMHOOK_MAX_INSTANCES", default_value_t = RuntimeConfig::DEFAULT_MAX_INSTANCES)]
    pub max_instances: u32,
    /// Plugin calls one source, endpoint or block may run at once; the rest
    /// wait in the fair queue.
    #[arg(long, env = "WASMHOOK_PLUGIN_LANE_CALLS", default_value_t = FairShare::DEFAULT_PER_LANE)]
    pub plugin_lane_calls: u32,
    /// Longest a plugin call waits for its turn before it is refused (a
    /// callback then gets 503 with `Retry-After`), ms.
    #[arg(
        long,
        env = "WASMHOOK_PLUGIN_QUEUE_WAIT_MS",
        default_value_t = FairShare::DEFAULT_MAX_WAIT.as_millis() as u64
    )]
    pub plugin_queue_wait_ms: u64,
    /// Private/loopback outbound targets that deliveries and blocks may
    /// reach anyway (CIDRs or host names), comma-separated.
    #[arg(long, env = "WASMHOOK_OUTBOUND_ALLOWLIST", value_delimiter = ',')]
    pub outbound_allowlist: Vec<String>,
    /// Log JSON lines instead of text (`--log-json` alone means true).
    #[arg(
        long,
        env = "WASMHOOK_LOG_JSON",
        action = ArgAction::Set,
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true"
    )]
    pub log_json: bool,
    /// Where compiled plugins are cached [default: DATA_DIR/cache].
    #[arg(long, env = "WASMHOOK_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Delivery attempts in flight at once over all endpoints.
    #[arg(long, env = "WASMHOOK_DELIVERY_WORKERS", default_value_t = 128)]
    pub delivery_workers: usize,
    /// Deadline of one delivery attempt, ms.
    #[arg(long, env = "WASMHOOK_DELIVERY_TIMEOUT_MS", default_value_t = 15_000)]
    pub delivery_timeout_ms: u64,
    /// How often tenants' records older than their event retention are
    /// removed, seconds.
    #[arg(long, env = "WASMHOOK_RETENTION_SWEEP_SECS", default_value_t = 600)]
    pub retention_sweep_secs: u64,
    /// How long accepted callbacks are kept whole (with the events they
    /// became) for `wasmhook plugin replay`, hours; never longer than their
    /// tenant's event retention. 0 keeps none.
    #[arg(long, env = "WASMHOOK_CALLBACK_RETENTION_HOURS", default_value_t = 72)]
    pub callback_retention_hours: u32,
    /// The delivery clock runs this many times faster than real time (1 in
    /// production; tests run minutes of retries in seconds with it).
    #[arg(long, env = "WASMHOOK_CLOCK_SCALE", hide = true, default_value_t = 1.0)]
    pub clock_scale: f64,
    /// Let workflow blocks call plain `http://` URLs (`--allow-plain-http-blocks`
    /// alone means true).
    #[arg(
        long,
        env = "WASMHOOK_ALLOW_PLAIN_HTTP_BLOCKS",
        action = ArgAction::Set,
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true"
    )]
    pub allow_plain_http_blocks: bool,
    /// Deadline of one block run, its outbound requests included, ms.
    #[arg(long, env = "WASMHOOK_BLOCK_TIMEOUT_MS", default_value_t = 30_000)]
    pub block_timeout_ms: u64,
    /// Largest response body a block's request reads, bytes; a larger one
    /// fails the request as too large.
    #[arg(long, env = "WASMHOOK_BLOCK_MAX_RESPONSE_BYTES", default_value_t = 1 << 20)]
    pub block_max_response_bytes: usize,
    /// Default cap of HTTP requests one block run may make (1 to 1000).
    #[arg(long, env = "WASMHOOK_BLOCK_MAX_REQUESTS", default_value_t = Limits::DEFAULT_MAX_HTTP_REQUESTS)]
    pub block_max_requests: u64,
    /// Longest compile of one plugin, and longest wait for a compile slot, ms.
    #[arg(
        long,
        env = "WASMHOOK_COMPILE_TIMEOUT_MS",
        default_value_t = Compiler::DEFAULT_TIMEOUT.as_millis() as u64
    )]
    pub compile_timeout_ms: u64,
    /// Address-space limit of the process compiling one plugin, bytes.
    #[arg(long, env = "WASMHOOK_COMPILE_MEMORY_BYTES", default_value_t = Compiler::DEFAULT_MEMORY_BYTES)]
    pub compile_memory_bytes: u64,
    /// Plugins compiled at once.
    #[arg(long, env = "WASMHOOK_COMPILE_CONCURRENCY", default_value_t = Compiler::DEFAULT_CONCURRENCY)]
    pub compile_concurrency: u32,
    /// Most core functions a plugin may have to be compiled.
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_FUNCTIONS", default_value_t = Budget::DEFAULT_MAX_FUNCTIONS)]
    pub max_plugin_functions: u64,
    /// Most bytes of code a plugin may have to be compiled.
    #[arg(long, env = "WASMHOOK_MAX_PLUGIN_CODE_BYTES", default_value_t = Budget::DEFAULT_MAX_CODE_BYTES)]
    pub max_plugin_code_bytes: u64,
    /// The wasmhook binary run (as `PATH __compile-plugin`) to compile a
    /// plugin [default: this executable].
    #[arg(long, env = "WASMHOOK_COMPILE_PROGRAM", value_name = "PATH")]
    pub compile_program: Option<PathBuf>,
    /// Client connections open at once; lowered at start to fit the
    /// descriptor limit.
    #[arg(long, env = "WASMHOOK_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Longest a client may take to send a request's line and headers once
    /// it started sending them, ms.
    #[arg(long, env = "WASMHOOK_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Longest a request's body may take to arrive in full, ms (60 s: a 4 MiB
    /// callback at 70 KB/s).
    #[arg(long, env = "WASMHOOK_BODY_TIMEOUT_MS", default_value_t = 60_000)]
    pub body_timeout_ms: u64,
    /// Close a connection with no request in flight that sent nothing for
    /// this long, ms.
    #[arg(long, env = "WASMHOOK_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Refuse writes (503) while the data dir's filesystem has less free
    /// space than this, bytes; the server does not start with less.
    #[arg(long, env = "WASMHOOK_MIN_FREE_DISK_BYTES", default_value_t = 64 << 20)]
    pub min_free_disk_bytes: u64,
    /// Compile on the calling thread of this process, without the compile
    /// limits (only the budget applies): for tests and embedders that have
    /// no server binary to run. Set in code only: no flag, variable or key.
    #[arg(skip)]
    #[serde(skip)]
    pub compile_in_process: bool,
}

/// clap's parser of `--admin-token`: the value is kept as a [`Secret`] from
/// the start, so it never prints.
fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

impl Default for ServeConfig {
    /// Every setting at the default its flag declares (the one `--help`
    /// shows): an empty command line parsed with the `WASMHOOK_*`
    /// variables switched off.
    fn default() -> Self {
        let command = Self::augment_args(clap::Command::new("wasmhook"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(["wasmhook"])
            .expect("every setting has a default or is optional");
        Self::from_arg_matches(&matches).expect("the declared defaults parse")
    }
}

impl ServeConfig {
    /// Default callback body cap: 4 MiB (tests size a too-large callback
    /// by it).
    pub const DEFAULT_MAX_INGEST_BYTES: usize = 4 << 20;

    /// A configuration with every default and `data_dir`.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        ServeConfig {
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }

    /// Default limits of every plugin call.
    pub fn plugin_limits(&self) -> Limits {
        Limits {
            timeout_ms: self.plugin_timeout_ms,
            memory_bytes: self.plugin_memory_bytes,
            max_events: self.plugin_max_events,
            max_http_requests: self.block_max_requests,
            ..Limits::default()
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
            default_limits: self.plugin_limits(),
            max_component_bytes: self.max_plugin_bytes,
            max_instances: self.max_instances,
            per_lane_calls: self.plugin_lane_calls,
            max_queue_wait: Duration::from_millis(self.plugin_queue_wait_ms),
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
            timeout: Duration::from_millis(self.compile_timeout_ms),
            memory_bytes: self.compile_memory_bytes,
            concurrency: self.compile_concurrency,
        }
    }
}
