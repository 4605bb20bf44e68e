//! The embedded store: every record the server keeps, in one sled database
//! under the data dir. The only module that knows sled; the rest of the
//! server speaks domain types. Writes that a response promises are durable
//! go through [`Store::durable`], which groups concurrent flushes.

mod blocks;
mod codec;
mod connectors;
mod deliveries;
mod endpoints;
mod events;
mod flush;
mod key_queues;
pub mod plugins;
mod rejected;
mod snapshot;
mod sources;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwapOption;

pub use deliveries::Due;
pub use events::{EventPage, FanOut, Inserted};
pub use plugins::NewVersion;

use flush::GroupFlush;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption it detected).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be decoded.
    #[error("store: {what} could not be decoded: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// Something outside sled's calls failed.
    #[error("store: {what}: {detail}")]
    Io {
        /// What the store was doing.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// The store is shutting down.
    #[error("store: closed")]
    Closed,
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(error: sled::transaction::TransactionError<StoreError>) -> Self {
        match error {
            sled::transaction::TransactionError::Abort(inner) => inner,
            sled::transaction::TransactionError::Storage(inner) => StoreError::Sled(inner),
        }
    }
}

/// The server's records.
pub struct Store {
    db: sled::Db,
    plugins: sled::Tree,
    plugin_versions: sled::Tree,
    blobs: sled::Tree,
    sources: sled::Tree,
    events: sled::Tree,
    dedupe: sled::Tree,
    rejected: sled::Tree,
    endpoints: sled::Tree,
    /// Every endpoint, kept in step with `endpoints` by its writers.
    endpoint_snapshot: snapshot::Snapshot<Vec<crate::domain::endpoint::Endpoint>>,
    /// Every source, kept in step with `sources` by its writers.
    source_snapshot: snapshot::Snapshot<sources::SourcesByName>,
    connectors: sled::Tree,
    blocks: sled::Tree,
    meta: sled::Tree,
    deliveries: deliveries::DeliveryTrees,
    /// How a newly stored event becomes deliveries, once the engine runs.
    fan_out: Arc<ArcSwapOption<FanOut>>,
    flush: GroupFlush,
    /// Serialises configuration changes whose checks span records
    /// (e.g. "delete this plugin unless a source uses it").
    config_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 << 20)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let tree = |name: &str| db.open_tree(name);
        let events = tree("events")?;
        let dedupe = tree("dedupe")?;
        let deliveries = deliveries::DeliveryTrees::open(&db)?;
        let fan_out = Arc::new(ArcSwapOption::empty());
        // The commit thread inserts ingested events itself, a batch at a time.
        let flush = GroupFlush::start(
            db.clone(),
            events::EventTrees {
                events: events.clone(),
                dedupe: dedupe.clone(),
                deliveries: deliveries.clone(),
                fan_out: Arc::clone(&fan_out),
            },
        )?;
        let store = Store {
            plugins: tree("plugins")?,
            plugin_versions: tree("plugin_versions")?,
            blobs: tree("blobs")?,
            sources: tree("sources")?,
            events,
            dedupe,
            rejected: tree("rejected")?,
            endpoints: tree("endpoints")?,
            endpoint_snapshot: snapshot::Snapshot::empty(),
            source_snapshot: snapshot::Snapshot::empty(),
            connectors: tree("connectors")?,
            blocks: tree("blocks")?,
            meta: tree("meta")?,
            deliveries,
            fan_out,
            flush,
            config_lock: Mutex::new(()),
            db,
        };
        store.refresh_endpoint_snapshot()?;
        store.refresh_source_snapshot()?;
        Ok(store)
    }

    /// Makes every event stored from now on go in with its deliveries, made
    /// by `fan_out`, in the same transaction (the delivery engine installs
    /// it when it starts). Until then events are stored with a marker that
    /// the engine fans out later.
    pub fn set_fan_out(&self, fan_out: FanOut) {
        self.fan_out.store(Some(Arc::new(fan_out)));
    }

    /// Returns once everything the caller wrote is on disk; concurrent
    /// callers share flushes.
    pub async fn durable(&self) -> Result<(), StoreError> {
        self.flush.wait().await
    }

    /// Flushes now, blocking (startup, shutdown, the CLI).
    pub fn flush_now(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Stops the flush thread and flushes what is left. Called on shutdown.
    pub fn close(&self) -> Result<(), StoreError> {
        self.flush.stop();
        self.flush_now()
    }

    /// Held while a configuration change checks and writes records that
    /// depend on each other. Never held across an `.await`.
    pub fn config_lock(&self) -> MutexGuard<'_, ()> {
        self.config_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the database answers (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        self.meta.get(b"admin_token").is_ok()
    }

    /// A free-form value of the server's own (e.g. the admin token).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(key)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Sets a free-form value of the server's own.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key, value.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
