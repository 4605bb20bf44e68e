//! Moving an embedded data dir to PostgreSQL (`wasmhook migrate
//! --from-sled`): every record of the sled store, copied as it is (ids,
//! times, secrets, states) into an empty database, in one transaction.
//!
//! Why one transaction: a copy that stops half way (the database goes away,
//! a record does not decode) leaves nothing behind, and running it again is
//! all it takes; a half-filled database would be refused as not empty. The
//! large kinds (audit entries, events, resend keys, deliveries, attempts,
//! rejected callbacks) stream from sled in batches of [`BATCH`], each one
//! multi-row statement, so memory stays flat however large the data dir.
//! Before committing, the rows the transaction holds are counted against
//! what was read.
//!
//! The delivery engine's state needs no translation: a pending delivery
//! keeps its due time and attempts, a failed one holding its queue keeps
//! holding it, and the PostgreSQL backend derives what sled keeps as
//! indexes (what is due, each key's head) from those rows. Nothing is
//! leased and no endpoint has a pace: as after a quiet restart.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::StoreError;
use super::postgres::import::{Import, NotStarted, Target};
use super::postgres::without_password;
use super::sled::SledStore;
use super::sled::export::{Records, Unopenable};
use crate::domain::delivery::DeliveryState;

/// The folder of the store in a data dir.
pub const STORE_DIR: &str = "store";

/// Records read and written per statement.
const BATCH: usize = 1000;

/// What was copied, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Copied {
    /// Tenants, deleted ones included.
    pub tenants: u64,
    /// API keys, revoked ones included.
    pub api_keys: u64,
    /// Audit log entries.
    pub audit_entries: u64,
    /// Plugins.
    pub plugins: u64,
    /// Plugin versions.
    pub plugin_versions: u64,
    /// Distinct component bytes (versions with identical bytes share them).
    pub plugin_blobs: u64,
    /// Sources.
    pub sources: u64,
    /// Endpoints.
    pub endpoints: u64,
    /// Connectors.
    pub connectors: u64,
    /// Blocks, soft-deleted ones included.
    pub blocks: u64,
    /// Events.
    pub events: u64,
    /// The keys resends are recognised by.
    pub resend_keys: u64,
    /// Deliveries still to be attempted.
    pub deliveries_pending: u64,
    /// Deliveries the receiver accepted.
    pub deliveries_succeeded: u64,
    /// Deliveries that failed for good.
    pub deliveries_failed: u64,
    /// Delivery attempts.
    pub attempts: u64,
    /// Rejected callbacks.
    pub rejected_callbacks: u64,
}

impl Copied {
    /// The rows each table must hold after the copy (see
    /// [`Import::row_counts`]).
    fn expected_rows(&self) -> BTreeMap<String, u64> {
        let deliveries =
            self.deliveries_pending + self.deliveries_succeeded + self.deliveries_failed;
        [
            ("tenants", self.tenants),
            ("api_keys", self.api_keys),
            ("audit", self.audit_entries),
            ("plugins", self.plugins),
            ("plugin_versions", self.plugin_versions),
            ("plugin_blobs", self.plugin_blobs),
            ("sources", self.sources),
            ("endpoints", self.endpoints),
            ("connectors", self.connectors),
            ("blocks", self.blocks),
            ("events", self.events),
            ("dedupe", self.resend_keys),
            ("deliveries", deliveries),
            ("deliveries:pending", self.deliveries_pending),
            ("deliveries:succeeded", self.deliveries_succeeded),
            ("deliveries:failed", self.deliveries_failed),
            ("attempts", self.attempts),
            ("rejected", self.rejected_callbacks),
            ("endpoint_pace", 0),
        ]
        .into_iter()
        .map(|(table, count)| (table.to_owned(), count))
        .collect()
    }
}

/// Why a data dir was not copied. Every failure leaves the database without
/// any of the data dir's records.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The data dir does not exist.
    #[error("{path}: no such directory")]
    NoDir {
        /// The data dir.
        path: PathBuf,
    },
    /// The folder is not a data dir an embedded server wrote.
    #[error("{path} is not a wasmhook data dir: {detail}")]
    NotADataDir {
        /// The folder.
        path: PathBuf,
        /// What it lacks.
        detail: String,
    },
    /// A server has the data dir open.
    #[error(
        "{path} is in use by a running wasmhook server (its store is locked): stop the server first"
    )]
    Locked {
        /// The data dir.
        path: PathBuf,
    },
    /// Events an earlier version stored are not fanned out yet; the
    /// PostgreSQL backend would never fan them out.
    #[error(
        "{path} holds {count} events stored by an earlier wasmhook and not yet fanned out to \
         the endpoints: run `wasmhook serve --data-dir {path}` once (it fans them out at start), \
         stop it, and migrate again"
    )]
    Unfanned {
        /// The data dir.
        path: PathBuf,
        /// How many.
        count: usize,
    },
    /// The database could not be connected to or migrated.
    #[error("database {url}: {source}")]
    Database {
        /// The URL without its password.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// The database holds records already.
    #[error(
        "database {url} {refusal}: migrate into an empty database (`CREATE DATABASE …`); \
         nothing was copied"
    )]
    NotEmpty {
        /// The URL without its password.
        url: String,
        /// What it holds.
        refusal: String,
    },
    /// Reading the data dir failed during the copy.
    #[error("reading {path}: {source}; nothing was copied")]
    Read {
        /// The data dir.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// Writing to the database failed during the copy.
    #[error(
        "writing to database {url}: {source}; nothing was copied (the transaction was rolled back)"
    )]
    Write {
        /// The URL without its password.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// The database's rows do not add up to what was read.
    #[error("database {url}: {detail}; nothing was copied (the transaction was rolled back)")]
    Mismatch {
        /// The URL without its password.
        url: String,
        /// Which table holds how many.
        detail: String,
    },
}

/// Copies the embedded store of `data_dir` (what `wasmhook serve
/// --data-dir` wrote; its `store` folder itself is accepted too) into the
/// empty PostgreSQL database at `url`, after applying the migrations a
/// server applies on start. `progress` hears the running count of a large
/// kind after each batch. Refused when `data_dir` is not a data dir, when a
/// server holds it, or when the database holds records.
pub async fn migrate_sled(
    data_dir: &Path,
    url: &str,
    mut progress: impl FnMut(&'static str, u64),
) -> Result<Copied, MigrateError> {
    let shown = without_password(url);
    let source = open_source(data_dir)?;
    let copied = copy(&source, data_dir, url, &shown, &mut progress).await;
    // Reading wrote nothing a server would not have (see `open_existing`):
    // a failure to close it is not the copy's.
    if let Err(error) = source.close() {
        tracing::warn!(%error, "closing the data dir after the copy failed");
    }
    copied
}

/// Opens the store of `data_dir` for reading, or says why it cannot be.
fn open_source(data_dir: &Path) -> Result<SledStore, MigrateError> {
    if !data_dir.is_dir() {
        return Err(MigrateError::NoDir {
            path: data_dir.to_owned(),
        });
    }
    let nested = data_dir.join(STORE_DIR);
    let store_dir = if nested.is_dir() {
        nested
    } else if data_dir.join("db").is_file() {
        // The store folder itself.
        data_dir.to_owned()
    } else {
        return Err(MigrateError::NotADataDir {
            path: data_dir.to_owned(),
            detail: format!("it has no `{STORE_DIR}` folder"),
        });
    };
    SledStore::open_existing(&store_dir).map_err(|error| match error {
        Unopenable::Locked => MigrateError::Locked {
            path: data_dir.to_owned(),
        },
        Unopenable::Missing(detail) | Unopenable::NotWasmhook(detail) => {
            MigrateError::NotADataDir {
                path: data_dir.to_owned(),
                detail,
            }
        }
        Unopenable::Store(source) => MigrateError::Read {
            path: data_dir.to_owned(),
            source,
        },
    })
}

/// The copy proper, from the open `source` to the database at `url`.
async fn copy(
    source: &SledStore,
    data_dir: &Path,
    url: &str,
    shown: &str,
    progress: &mut dyn FnMut(&'static str, u64),
) -> Result<Copied, MigrateError> {
    let read = |source| MigrateError::Read {
        path: data_dir.to_owned(),
        source,
    };
    let unfanned = source.unfanned_count().map_err(read)?;
    if unfanned > 0 {
        return Err(MigrateError::Unfanned {
            path: data_dir.to_owned(),
            count: unfanned,
        });
    }
    let database = |source| MigrateError::Database {
        url: shown.to_owned(),
        source,
    };
    let mut target = Target::connect(url).await.map_err(database)?;
    let import = target.begin().await.map_err(|error| match error {
        NotStarted::NotEmpty(_) => MigrateError::NotEmpty {
            url: shown.to_owned(),
            refusal: error.to_string(),
        },
        NotStarted::Store(source) => database(source),
    })?;
    let mut copier = Copier {
        source,
        import: &import,
        copied: Copied::default(),
        data_dir,
        shown,
    };
    copier.configuration().await?;
    copier.records(progress).await?;
    let copied = copier.copied;
    let found = import
        .row_counts()
        .await
        .map_err(|source| write_error(shown, source))?;
    let expected = copied.expected_rows();
    let differences: Vec<String> = expected
        .iter()
        .filter(|(table, count)| found.get(*table).copied().unwrap_or(0) != **count)
        .map(|(table, count)| {
            format!(
                "{table} holds {} rows where {count} were copied",
                found.get(table).copied().unwrap_or(0)
            )
        })
        .collect();
    if !differences.is_empty() {
        return Err(MigrateError::Mismatch {
            url: shown.to_owned(),
            detail: differences.join(", "),
        });
    }
    import
        .commit()
        .await
        .map_err(|source| write_error(shown, source))?;
    Ok(copied)
}

fn write_error(shown: &str, source: StoreError) -> MigrateError {
    MigrateError::Write {
        url: shown.to_owned(),
        source,
    }
}

/// One copy under way: where from, where to, what so far.
struct Copier<'a> {
    source: &'a SledStore,
    import: &'a Import<'a>,
    copied: Copied,
    data_dir: &'a Path,
    shown: &'a str,
}

impl Copier<'_> {
    fn read(&self, source: StoreError) -> MigrateError {
        MigrateError::Read {
            path: self.data_dir.to_owned(),
            source,
        }
    }

    fn write(&self, source: StoreError) -> MigrateError {
        write_error(self.shown, source)
    }

    /// Tenants and keys, plugins with their versions and bytes, and what
    /// uses them: few records, each its own statement.
    async fn configuration(&mut self) -> Result<(), MigrateError> {
        let (source, import) = (self.source, self.import);
        for tenant in source.export_tenants().map_err(|e| self.read(e))? {
            import.tenant(&tenant).await.map_err(|e| self.write(e))?;
            self.copied.tenants += 1;
        }
        for key in source.export_keys().map_err(|e| self.read(e))? {
            import.key(&key).await.map_err(|e| self.write(e))?;
            self.copied.api_keys += 1;
        }
        let mut blobs = HashSet::new();
        for plugin in source.plugins().map_err(|e| self.read(e))? {
            import.plugin(&plugin).await.map_err(|e| self.write(e))?;
            self.copied.plugins += 1;
            for version in source
                .plugin_versions(&plugin.name)
                .map_err(|e| self.read(e))?
            {
                // Versions with identical bytes share them: each once.
                if !blobs.contains(&version.sha256) {
                    let bytes = source
                        .plugin_bytes(&plugin.name, version.version)
                        .map_err(|e| self.read(e))?
                        .ok_or_else(|| {
                            self.read(StoreError::Corrupt {
                                what: "a plugin version",
                                detail: format!(
                                    "the bytes of `{}` version {} are missing",
                                    plugin.name, version.version
                                ),
                            })
                        })?;
                    import
                        .plugin_bytes(&version.sha256, &bytes)
                        .await
                        .map_err(|e| self.write(e))?;
                    blobs.insert(version.sha256.clone());
                }
                import
                    .plugin_version(&plugin.name, &version)
                    .await
                    .map_err(|e| self.write(e))?;
                self.copied.plugin_versions += 1;
            }
        }
        self.copied.plugin_blobs = blobs.len() as u64;
        for connector in source.export_connectors().map_err(|e| self.read(e))? {
            import
                .connector(&connector)
                .await
                .map_err(|e| self.write(e))?;
            self.copied.connectors += 1;
        }
        for record in source.all_sources().map_err(|e| self.read(e))? {
            import.source(&record).await.map_err(|e| self.write(e))?;
            self.copied.sources += 1;
        }
        for endpoint in source.all_endpoints().map_err(|e| self.read(e))? {
            import
                .endpoint(&endpoint)
                .await
                .map_err(|e| self.write(e))?;
            self.copied.endpoints += 1;
        }
        for block in source.export_blocks().map_err(|e| self.read(e))? {
            import.block(&block).await.map_err(|e| self.write(e))?;
            self.copied.blocks += 1;
        }
        Ok(())
    }

    /// The kinds that grow with traffic, in batches.
    async fn records(
        &mut self,
        progress: &mut dyn FnMut(&'static str, u64),
    ) -> Result<(), MigrateError> {
        let (source, import) = (self.source, self.import);
        let mut audit = source.export_audit();
        while let Some(batch) = self.next_batch(&mut audit)? {
            import.audit(&batch).await.map_err(|e| self.write(e))?;
            self.copied.audit_entries += batch.len() as u64;
        }
        let mut events = source.export_events();
        while let Some(batch) = self.next_batch(&mut events)? {
            import.events(&batch).await.map_err(|e| self.write(e))?;
            self.copied.events += batch.len() as u64;
            progress("events", self.copied.events);
        }
        let mut dedupe = source.export_dedupe();
        while let Some(batch) = self.next_batch(&mut dedupe)? {
            import.dedupe(&batch).await.map_err(|e| self.write(e))?;
            self.copied.resend_keys += batch.len() as u64;
        }
        let mut deliveries = source.export_deliveries();
        let mut count = 0;
        while let Some(batch) = self.next_batch(&mut deliveries)? {
            import.deliveries(&batch).await.map_err(|e| self.write(e))?;
            for delivery in &batch {
                match delivery.state {
                    DeliveryState::Pending => self.copied.deliveries_pending += 1,
                    DeliveryState::Succeeded => self.copied.deliveries_succeeded += 1,
                    DeliveryState::Failed => self.copied.deliveries_failed += 1,
                }
            }
            count += batch.len() as u64;
            progress("deliveries", count);
        }
        let mut attempts = source.export_attempts();
        while let Some(batch) = self.next_batch(&mut attempts)? {
            import.attempts(&batch).await.map_err(|e| self.write(e))?;
            self.copied.attempts += batch.len() as u64;
            progress("attempts", self.copied.attempts);
        }
        let mut rejected = source.export_rejected();
        while let Some(batch) = self.next_batch(&mut rejected)? {
            import.rejected(&batch).await.map_err(|e| self.write(e))?;
            self.copied.rejected_callbacks += batch.len() as u64;
        }
        Ok(())
    }

    /// The next at most [`BATCH`] records, `None` once there are no more.
    fn next_batch<T>(&self, records: &mut Records<T>) -> Result<Option<Vec<T>>, MigrateError> {
        let mut batch = Vec::with_capacity(BATCH);
        for record in records.by_ref().take(BATCH) {
            batch.push(record.map_err(|e| self.read(e))?);
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

#[cfg(test)]
#[path = "migrate_sled_tests.rs"]
mod tests;
