//! Starting and stopping the server: open the store, build the runtime and
//! registry, install the bundled plugins, settle the admin token, serve until
//! the shutdown token fires, then flush the store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::Admin;
use crate::api::{AppState, app};
use crate::blocks::{BlockRunner, HttpPolicy};
use crate::config::ServeConfig;
use crate::delivery::{Clock, DeliveryEngine, EngineConfig, ScaledClock, SystemClock};
use crate::domain::Secret;
use crate::ingest::IngestService;
use crate::outbound::{OutboundClient, OutboundConfig};
use crate::registry::Registry;
use crate::runtime::{LimitsOverride, Runtime};
use crate::store::{Store, without_password};
use crate::telemetry;

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data dir could not be prepared.
    #[error("data dir {path}: {detail}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The database named by `--database-url` could not be opened.
    #[error("database {url}: {detail}")]
    Database {
        /// The URL without its password.
        url: String,
        /// Why.
        detail: String,
    },
    /// The plugin runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A bundled plugin could not be installed.
    #[error(transparent)]
    Install(#[from] crate::registry::InstallError),
    /// The outbound client could not be set up (e.g. a bad allowlist entry).
    #[error("outbound requests: {0}")]
    Outbound(#[from] crate::outbound::OutboundSetupError),
    /// Serving failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// The file in the data dir that keeps a generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin_token";

/// A server ready to serve: the state handlers share.
pub struct Server {
    state: AppState,
}

impl Server {
    /// Opens everything `config` names. Blocking (compiles bundled plugins
    /// on a fresh data dir): call before serving or from a blocking task.
    pub fn open(config: ServeConfig) -> Result<Self, ServeError> {
        let data_dir = config.data_dir.clone();
        let data_dir_error = |detail: String| ServeError::DataDir {
            path: data_dir.clone(),
            detail,
        };
        check_data_dir(&config.data_dir, config.min_free_disk_bytes).map_err(data_dir_error)?;
        if let Some(url) = &config.database_url {
            // Every record is in the database: the data dir keeps only this
            // node's compile cache, and nothing is lost by dropping the store.
            let store = crate::store::wait(Store::connect_postgres(
                url.expose(),
                config.database_pool_size as usize,
                config.delivery_lease_ms,
            ))
            .map_err(|error| ServeError::Database {
                url: without_password(url.expose()),
                detail: error.to_string(),
            })?;
            return Self::open_with_store(config, &Arc::new(store));
        }
        let store = Store::open_with(
            &config.data_dir.join(crate::store::STORE_DIR),
            config.min_free_disk_bytes,
        )
        .map_err(|error| match error {
            error if error.is_io() => data_dir_error(format!("cannot open the store: {error}")),
            error => ServeError::Store(error),
        })?;
        let store = Arc::new(store);
        match Self::open_with_store(config, &store) {
            Ok(server) => Ok(server),
            Err(error) => {
                // sled flushes when its last handle drops, and after a
                // failed write that flush can wait forever (see
                // `store::health`): a server that failed to start keeps its
                // store rather than hang on the way out.
                let store_trouble = store.writable().err();
                std::mem::forget(store);
                Err(match (error, store_trouble) {
                    (ServeError::Store(error), _) if error.is_io() => {
                        data_dir_error(format!("cannot write the store: {error}"))
                    }
                    (error, Some(trouble)) => data_dir_error(format!("{trouble} ({error})")),
                    (error, None) => error,
                })
            }
        }
    }

    fn open_with_store(config: ServeConfig, store: &Arc<Store>) -> Result<Self, ServeError> {
        let store = Arc::clone(store);
        let runtime = Runtime::new(config.runtime_config())?;
        // A block run's deadline covers its outbound requests, so block
        // plugins load with the block timeout rather than the mapper one.
        let block_limits = LimitsOverride {
            timeout_ms: Some(config.block_timeout_ms),
            ..LimitsOverride::default()
        };
        let registry =
            Arc::new(Registry::new(runtime, Arc::clone(&store)).with_block_limits(block_limits));
        if let Some(dir) = &config.plugins_dir {
            let installed = registry.install_bundled(dir)?;
            if !installed.is_empty() {
                tracing::info!(plugins = ?installed, "installed bundled plugins");
            }
        }
        // Load every active plugin now, so the first callback does not pay
        // for it and a broken stored plugin shows at start.
        for record in crate::store::wait(store.plugins())? {
            if let Err(error) = registry.active(&record.name) {
                tracing::warn!(plugin = %record.name, %error, "active plugin version does not load");
            }
        }
        let admin_token = settle_admin_token(&config)?;
        crate::store::wait(store.flush_now())?;
        let outbound = OutboundClient::new(OutboundConfig::for_server(&config))?;
        let blocks = Arc::new(block_runner(&config, &store, &registry)?);
        let clock: Arc<dyn Clock> = if config.clock_scale > 1.0 {
            Arc::new(ScaledClock::new(config.clock_scale))
        } else {
            Arc::new(SystemClock::default())
        };
        let engine = Arc::new(DeliveryEngine::new(
            Arc::clone(&store),
            Arc::clone(&registry),
            outbound,
            Arc::clone(&clock),
            EngineConfig {
                workers: config.delivery_workers,
                attempt_timeout: std::time::Duration::from_millis(config.delivery_timeout_ms),
                ..EngineConfig::default()
            },
        ));
        // New deliveries are due at the engine's now (a scaled clock in
        // tests), so the service fans out with the engine's clock.
        let ingest = Arc::new(IngestService::new(
            Arc::clone(&store),
            Arc::clone(&registry),
            Arc::clone(&engine),
            clock,
            config.callback_retention_hours > 0,
        ));
        let admin = Arc::new(Admin::new(
            Arc::clone(&store),
            Arc::clone(&registry),
            Arc::clone(&ingest),
            Arc::clone(&engine),
            config.allow_plain_http_blocks,
        ));
        Ok(Server {
            state: AppState {
                store,
                registry,
                config: Arc::new(config),
                admin_token: Arc::new(admin_token),
                metrics: telemetry::prometheus(),
                engine,
                ingest,
                blocks,
                admin,
                key_use: Default::default(),
            },
        })
    }

    /// The admin token `/v1` requires.
    pub fn admin_token(&self) -> &Secret {
        &self.state.admin_token
    }

    /// Serves on `listener` and runs the delivery engine until `shutdown`
    /// is cancelled, then lets requests and delivery attempts in flight
    /// finish and flushes the store.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), ServeError> {
        let store = Arc::clone(&self.state.store);
        let attempts = TaskTracker::new();
        let engine = tokio::spawn(
            Arc::clone(&self.state.engine).run(shutdown.child_token(), attempts.clone()),
        );
        if let Some(changes) = store.config_changes() {
            tokio::spawn(Arc::clone(&self.state.registry).follow(changes, shutdown.child_token()));
        }
        let keeper = tokio::spawn({
            let ingest = Arc::clone(&self.state.ingest);
            let shutdown = shutdown.child_token();
            async move { ingest.keep_callbacks(shutdown).await }
        });
        let sweeper = tokio::spawn(crate::retention::run(
            Arc::clone(&store),
            self.state.engine.clock(),
            crate::retention::Windows {
                every: std::time::Duration::from_secs(self.state.config.retention_sweep_secs),
                kept_callbacks: std::time::Duration::from_secs(
                    u64::from(self.state.config.callback_retention_hours) * 3600,
                ),
            },
            shutdown.child_token(),
        ));
        let limits = connection_limits(&self.state.config);
        let router = app(self.state);
        crate::connections::serve(listener, router, limits, shutdown).await;
        // Stop taking new attempts, let the ones in hand finish, then flush.
        let _ = engine.await;
        let _ = sweeper.await;
        let _ = keeper.await;
        attempts.close();
        attempts.wait().await;
        // Closing sled joins its threads and flushes: off the async workers.
        let closing = Arc::clone(&store);
        let closed = tokio::task::spawn_blocking(move || crate::store::wait(closing.close()))
            .await
            .map_err(|error| ServeError::Serve(std::io::Error::other(error)))?;
        if closed.is_err() || !store.safe_to_drop() {
            // Dropping it could wait forever for a flush (see
            // `store::health`); what was acknowledged is on disk already.
            std::mem::forget(store);
        }
        closed?;
        tracing::info!("server stopped; store flushed");
        Ok(())
    }
}

/// The connection limits under `config`, with the descriptor limit raised
/// first and the cap kept below it.
fn connection_limits(config: &ServeConfig) -> crate::connections::Limits {
    use crate::connections::fd_limit;
    let fd_limit = fd_limit::raise_descriptor_limit();
    let max_connections =
        fd_limit::connection_cap(config.max_connections, fd_limit, config.delivery_workers);
    if max_connections < config.max_connections {
        tracing::warn!(
            configured = config.max_connections,
            max_connections,
            open_files_limit = fd_limit,
            "max_connections lowered to stay below the open-files limit"
        );
    }
    crate::connections::Limits {
        max_connections,
        header_timeout: std::time::Duration::from_millis(config.header_timeout_ms),
        body_timeout: std::time::Duration::from_millis(config.body_timeout_ms),
        idle_timeout: std::time::Duration::from_millis(config.idle_timeout_ms),
    }
}

/// The block runner: its own outbound client (the same address rules as
/// deliveries, the body read up to the block response cap), plain http and
/// timeouts as configured.
fn block_runner(
    config: &ServeConfig,
    store: &Arc<Store>,
    registry: &Arc<Registry>,
) -> Result<BlockRunner, ServeError> {
    let timeout = std::time::Duration::from_millis(config.block_timeout_ms);
    let client = OutboundClient::new(OutboundConfig {
        total_timeout: timeout,
        max_excerpt_bytes: config.block_max_response_bytes,
        ..OutboundConfig::for_server(config)
    })?;
    Ok(BlockRunner::new(
        Arc::clone(store),
        Arc::clone(registry),
        client,
        HttpPolicy {
            allow_plain_http: config.allow_plain_http_blocks,
            default_timeout: timeout,
            max_response_bytes: config.block_max_response_bytes as u64,
        },
    ))
}

/// Opens and serves: what `wasmhook serve` runs, and what tests call with a
/// listener on port 0.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let server = tokio::task::spawn_blocking(move || Server::open(config))
        .await
        .map_err(|error| ServeError::Serve(std::io::Error::other(error)))??;
    server.serve(listener, shutdown).await
}

/// Fails with a message naming the cause unless `data_dir` can be created
/// and written, with at least `min_free` bytes free on its filesystem: a
/// data dir on a full disk is refused at once, before the store opens.
fn check_data_dir(data_dir: &Path, min_free: u64) -> Result<(), String> {
    std::fs::create_dir_all(data_dir).map_err(|error| format!("cannot create it: {error}"))?;
    let probe = data_dir.join(".write-probe");
    let written = std::fs::write(&probe, b"wasmhook\n")
        .and_then(|()| std::fs::File::open(&probe)?.sync_all());
    let _ = std::fs::remove_file(&probe);
    written.map_err(|error| format!("cannot write in it: {error}"))?;
    match crate::store::health::free_bytes(data_dir) {
        Ok(free) if free < min_free => Err(format!(
            "only {free} bytes free on its filesystem; the server needs at least {min_free} \
             (min_free_disk_bytes): free some space or choose another --data-dir"
        )),
        _ => Ok(()),
    }
}

/// The configured token, else the one kept in the data dir, else a new one
/// written there (mode 0600) and printed once.
fn settle_admin_token(config: &ServeConfig) -> Result<Secret, ServeError> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(Secret::new(text.trim())),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(ServeError::DataDir {
                path,
                detail: error.to_string(),
            });
        }
    }
    let token = Secret::generate("wha_");
    write_private(&path, token.expose()).map_err(|error| ServeError::DataDir {
        path: path.clone(),
        detail: error.to_string(),
    })?;
    eprintln!(
        "wasmhook: generated the admin token (shown once; kept in {}):\n{}",
        path.display(),
        token.expose()
    );
    Ok(token)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
