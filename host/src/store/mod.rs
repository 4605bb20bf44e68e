//! The store port: every record the server keeps, behind one interface the
//! rest of the server speaks in domain types. Two backends implement it:
//! [`sled`](self::sled) (embedded, the default: one process, one data dir)
//! and [`postgres`](self::postgres) (shared by any number of nodes). Nothing
//! outside this module knows which one runs.
//!
//! The port is an enum over the backends rather than a trait object: each
//! call is a `match` the compiler checks for every backend, futures are not
//! boxed on the ingest and delivery paths, and the embedded backend's calls
//! stay plain function calls. Records every request reads (tenants and
//! keys, sources, endpoints) are answered from memory by both backends.
//!
//! Writes a response promises are durable go through [`Store::durable`].
//! Configuration writes check what they depend on and what depends on them
//! atomically, and refuse with a [`ConfigRefusal`].

mod error;
#[cfg(test)]
mod kept_callbacks_tests;
mod migrate_sled;
// The shared backend, selected by `--database-url`.
mod postgres;
mod records;
mod refusal;
mod sled;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub use error::StoreError;
pub use migrate_sled::{Copied, MigrateError, STORE_DIR, migrate_sled};
pub use postgres::without_password;
pub use records::{
    AddVersionError, AddedVersion, AuditPage, Claimed, ConfigChange, Due, EventPage, Expired,
    Inserted, NewEvent, NewVersion, PoolFigures, Sweep, SweepCursor, Uploader,
};
pub use refusal::{ConfigRefusal, ConfigWriteError};
pub use sled::health;

use crate::domain::Name;
use crate::domain::block::{Block, BlockName};
use crate::domain::connector::Connector;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::Endpoint;
use crate::domain::event::{CanonicalEvent, EventFilter};
use crate::domain::plugin::{HostPattern, PluginRecord, PluginVersion};
use crate::domain::rejected::{KeptCallback, RejectedCallback, RejectedState};
use crate::domain::source::Source;
use crate::domain::tenant::{ApiKey, AuditEntry, Tenant};
use crate::ids::{
    AuditId, CallbackId, ConnectorId, DeliveryId, EndpointId, EventId, KeyId, RejectedId,
};
use crate::runtime::LimitsOverride;

#[cfg(test)]
pub use sled::DEFAULT_MIN_FREE_BYTES;

/// The server's records, in whichever backend the operator chose.
pub struct Store {
    backend: Backend,
}

/// The backends. One per process, built once: the size of the embedded
/// one's variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Backend {
    /// One sled database in the data dir.
    Sled(sled::SledStore),
    /// A PostgreSQL database any number of nodes share.
    Postgres(postgres::PgStore),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Sled(_) => "sled",
            Backend::Postgres(_) => "postgres",
        };
        f.debug_struct("Store").field("backend", &backend).finish()
    }
}

impl Store {
    #[cfg(test)]
    /// Opens (creating if needed) the embedded store in `dir`, refusing
    /// writes below [`DEFAULT_MIN_FREE_BYTES`] free.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_MIN_FREE_BYTES)
    }

    /// Opens (creating if needed) the embedded store in `dir`, refusing
    /// writes while its filesystem has fewer than `min_free_bytes` free.
    /// Fails at once when it has fewer now.
    pub fn open_with(dir: &Path, min_free_bytes: u64) -> Result<Self, StoreError> {
        Ok(Store {
            backend: Backend::Sled(sled::SledStore::open_with(dir, min_free_bytes)?),
        })
    }
}

impl Store {
    /// Connects to the PostgreSQL database at `url` (applying the
    /// migrations it lacks, refusing a schema newer than this binary
    /// knows) with a pool of at most `pool_size` connections; deliveries
    /// this node attempts are leased to it for `lease_ms`.
    pub async fn connect_postgres(
        url: &str,
        pool_size: usize,
        lease_ms: u64,
    ) -> Result<Self, StoreError> {
        let store = postgres::PgStore::connect_with(url, pool_size).await?;
        Ok(Store {
            backend: Backend::Postgres(store.with_delivery_lease(lease_ms)),
        })
    }

    /// How the database connection pool stands, for a backend that has one.
    pub fn pool_figures(&self) -> Option<PoolFigures> {
        match &self.backend {
            Backend::Sled(_) => None,
            Backend::Postgres(store) => Some(store.pool_figures()),
        }
    }

    /// Which kind of configuration changed, on this node or another, for a
    /// backend that several nodes share; `None` for the embedded one (only
    /// this process writes it).
    pub fn config_changes(&self) -> Option<tokio::sync::broadcast::Receiver<ConfigChange>> {
        match &self.backend {
            Backend::Sled(_) => None,
            Backend::Postgres(store) => Some(store.config_changes()),
        }
    }

    /// Woken when any node sharing the store stores new deliveries (a
    /// store of one node has none: its ingest wakes the engine itself).
    pub fn new_deliveries(&self) -> Option<Arc<tokio::sync::Notify>> {
        match &self.backend {
            Backend::Sled(_) => None,
            Backend::Postgres(store) => Some(store.new_deliveries()),
        }
    }

    /// Whether other nodes may share this store. Then its claims lease the
    /// deliveries they hand out and hold each endpoint's ordering,
    /// concurrency cap and rate limit across every node, so the delivery
    /// engine leaves pacing to them; otherwise the engine paces endpoints
    /// itself, in memory.
    pub fn is_shared(&self) -> bool {
        match &self.backend {
            Backend::Sled(_) => false,
            Backend::Postgres(_) => true,
        }
    }
}

/// Port methods answered from memory by every backend.
macro_rules! in_memory {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sled(store) => store.$name($($arg),*),
                        Backend::Postgres(store) => store.$name($($arg),*),
                    }
                }
            )*
        }
    };
}

/// Port methods the embedded backend answers without waiting (a sled read
/// or write is a memory operation; durability is [`Store::durable`]'s).
macro_rules! sled_answers_at_once {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sled(store) => store.$name($($arg),*),
                        Backend::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

/// Port methods every backend answers asynchronously.
macro_rules! both_wait {
    ($($(#[$doc:meta])* fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match &self.backend {
                        Backend::Sled(store) => store.$name($($arg),*).await,
                        Backend::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

// Served from memory: the records every request reads, kept in step with
// the store by its writers.
in_memory! {
    /// Tenant `name`, live, disabled or deleted.
    fn tenant(&self, name: &Name) -> Option<Arc<Tenant>>;
    /// Every tenant, by name.
    fn tenants(&self) -> Vec<Tenant>;
    /// The live key whose secret hashes to `hash`, with its tenant.
    fn key_by_hash(&self, hash: &str) -> Option<(Arc<ApiKey>, Arc<Tenant>)>;
    /// How many sources and endpoints `tenant` has (its quotas' counts).
    fn tenant_usage(&self, tenant: &Name) -> (usize, usize);
    /// A source by name, whoever's, from the snapshot: no store read, no
    /// decoding (what ingest reads).
    fn source(&self, name: &str) -> Option<Arc<Source>>;
    /// `tenant`'s source `name`.
    fn tenant_source(&self, tenant: &Name, name: &str) -> Option<Arc<Source>>;
    /// Every endpoint as of the last change, oldest first, without reading
    /// the store: what the delivery engine matches each event against.
    fn endpoint_snapshot(&self) -> Arc<Vec<Endpoint>>;
    /// Whether dropping the store's last handle is safe: sled flushes when
    /// its last handle drops, and after a failed write that flush may never
    /// return (see [`health`]). A caller about to drop the store after a
    /// failure keeps it alive instead (the process is ending anyway).
    fn safe_to_drop(&self) -> bool;
    /// Ok when the store takes writes now: enough free space, no failed
    /// write. Every write the API makes starts with this.
    fn writable(&self) -> Result<(), StoreError>;
    /// Why writes are refused, if they are (`/readyz`).
    fn write_problem(&self) -> Option<String>;
    /// Why only a restart can make the store write again, if so
    /// (`/healthz`).
    fn needs_restart(&self) -> Option<String>;
}

// The sled backend answers these without waiting.
sled_answers_at_once! {
    /// Stores a new tenant, refused when the name is taken (by a live or a
    /// deleted one). Not durable until [`Store::durable`] returns.
    fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigWriteError>;
    /// Stores a new key. Not durable until [`Store::durable`] returns.
    fn create_key(&self, key: &ApiKey) -> Result<(), ConfigWriteError>;
    /// `tenant`'s keys, revoked ones included, oldest first.
    fn keys(&self, tenant: &Name) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes `tenant`'s key `id` at `now_ms`; it is refused from then on.
    /// Revoking a revoked key changes nothing. Not durable until
    /// [`Store::durable`] returns.
    fn revoke_key(&self, tenant: &Name, id: KeyId, now_ms: u64) -> Result<ApiKey, ConfigWriteError>;
    /// Appends `entry` to its tenant's audit log. Durable with the change
    /// it records (the caller waits for [`Store::durable`]).
    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// `tenant`'s audit log, newest first, before the cursor `before`, at
    /// most `limit` entries.
    fn audit_log(
        &self,
        tenant: &Name,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<AuditPage, StoreError>;
    /// A plugin's record.
    fn plugin(&self, name: &Name) -> Result<Option<PluginRecord>, StoreError>;
    /// Every plugin, by name.
    fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError>;
    /// A plugin's versions, oldest first.
    fn plugin_versions(&self, name: &Name) -> Result<Vec<PluginVersion>, StoreError>;
    /// The component bytes of a version.
    fn plugin_bytes(&self, name: &Name, version: u32) -> Result<Option<Vec<u8>>, StoreError>;
    /// Adds the next version of `name` (creating the plugin on its first
    /// upload), atomically with its bytes and record; bytes identical to an
    /// existing version answer that version instead (activating it when
    /// asked).
    fn add_plugin_version(
        &self,
        name: &Name,
        new: NewVersion<'_>,
    ) -> Result<AddedVersion, AddVersionError>;
    /// Makes `version` the active one. `None` when the plugin or version
    /// does not exist.
    fn activate_plugin(
        &self,
        name: &Name,
        version: u32,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError>;
    /// Replaces a plugin's allowed hosts and/or limits (`None` keeps
    /// what is set). `None` when there is no such plugin.
    fn set_plugin_settings(
        &self,
        name: &Name,
        allowed_hosts: Option<Vec<HostPattern>>,
        limits: Option<LimitsOverride>,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError>;
    /// Removes a plugin, its versions and the bytes no other version uses;
    /// refused while a source, endpoint or block uses it. Not durable
    /// until [`Store::durable`] returns.
    fn delete_plugin(&self, name: &Name) -> Result<(), ConfigWriteError>;
    /// `tenant`'s sources, by name.
    fn sources(&self, tenant: &Name) -> Result<Vec<Source>, StoreError>;
    /// Stores a new source, refused when its name is taken or its mapper
    /// is not an uploaded mapper. Not durable until [`Store::durable`]
    /// returns.
    fn create_source(&self, source: &Source) -> Result<(), ConfigWriteError>;
    /// Removes a source; its events stay. Not durable until
    /// [`Store::durable`] returns.
    fn delete_source(&self, tenant: &Name, name: &Name) -> Result<(), ConfigWriteError>;
    /// Endpoint `id` of `tenant`.
    fn endpoint(&self, tenant: &Name, id: EndpointId) -> Result<Option<Endpoint>, StoreError>;
    /// `tenant`'s endpoints, oldest first.
    fn endpoints(&self, tenant: &Name) -> Result<Vec<Endpoint>, StoreError>;
    /// Stores a new endpoint, refused when its connector or renderer is
    /// missing. Not durable until [`Store::durable`] returns.
    fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), ConfigWriteError>;
    /// Disables endpoint `id` (its receiver answered 410 Gone); `false`
    /// when it is gone from the store too.
    fn disable_endpoint(&self, id: EndpointId, now_ms: u64) -> Result<bool, StoreError>;
    /// Removes an endpoint and fails its pending deliveries visibly (nothing
    /// would ever attempt them); they stay readable. Not durable until
    /// [`Store::durable`] returns.
    fn delete_endpoint(
        &self,
        tenant: &Name,
        id: EndpointId,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError>;
    /// Connector `id` of `tenant`.
    fn connector(&self, tenant: &Name, id: ConnectorId) -> Result<Option<Connector>, StoreError>;
    /// `tenant`'s connector named `name`.
    fn connector_by_name(
        &self,
        tenant: &Name,
        name: &Name,
    ) -> Result<Option<Connector>, StoreError>;
    /// `tenant`'s connector `key` names: an id (`conn_…`) or a name.
    fn connector_by_key(&self, tenant: &Name, key: &str) -> Result<Option<Connector>, StoreError>;
    /// `tenant`'s connectors, oldest first.
    fn connectors(&self, tenant: &Name) -> Result<Vec<Connector>, StoreError>;
    /// Stores a new connector, refused when its name is taken. Not durable
    /// until [`Store::durable`] returns.
    fn create_connector(&self, connector: &Connector) -> Result<(), ConfigWriteError>;
    /// Removes connector `id`, refused while endpoints or blocks use it.
    /// Not durable until [`Store::durable`] returns.
    fn delete_connector(&self, tenant: &Name, id: ConnectorId) -> Result<(), ConfigWriteError>;
    /// `tenant`'s block by name, live or soft-deleted.
    fn block(&self, tenant: &Name, name: &BlockName) -> Result<Option<Block>, StoreError>;
    /// `tenant`'s blocks, live and soft-deleted, by name.
    fn blocks(&self, tenant: &Name) -> Result<Vec<Block>, StoreError>;
    /// Stores a new block, refused when its name is taken (by a live or a
    /// soft-deleted block) or its plugin or connector is missing. Not
    /// durable until [`Store::durable`] returns.
    fn create_block(&self, block: &Block) -> Result<(), ConfigWriteError>;
    /// Soft-deletes the block `name`: it stays readable and restorable.
    /// Refused when there is none or it is deleted already. Not durable
    /// until [`Store::durable`] returns.
    fn soft_delete_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError>;
    /// Brings the soft-deleted block `name` back. Refused when there is
    /// none or it is not deleted. Not durable until [`Store::durable`]
    /// returns.
    fn restore_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<Block, ConfigWriteError>;
    /// Stores events with their deliveries unless they are resends of
    /// stored ones. Not durable until [`Store::durable`] returns;
    /// [`Store::commit_events`] does both.
    #[cfg(test)]
    fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;
    /// `tenant`'s event `id`.
    fn event(&self, tenant: &Name, id: EventId) -> Result<Option<CanonicalEvent>, StoreError>;
    /// One event (whoever's) as the JSON text of its canonical shape: what
    /// renderers and request templates see, without decoding it at all.
    fn event_json(&self, id: EventId) -> Result<Option<String>, StoreError>;
    /// Number of events stored.
    #[cfg(test)]
    fn event_count(&self) -> usize;
    /// `tenant`'s events passing `filter`, newest first, one page.
    fn list_events(
        &self,
        tenant: &Name,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<EventPage, StoreError>;
    /// Stores (or replaces) a rejected callback.
    fn put_rejected(&self, rejected: &RejectedCallback) -> Result<(), StoreError>;
    /// One rejected callback.
    fn rejected(&self, id: RejectedId) -> Result<Option<RejectedCallback>, StoreError>;
    /// `tenant`'s source's rejected callbacks, newest first, optionally
    /// only those in `state`, at most `limit`. (A source's name can pass to
    /// another tenant once it is deleted; its callbacks do not.)
    fn rejected_of(
        &self,
        tenant: &Name,
        source: &str,
        state: Option<RejectedState>,
        limit: usize,
    ) -> Result<Vec<RejectedCallback>, StoreError>;
    /// Keeps accepted callbacks for the callback retention, without
    /// waiting for the disk (they are a record for replays, not something
    /// a response promised).
    fn keep_callbacks(&self, callbacks: &[KeptCallback]) -> Result<(), StoreError>;
    /// `tenant`'s source's kept callbacks that arrived at or after
    /// `since_ms` and before the callback `before` (a cursor), newest
    /// first, at most `limit`.
    fn kept_callbacks_of(
        &self,
        tenant: &Name,
        source: &str,
        since_ms: u64,
        before: Option<CallbackId>,
        limit: usize,
    ) -> Result<Vec<KeptCallback>, StoreError>;
    /// Removes kept callbacks older than `window_cutoff_ms`, or than their
    /// tenant's cutoff in `cutoffs` when that is later, oldest first from
    /// `cursor` (start with `None`), reading at most `budget`. Returns the
    /// removed per tenant and whether to call again.
    fn expire_kept_callbacks(
        &self,
        cutoffs: &HashMap<Name, u64>,
        window_cutoff_ms: u64,
        cursor: &mut Option<Vec<u8>>,
        budget: usize,
    ) -> Result<(HashMap<Name, u64>, bool), StoreError>;
    /// Events stored but not yet fanned out, with their tenants, oldest id
    /// first, at most `limit`. A marker whose event is gone (a resend
    /// removed again) is dropped.
    fn unfanned_events(
        &self,
        limit: usize,
    ) -> Result<Vec<(crate::domain::Name, crate::domain::event::CanonicalEvent)>, StoreError>;
    /// Stores the deliveries made from `events` and removes their markers,
    /// in one transaction: a crash leaves either both or neither, so no
    /// event is fanned out twice or never.
    fn record_fanout(&self, deliveries: &[Delivery], events: &[EventId]) -> Result<(), StoreError>;
    /// Takes up to `limit` of `endpoint`'s deliveries due at `now_ms` for
    /// this node to attempt, as its ordering allows: with `endpoint`
    /// ordering only the delivery of its earliest pending event, with
    /// `key` ordering only each key's head. A store other nodes share
    /// also keeps at most `cap` of the endpoint's deliveries in flight
    /// across them (one with `endpoint` ordering), paces its rate limit
    /// across them, and leases what it hands out (see [`Store::is_shared`]).
    fn claim_due(
        &self,
        endpoint: &Endpoint,
        now_ms: u64,
        limit: usize,
        cap: usize,
    ) -> Result<Claimed, StoreError>;
    /// When `endpoint`'s earliest pending delivery is due, if it has one.
    fn next_due_at(&self, endpoint: EndpointId) -> Result<Option<u64>, StoreError>;
    /// Pending deliveries in all (those waiting behind a key's head and
    /// those held included), for the queue-depth metric.
    fn pending_count(&self) -> usize;
    /// One delivery.
    fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError>;
    /// A delivery's attempts, in order.
    fn attempts(&self, id: DeliveryId) -> Result<Vec<Attempt>, StoreError>;
    /// Replaces a delivery's state (manual retry, replay), re-indexing it.
    fn update_delivery(
        &self,
        delivery: &Delivery,
        previous_due: Option<u64>,
    ) -> Result<(), StoreError>;
    /// An endpoint's deliveries, newest first, optionally in one state,
    /// created before `before` (a cursor), at most `limit`.
    fn deliveries_of(
        &self,
        endpoint: EndpointId,
        state: Option<DeliveryState>,
        before: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Removes the records older than their tenant's cutoff (epoch ms; a
    /// tenant absent from `cutoffs` keeps everything), oldest first from
    /// `cursor`, reading at most `budget` records of each kind;
    /// [`Sweep::more`] says whether to call again.
    fn expire(
        &self,
        cutoffs: &HashMap<Name, u64>,
        cursor: &mut SweepCursor,
        budget: usize,
    ) -> Result<Sweep, StoreError>;
    /// Flushes now, blocking (startup, shutdown, the CLI), for at most
    /// [`health::FLUSH_DEADLINE`].
    fn flush_now(&self) -> Result<(), StoreError>;
    /// Stops the flush and watcher threads and flushes what is left.
    /// Called on shutdown.
    fn close(&self) -> Result<(), StoreError>;
    /// Whether the database answers reads (for `/readyz`).
    fn is_ready(&self) -> bool;
}

// Both backends wait for these.
both_wait! {
    /// Stores events with their deliveries unless they are resends of
    /// stored ones, and returns once they are on disk. The inserts run on
    /// the store's commit thread, with other requests' inserts in one
    /// transaction under one flush.
    fn commit_events(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError>;
    /// Records an attempt and the delivery's new state (and due time) at
    /// once. The write joins the commit thread's next transaction with
    /// everything else written at the time: a transaction locks the whole
    /// database, so one per attempt would stall every reader under load.
    /// Returns once written, without waiting for the disk: an attempt lost
    /// to a crash is made again (deliveries are at least once).
    fn commit_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        previous_due: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Returns once everything the caller wrote is on disk; concurrent
    /// callers share flushes.
    fn durable(&self) -> Result<(), StoreError>;
}

/// A configuration change that reads the record, lets the caller change
/// it, and writes it back, atomically.
macro_rules! read_change_write {
    ($(
        $(#[$doc:meta])*
        fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $record:ty;
    )*) => {
        impl Store {
            $(
                $(#[$doc])*
                pub async fn $name<E>(
                    &self
                    $(, $arg: $ty)*,
                    change: impl FnOnce(&mut $record) -> Result<(), E> + Send,
                ) -> Result<$record, E>
                where
                    E: From<ConfigWriteError> + Send,
                {
                    match &self.backend {
                        Backend::Sled(store) => store.$name($($arg,)* change),
                        Backend::Postgres(store) => store.$name($($arg,)* change).await,
                    }
                }
            )*
        }
    };
}

read_change_write! {
    /// Changes tenant `name` with `change`; its name stays. `change` runs
    /// while the write holds the records it checks: it must not write.
    fn update_tenant(&self, name: &Name) -> Tenant;
    /// Changes the source `name` with `change` and stores it, refused
    /// when there is no such source, when `change` refuses, or when the
    /// changed source's mapper is not an uploaded mapper. Returns the
    /// source as stored. `change` must not write.
    fn update_source(&self, tenant: &Name, name: &str) -> Source;
    /// Changes endpoint `id` with `change` and stores it, refused when
    /// there is no such endpoint, when `change` refuses, or when the
    /// changed endpoint's connector or renderer is missing. Returns the
    /// endpoint as stored. `change` must not write.
    fn update_endpoint(&self, tenant: &Name, id: EndpointId) -> Endpoint;
    /// Changes connector `id` with `change` and stores it, refused when
    /// there is no such connector, when `change` refuses, or when it
    /// renames the connector to a taken name or while blocks name it.
    /// Returns the connector as stored. `change` must not write.
    fn update_connector(&self, tenant: &Name, id: ConnectorId) -> Connector;
    /// Changes the live block `name` with `change` and stores it, refused
    /// when there is no such block, when it is deleted, when `change`
    /// refuses, or when the changed block's plugin or connector is
    /// missing. Returns the block as stored. `change` must not write.
    fn update_block(&self, tenant: &Name, name: &BlockName) -> Block;
}

/// Waits for a port call on a blocking thread: plugin loading and
/// compiling run on one (and call the store for a plugin's record and
/// bytes), and so does startup. Panics on an async worker thread, where the
/// call is `.await`ed instead.
pub fn wait<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(call)
}
