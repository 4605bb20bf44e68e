//! The PostgreSQL store: every record in one database that any number of
//! nodes share. Records are kept as their serde JSON text beside the
//! columns queries need; the records every request reads (tenants and
//! keys, sources, endpoints) are answered from in-memory snapshots that
//! this node's writes refresh at once and other nodes' writes refresh
//! through `LISTEN wasmhook_config` (see [`listen`]). Configuration writes
//! run in one transaction under a cluster-wide advisory lock (see
//! [`config`]); ingested events and delivery attempts go through a group
//! commit (see [`commit`]). Every write is committed before it returns.

mod blocks;
mod callbacks;
mod claims;
mod commit;
mod config;
mod connectors;
mod deliveries;
mod endpoints;
mod events;
mod health;
pub(super) mod import;
mod listen;
mod migrate;
mod plugins;
mod references;
mod rejected;
mod retention;
mod rows;
mod snapshot;
mod sources;
mod tenants;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ConfigChange, PoolFigures, StoreError};
use crate::domain::endpoint::Endpoint;
use health::Health;
use snapshot::Snapshot;

/// Connections a test store's pool holds at most.
#[cfg(test)]
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a delivery lease lasts unless told otherwise, ms.
pub const DEFAULT_LEASE_MS: u64 = 30_000;

/// How long a request waits for a pooled connection before failing (the
/// API answers 503 then).
const POOL_WAIT: Duration = Duration::from_secs(5);

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the node's tasks share with the store's methods: the pool, the
/// snapshots and whether the database answers.
pub(super) struct Shared {
    pool: Pool,
    /// The URL, for the listener's own connection.
    config: tokio_postgres::Config,
    directory: Snapshot<tenants::Directory>,
    sources: Snapshot<sources::SourcesByName>,
    endpoints: Snapshot<Vec<Endpoint>>,
    health: Health,
    changes: broadcast::Sender<ConfigChange>,
    /// Woken when any node stores deliveries (see `listen`).
    due: Arc<tokio::sync::Notify>,
}

/// The server's records in a PostgreSQL database.
pub struct PgStore {
    shared: Arc<Shared>,
    /// This node's name on the leases it takes: unique per process.
    node: String,
    /// How long a lease lasts, ms.
    lease_ms: u64,
    commit: commit::Committer,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    #[cfg(test)]
    /// Connects to the database at `url` with a pool of
    /// [`DEFAULT_POOL_SIZE`] connections, applies the migrations it lacks
    /// (refusing a schema newer than this binary knows), loads the
    /// snapshots and starts the listener and the commit task.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(url, DEFAULT_POOL_SIZE).await
    }

    /// [`PgStore::connect`] with a pool of at most `pool_size` connections.
    pub async fn connect_with(url: &str, pool_size: usize) -> Result<PgStore, StoreError> {
        let (pool, config) = pool(url, pool_size)?;
        migrate::apply(&pool).await?;
        let (changes, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            pool,
            config,
            directory: Snapshot::empty(),
            sources: Snapshot::empty(),
            endpoints: Snapshot::empty(),
            health: Health::default(),
            changes,
            due: Arc::new(tokio::sync::Notify::new()),
        });
        shared.ensure_default_tenant().await?;
        // The versions before the snapshots: a change committed in between
        // is then seen as one by the listener.
        let seen = listen::versions(&shared).await?;
        shared.refresh_all().await?;
        let stop = CancellationToken::new();
        let (commit, commit_task) = commit::Committer::start(Arc::clone(&shared));
        let tasks = vec![
            commit_task,
            tokio::spawn(listen::run(Arc::clone(&shared), stop.clone(), seen)),
            tokio::spawn(health::probe(Arc::clone(&shared), stop.clone())),
        ];
        Ok(PgStore {
            shared,
            node: format!("{}-{}", std::process::id(), ulid::Ulid::new()),
            lease_ms: DEFAULT_LEASE_MS,
            commit,
            stop,
            tasks: Mutex::new(tasks),
        })
    }

    /// The same store leasing the deliveries it hands out for `lease_ms`.
    pub fn with_delivery_lease(mut self, lease_ms: u64) -> Self {
        self.lease_ms = lease_ms;
        self
    }

    /// Which kind of configuration changed, on this node or another, as the
    /// listener learns it: the registry reloads plugins on `Plugins`.
    pub fn config_changes(&self) -> broadcast::Receiver<ConfigChange> {
        self.shared.changes.subscribe()
    }

    /// Woken when any node (this one too) stores new deliveries.
    pub fn new_deliveries(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.shared.due)
    }

    /// How the connection pool stands.
    pub fn pool_figures(&self) -> PoolFigures {
        let status = self.shared.pool.status();
        PoolFigures {
            max: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }

    /// Every write is committed before it returns: nothing to wait for.
    pub async fn durable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every write is committed before it returns: nothing to flush.
    pub async fn flush_now(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stops the listener, the probe and the commit task (answering what
    /// is queued first) and closes the pool.
    pub async fn close(&self) -> Result<(), StoreError> {
        if let Err(error) = self.release_leases().await {
            tracing::warn!(%error, "store: this node's delivery leases could not be ended; they run out");
        }
        self.stop.cancel();
        self.commit.stop();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        self.shared.pool.close();
        Ok(())
    }

    /// Always: dropping the store loses nothing (every write is committed).
    pub fn safe_to_drop(&self) -> bool {
        true
    }

    /// Ok unless the last database operations failed for the connection's
    /// or the server's reasons (then the API answers 503 until they work).
    pub fn writable(&self) -> Result<(), StoreError> {
        match self.shared.health.problem() {
            None => Ok(()),
            Some(reason) => Err(StoreError::Unavailable { reason }),
        }
    }

    /// Why writes are refused, if they are (`/readyz`).
    pub fn write_problem(&self) -> Option<String> {
        self.shared.health.problem()
    }

    /// Never: a database that comes back is used again without a restart.
    pub fn needs_restart(&self) -> Option<String> {
        None
    }

    /// Whether the database answers: an operation succeeded within the
    /// last 2 s and none failed since (under load, no pool slot is taken
    /// to ask), or else a `SELECT 1` answers within a second.
    pub async fn is_ready(&self) -> bool {
        self.shared.health.answered_within(Duration::from_secs(2))
            || self.shared.ping(Duration::from_secs(1)).await
    }
}

/// A pool of at most `pool_size` connections (2 at least) to the database
/// at `url`, and the URL's settings.
fn pool(url: &str, pool_size: usize) -> Result<(Pool, tokio_postgres::Config), StoreError> {
    let mut config: tokio_postgres::Config =
        url.parse()
            .map_err(|error: tokio_postgres::Error| StoreError::BadUrl {
                detail: error.to_string(),
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("wasmhook");
    let manager = Manager::from_config(
        config.clone(),
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(2))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|error| StoreError::Io {
            what: "building the database connection pool",
            detail: error.to_string(),
        })?;
    Ok((pool, config))
}

/// `url` as it may be shown: its password replaced by `***` (an unparsable
/// URL is not shown at all: it may hold a password where no parser finds
/// it).
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop.cancel();
        self.commit.stop();
    }
}

impl Shared {
    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Notes whether `result` says the database answers: a connection-class
    /// failure makes the store unwritable until an operation or the probe
    /// succeeds.
    fn track<T, E: health::Tracked>(&self, result: Result<T, E>) -> Result<T, E> {
        match &result {
            Ok(_) => self.health.succeeded(),
            Err(error) => {
                if let Some(error) = error.store_error().filter(|error| error.is_io()) {
                    self.health.failed(error);
                }
            }
        }
        result
    }

    /// Whether `SELECT 1` answers within `deadline` (an answer counts as a
    /// success: the database is back).
    async fn ping(&self, deadline: Duration) -> bool {
        let probe = async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await?;
            Ok::<_, StoreError>(())
        };
        let answered = matches!(tokio::time::timeout(deadline, probe).await, Ok(Ok(())));
        if answered {
            self.health.succeeded();
        }
        answered
    }

    /// Re-reads every snapshot.
    async fn refresh_all(&self) -> Result<(), StoreError> {
        self.refresh_directory().await?;
        self.refresh_sources().await?;
        self.refresh_endpoints().await
    }

    /// Re-reads what a change of `kind` affects.
    async fn refresh(&self, kind: ConfigChange) -> Result<(), StoreError> {
        match kind {
            ConfigChange::Tenants => self.refresh_directory().await,
            ConfigChange::Sources => self.refresh_sources().await,
            ConfigChange::Endpoints => self.refresh_endpoints().await,
            ConfigChange::Plugins | ConfigChange::Connectors | ConfigChange::Blocks => Ok(()),
        }
    }
}

#[cfg(test)]
mod claim_tests;
#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod outage_tests;
#[cfg(test)]
pub(super) mod test_db;
#[cfg(test)]
mod tests;
