//! The embedded store: every record the server keeps, in one sled database
//! under the data dir. The only module that knows sled; the rest of the
//! server speaks domain types. Writes that a response promises are durable
//! go through [`SledStore::durable`], which groups concurrent flushes. Writes
//! are refused while [`health`] says the store cannot take them.
//! Configuration writes (plugins, sources, endpoints, connectors, blocks)
//! check what they depend on and what depends on them under one lock, and
//! refuse with a [`ConfigRefusal`].

mod blocks;
mod callbacks;
mod codec;
mod connectors;
mod deliveries;
mod dependents;
mod endpoints;
mod events;
pub(super) mod export;
mod flush;
pub mod health;
mod integrity;
mod key_queues;
mod plugins;
mod rejected;
mod retention;
mod snapshot;
mod sources;
mod tenants;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use super::StoreError;

use flush::GroupFlush;
use health::Health;

#[cfg(test)]
/// The default free-space floor below which writes are refused: 64 MiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(error: sled::transaction::TransactionError<StoreError>) -> Self {
        match error {
            sled::transaction::TransactionError::Abort(inner) => inner,
            sled::transaction::TransactionError::Storage(inner) => StoreError::Sled(inner),
        }
    }
}

/// The server's records in one sled database.
pub struct SledStore {
    db: sled::Db,
    plugins: sled::Tree,
    plugin_versions: sled::Tree,
    blobs: sled::Tree,
    sources: sled::Tree,
    events: sled::Tree,
    /// Read by the store tests' direct inserts and by expiry; the commit
    /// thread has its own handle.
    dedupe: sled::Tree,
    rejected: sled::Tree,
    /// Accepted callbacks kept for replays, by id.
    callbacks: sled::Tree,
    endpoints: sled::Tree,
    /// Every endpoint, kept in step with `endpoints` by its writers.
    endpoint_snapshot: snapshot::Snapshot<Vec<crate::domain::endpoint::Endpoint>>,
    /// Every source, kept in step with `sources` by its writers.
    source_snapshot: snapshot::Snapshot<sources::SourcesByName>,
    connectors: sled::Tree,
    blocks: sled::Tree,
    meta: sled::Tree,
    tenants: sled::Tree,
    api_keys: sled::Tree,
    audit: sled::Tree,
    /// Every tenant and live key, kept in step with `tenants` and
    /// `api_keys` by their writers.
    directory: snapshot::Snapshot<tenants::Directory>,
    deliveries: deliveries::DeliveryTrees,
    flush: GroupFlush,
    /// Serialises configuration changes whose checks span records
    /// (e.g. "delete this plugin unless a source uses it").
    config_lock: Mutex<()>,
    /// Whether writes are taken.
    health: Arc<Health>,
    /// Checks free space and probes a store whose write failed; stops
    /// when its sender drops.
    watcher: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

impl SledStore {
    #[cfg(test)]
    /// Opens (creating if needed) the store in `dir`, refusing writes
    /// below [`DEFAULT_MIN_FREE_BYTES`] free.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_MIN_FREE_BYTES)
    }

    /// Opens (creating if needed) the store in `dir`, refusing writes while
    /// its filesystem has fewer than `min_free_bytes` free. Fails at once
    /// when it has fewer now.
    pub fn open_with(dir: &Path, min_free_bytes: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Io {
            what: "creating the store's folder",
            detail: error.to_string(),
        })?;
        let health = Arc::new(Health::new(dir, min_free_bytes));
        health.check_space()?;
        let db = db_config(dir).open()?;
        Self::with_db(db, health)
    }

    /// The store over the opened database `db`: its trees, the commit and
    /// watcher threads, the upgrades of older data dirs, the snapshots.
    fn with_db(db: sled::Db, health: Arc<Health>) -> Result<Self, StoreError> {
        let tree = |name: &str| db.open_tree(name);
        let events = tree("events")?;
        let dedupe = tree("dedupe")?;
        let deliveries = deliveries::DeliveryTrees::open(&db)?;
        // The commit thread inserts ingested events itself, a batch at a time.
        let flush = GroupFlush::start(
            db.clone(),
            Arc::clone(&health),
            events::EventTrees {
                events: events.clone(),
                dedupe: dedupe.clone(),
                deliveries: deliveries.clone(),
            },
        )?;
        let store = SledStore {
            plugins: tree("plugins")?,
            plugin_versions: tree("plugin_versions")?,
            blobs: tree("blobs")?,
            sources: tree("sources")?,
            events,
            dedupe,
            rejected: tree("rejected")?,
            callbacks: tree("callbacks")?,
            endpoints: tree("endpoints")?,
            endpoint_snapshot: snapshot::Snapshot::empty(),
            source_snapshot: snapshot::Snapshot::empty(),
            connectors: tree("connectors")?,
            blocks: tree("blocks")?,
            meta: tree("meta")?,
            tenants: tree("tenants")?,
            api_keys: tree("api_keys")?,
            audit: tree("audit")?,
            directory: snapshot::Snapshot::empty(),
            deliveries,
            flush,
            config_lock: Mutex::new(()),
            watcher: Mutex::new(None),
            health,
            db,
        };
        store.start_watcher()?;
        // Data dirs from before tenants: everything is the default tenant's.
        store.ensure_default_tenant()?;
        let moved = store.migrate_block_keys()?;
        if moved > 0 {
            tracing::info!(
                blocks = moved,
                "store: blocks moved under the default tenant"
            );
        }
        store.refresh_directory()?;
        store.refresh_endpoint_snapshot()?;
        store.refresh_source_snapshot()?;
        Ok(store)
    }

    /// Returns once everything the caller wrote is on disk; concurrent
    /// callers share flushes.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.flush.wait().await
    }

    /// Flushes now, blocking (startup, shutdown, the CLI), for at most
    /// [`health::FLUSH_DEADLINE`].
    pub fn flush_now(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        let flushed = health::within_deadline(&self.health, "flushing the store", move || {
            db.flush().map(drop).map_err(StoreError::from)
        });
        match &flushed {
            Ok(()) => self.health.write_succeeded(),
            Err(error) if error.is_io() => self.health.write_failed(error),
            Err(_) => {}
        }
        flushed
    }

    /// Stops the flush and watcher threads and flushes what is left.
    /// Called on shutdown.
    pub fn close(&self) -> Result<(), StoreError> {
        self.stop_watcher();
        self.flush.stop();
        self.flush_now()
    }

    /// Whether dropping the store's last handle is safe: sled flushes when
    /// its last handle drops, and after a failed write that flush may never
    /// return (see [`health`]). A caller about to drop the store after a
    /// failure keeps it alive instead (the process is ending anyway).
    pub fn safe_to_drop(&self) -> bool {
        self.health.is_clean()
    }

    /// Ok when the store takes writes now: enough free space, no failed
    /// write. Every write the API makes starts with this.
    pub fn writable(&self) -> Result<(), StoreError> {
        self.health.check_space()
    }

    /// Why writes are refused, if they are (`/readyz`).
    pub fn write_problem(&self) -> Option<String> {
        self.health.problem()
    }

    /// Why only a restart can make the store write again, if so
    /// (`/healthz`).
    pub fn needs_restart(&self) -> Option<String> {
        self.health.needs_restart()
    }

    fn start_watcher(&self) -> Result<(), StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let health = Arc::clone(&self.health);
        let db = self.db.clone();
        let meta = self.meta.clone();
        let thread = std::thread::Builder::new()
            .name("store-watch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(health::WATCH_EVERY)
                {
                    if health.check_space().is_ok() || !health.has_failed_write() {
                        continue;
                    }
                    // A failed write with space available: probe, so that
                    // writes resume even when no traffic writes.
                    let probe = meta
                        .insert("write_probe", crate::ids::now_ms().to_be_bytes().to_vec())
                        .map_err(StoreError::from);
                    let db = db.clone();
                    let probed = probe.and_then(|_| {
                        health::within_deadline(&health, "the store's write probe", move || {
                            db.flush().map(drop).map_err(StoreError::from)
                        })
                    });
                    match probed {
                        Ok(()) => health.write_succeeded(),
                        Err(error) => tracing::debug!(%error, "store: write probe failed"),
                    }
                }
            })
            .map_err(|error| StoreError::Io {
                what: "starting the store's watcher thread",
                detail: error.to_string(),
            })?;
        *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some((stop, thread));
        Ok(())
    }

    fn stop_watcher(&self) {
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((stop, thread)) = watcher {
            drop(stop);
            let _ = thread.join();
        }
    }

    /// Held while a configuration change checks and writes records that
    /// depend on each other. Never held across an `.await`, and not
    /// reentrant: a write holding it calls no other write that takes it.
    fn config_lock(&self) -> MutexGuard<'_, ()> {
        self.config_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the database answers reads (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        self.meta.get(b"admin_token").is_ok()
    }
}

/// How every store's database is opened.
fn db_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .cache_capacity(256 << 20)
        .mode(sled::Mode::HighThroughput)
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.stop_watcher();
    }
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod tenant_tests;
#[cfg(test)]
mod tests;
