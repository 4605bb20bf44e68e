//! Reading an existing data dir out, for the copy to PostgreSQL
//! ([`crate::store::migrate_sled`]): opening it only if it is a wasmhook
//! store no server holds, and every record of each kind, decoded, in key
//! order. The large kinds (events, deliveries, attempts, …) are iterators
//! that read as the caller goes, so a copy never holds them all at once.

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::codec::{self, decode};
use super::health::Health;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::block::Block;
use crate::domain::connector::Connector;
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::event::CanonicalEvent;
use crate::domain::rejected::RejectedCallback;
use crate::domain::tenant::{ApiKey, AuditEntry, Tenant};
use crate::ids::{DeliveryId, EventId};

/// The files every sled database has; a folder without them is not a store.
const SLED_FILES: [&str; 2] = ["conf", "db"];

/// Trees every wasmhook store has had since its first version; a sled
/// database without them is someone else's.
const WASMHOOK_TREES: [&str; 2] = ["plugins", "events"];

/// Why an existing store was not opened.
#[derive(Debug, thiserror::Error)]
pub(in crate::store) enum Unopenable {
    /// The folder, or a file a sled database has, is missing.
    #[error("{0}")]
    Missing(String),
    /// A sled database, but not a wasmhook store.
    #[error("{0}")]
    NotWasmhook(String),
    /// Another process (a server) has it open.
    #[error("it is locked by another process")]
    Locked,
    /// Opening failed otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One record of a kind read as it goes: a record, or why it could not be
/// read.
pub(in crate::store) type Records<T> = Box<dyn Iterator<Item = Result<T, StoreError>>>;

impl SledStore {
    /// Opens the existing store in `dir` for reading everything out:
    /// refused when `dir` holds no sled database (nothing is created), when
    /// the database is not a wasmhook store, or when another process (a
    /// running server) holds it. Opening upgrades an older data dir as a
    /// server's start would (see [`SledStore::open_with`]).
    pub(in crate::store) fn open_existing(dir: &Path) -> Result<Self, Unopenable> {
        if !dir.is_dir() {
            return Err(Unopenable::Missing("no such directory".to_owned()));
        }
        for file in SLED_FILES {
            if !dir.join(file).is_file() {
                return Err(Unopenable::Missing(format!(
                    "it holds no store (no `{file}` file in {})",
                    dir.display()
                )));
            }
        }
        refuse_if_locked(dir)?;
        let db = match super::db_config(dir).open() {
            Ok(db) => db,
            // The server may have started since the check above; sled says
            // so only in its message.
            Err(sled::Error::Io(error)) if error.to_string().contains("acquire lock") => {
                return Err(Unopenable::Locked);
            }
            Err(error) => return Err(StoreError::from(error).into()),
        };
        let trees = db.tree_names();
        for tree in WASMHOOK_TREES {
            if !trees.iter().any(|name| &name[..] == tree.as_bytes()) {
                return Err(Unopenable::NotWasmhook(format!(
                    "its sled database has no `{tree}` tree"
                )));
            }
        }
        // Nothing is written but the upgrades of `with_db`: no free-space
        // floor.
        let health = Arc::new(Health::new(dir, 0));
        Ok(Self::with_db(db, health)?)
    }

    /// Every tenant, by name (deleted ones included).
    pub(in crate::store) fn export_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        codec::all(&self.tenants)
    }

    /// Every API key, revoked ones included, by id.
    pub(in crate::store) fn export_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        codec::all(&self.api_keys)
    }

    /// Every tenant's audit log, by tenant then id.
    pub(in crate::store) fn export_audit(&self) -> Records<AuditEntry> {
        values(&self.audit)
    }

    /// Every connector, by id.
    pub(in crate::store) fn export_connectors(&self) -> Result<Vec<Connector>, StoreError> {
        codec::all(&self.connectors)
    }

    /// Every block, live and soft-deleted, by tenant then name.
    pub(in crate::store) fn export_blocks(&self) -> Result<Vec<Block>, StoreError> {
        self.all_blocks()
    }

    /// Every event with its tenant, by id.
    pub(in crate::store) fn export_events(&self) -> Records<(Name, CanonicalEvent)> {
        let tree = self.events.clone();
        Box::new(self.events.iter().values().map(move |bytes| {
            let bytes = bytes?;
            let (tenant, event) = super::events::split_stored(&bytes)?;
            Ok((tenant, decode(&tree, event)?))
        }))
    }

    /// Every resend key with the id of the event stored first under it.
    pub(in crate::store) fn export_dedupe(&self) -> Records<([u8; 32], EventId)> {
        Box::new(self.dedupe.iter().map(|entry| {
            let (key, value) = entry?;
            let key = <[u8; 32]>::try_from(&key[..]).map_err(|_| corrupt("a resend key", &key))?;
            let event =
                <[u8; 16]>::try_from(&value[..]).map_err(|_| corrupt("a resend entry", &value))?;
            Ok((key, EventId::from_bytes(event)))
        }))
    }

    /// Every delivery, whatever its state or its endpoint's (deleted
    /// endpoints' included), by id.
    pub(in crate::store) fn export_deliveries(&self) -> Records<Delivery> {
        values(&self.deliveries.deliveries)
    }

    /// Every attempt with its delivery's id, by delivery then number.
    pub(in crate::store) fn export_attempts(&self) -> Records<(DeliveryId, Attempt)> {
        let tree = self.deliveries.attempts.clone();
        Box::new(self.deliveries.attempts.iter().map(move |entry| {
            let (key, value) = entry?;
            let id = key
                .get(..16)
                .and_then(|id| <[u8; 16]>::try_from(id).ok())
                .ok_or_else(|| corrupt("an attempt key", &key))?;
            Ok((DeliveryId::from_bytes(id), decode(&tree, &value)?))
        }))
    }

    /// Every rejected callback, by id.
    pub(in crate::store) fn export_rejected(&self) -> Records<RejectedCallback> {
        values(&self.rejected)
    }

    /// How many events an earlier version stored without fanning them out
    /// (see [`SledStore::unfanned_events`]) are still waiting for it; the
    /// markers of events gone since do not count.
    pub(in crate::store) fn unfanned_count(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for key in self.deliveries.unfanned.iter().keys() {
            if self.events.contains_key(key?)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
impl SledStore {
    /// Marks stored event `id` as an earlier version left it: not fanned
    /// out yet.
    pub(in crate::store) fn mark_unfanned(&self, id: EventId) -> Result<(), StoreError> {
        self.deliveries.unfanned.insert(id.to_bytes(), &[])?;
        Ok(())
    }
}

/// Fails at once when another process holds `dir`'s database: sled's own
/// refusal only shows in an I/O error's text.
fn refuse_if_locked(dir: &Path) -> Result<(), Unopenable> {
    let file = std::fs::File::open(dir.join("db")).map_err(|error| StoreError::Io {
        what: "opening the store's database file",
        detail: error.to_string(),
    })?;
    // The lock sled takes (`flock`, exclusive); released when `file` drops.
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Unopenable::Locked),
        Err(std::fs::TryLockError::Error(error)) => Err(StoreError::Io {
            what: "checking whether a server holds the store",
            detail: error.to_string(),
        }
        .into()),
    }
}

/// Every value of `tree`, decoded, in key order.
fn values<T: DeserializeOwned + 'static>(tree: &sled::Tree) -> Records<T> {
    let decoder = tree.clone();
    Box::new(
        tree.iter()
            .values()
            .map(move |bytes| decode(&decoder, &bytes?)),
    )
}

fn corrupt(what: &'static str, bytes: &[u8]) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: format!("{} bytes, not the expected length", bytes.len()),
    }
}
