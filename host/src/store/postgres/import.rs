//! Importing records as they are into an empty database, in one
//! transaction: what `wasmhook migrate` copies an embedded store into (see
//! [`crate::store::migrate_sled`]). Ids, times and states are the records'
//! own; the columns beside each record are derived by the same code this
//! backend's own writes use, so the copy reads back as if this backend had
//! written it. The delivery engine's order is not stored but follows from
//! the rows (a delivery waits behind the earlier waiting deliveries of its
//! endpoint, or of its key): nothing to rebuild. No delivery is leased and
//! no endpoint has a pace yet, as after a quiet restart.

use std::collections::BTreeMap;

use deadpool_postgres::{Object, Pool, Transaction};

use super::deliveries::{AttemptColumns, DeliveryColumns};
use super::events::encode_event;
use super::rows::{self, encode};
use super::{blocks, commit, config, connectors, endpoints, plugins};
use crate::domain::Name;
use crate::domain::block::Block;
use crate::domain::connector::Connector;
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::endpoint::Endpoint;
use crate::domain::event::CanonicalEvent;
use crate::domain::plugin::{PluginRecord, PluginVersion};
use crate::domain::rejected::RejectedCallback;
use crate::domain::source::Source;
use crate::domain::tenant::{ApiKey, AuditEntry, Tenant, default_tenant};
use crate::ids::{DeliveryId, EventId};
use crate::store::{ConfigChange, StoreError};

/// The tables that hold records, and what their rows are called when a
/// database is refused for holding some.
const RECORD_TABLES: [(&str, &str); 16] = [
    ("api_keys", "API keys"),
    ("audit", "audit entries"),
    ("plugins", "plugins"),
    ("plugin_versions", "plugin versions"),
    ("plugin_blobs", "plugin bytes"),
    ("sources", "sources"),
    ("endpoints", "endpoints"),
    ("connectors", "connectors"),
    ("blocks", "blocks"),
    ("events", "events"),
    ("dedupe", "resend keys"),
    ("deliveries", "deliveries"),
    ("attempts", "attempts"),
    ("rejected", "rejected callbacks"),
    ("endpoint_pace", "endpoint paces"),
    ("tenants", "tenants"),
];

/// A database to import into, migrated to the schema this binary knows.
pub(in crate::store) struct Target {
    client: Object,
    /// Kept so the connection has its pool while the import runs.
    _pool: Pool,
}

/// Why an import did not start.
#[derive(Debug, thiserror::Error)]
pub(in crate::store) enum NotStarted {
    /// The database holds records already: what they are.
    #[error("already holds wasmhook records ({})", .0.join(", "))]
    NotEmpty(Vec<&'static str>),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Target {
    /// Connects to the database at `url` and applies the migrations it
    /// lacks (those a server applies on start; a schema newer than this
    /// binary knows is refused).
    pub(in crate::store) async fn connect(url: &str) -> Result<Target, StoreError> {
        let (pool, _) = super::pool(url, 2)?;
        super::migrate::apply(&pool).await?;
        let client = pool.get().await?;
        Ok(Target {
            client,
            _pool: pool,
        })
    }

    /// Starts the import's one transaction, refused when the database holds
    /// records. What a server's start leaves in a new database (the default
    /// tenant, unchanged since) counts as none: the imported default tenant
    /// replaces it. The transaction holds the configuration lock, so no
    /// node's configuration write and no other import runs meanwhile, and
    /// the emptiness seen here is the one the import commits on.
    pub(in crate::store) async fn begin(&mut self) -> Result<Import<'_>, NotStarted> {
        let tx = config::begin(&mut self.client).await?;
        let held = held_records(&tx).await?;
        if !held.is_empty() {
            return Err(NotStarted::NotEmpty(held));
        }
        Ok(Import { tx })
    }
}

/// What the database holds besides a new database's default tenant, named
/// by kind; empty when nothing.
async fn held_records(tx: &Transaction<'_>) -> Result<Vec<&'static str>, StoreError> {
    let default = default_tenant();
    let mut held = Vec::new();
    for (table, kind) in RECORD_TABLES {
        // The tables are this file's constants, never input.
        let row = if table == "tenants" {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM tenants WHERE name <> $1)",
                &[&default.as_str()],
            )
            .await?
        } else {
            tx.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
                .await?
        };
        let exists: bool = row.try_get(0)?;
        if exists {
            held.push(kind);
        }
    }
    // The default tenant changed, or records written and removed since.
    let changed: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM config_versions WHERE version <> 0)",
            &[],
        )
        .await?
        .try_get(0)?;
    if changed && held.is_empty() {
        held.push("configuration changes");
    }
    Ok(held)
}

/// An import under way: everything written joins one transaction, which
/// [`Import::commit`] commits. Dropped without it, nothing was imported.
pub(in crate::store) struct Import<'a> {
    tx: Transaction<'a>,
}

impl Import<'_> {
    /// A tenant (the default one replaces what a server's start left).
    pub(in crate::store) async fn tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO tenants (name, record) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record",
                &[&tenant.name.as_str(), &encode(tenant)?],
            )
            .await?;
        Ok(())
    }

    /// An API key, revoked or not.
    pub(in crate::store) async fn key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO api_keys (id, tenant, hash, revoked_at, record)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &&key.id.to_bytes()[..],
                    &key.tenant.as_str(),
                    &key.hash,
                    &key.revoked_at.map(rows::ms),
                    &encode(key)?,
                ],
            )
            .await?;
        Ok(())
    }

    /// Audit entries.
    pub(in crate::store) async fn audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tenants = Vec::with_capacity(entries.len());
        let mut ids = Vec::with_capacity(entries.len());
        let mut records = Vec::with_capacity(entries.len());
        for entry in entries {
            tenants.push(entry.tenant.as_str());
            ids.push(entry.id.to_bytes().to_vec());
            records.push(encode(entry)?);
        }
        self.tx
            .execute(
                "INSERT INTO audit (tenant, id, record)
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[])",
                &[&tenants, &ids, &records],
            )
            .await?;
        Ok(())
    }

    /// A plugin's record.
    pub(in crate::store) async fn plugin(&self, record: &PluginRecord) -> Result<(), StoreError> {
        plugins::put(&self.tx, record).await
    }

    /// Version `version` of plugin `name` (its bytes go in with
    /// [`Import::plugin_bytes`]).
    pub(in crate::store) async fn plugin_version(
        &self,
        name: &Name,
        version: &PluginVersion,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO plugin_versions (name, version, sha256, record)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &name.as_str(),
                    &plugins::version_number(version.version),
                    &version.sha256,
                    &encode(version)?,
                ],
            )
            .await?;
        Ok(())
    }

    /// Component bytes, under their SHA-256 (hex).
    pub(in crate::store) async fn plugin_bytes(
        &self,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO plugin_blobs (sha256, bytes) VALUES ($1, $2)",
                &[&sha256, &bytes],
            )
            .await?;
        Ok(())
    }

    /// A source (its ingest token as stored).
    pub(in crate::store) async fn source(&self, source: &Source) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO sources (name, tenant, mapper, record) VALUES ($1, $2, $3, $4)",
                &[
                    &source.name.as_str(),
                    &source.tenant.as_str(),
                    &source.mapper.as_str(),
                    &encode(source)?,
                ],
            )
            .await?;
        Ok(())
    }

    /// An endpoint (its signing secrets as stored).
    pub(in crate::store) async fn endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        endpoints::put(&self.tx, endpoint).await
    }

    /// A connector.
    pub(in crate::store) async fn connector(
        &self,
        connector: &Connector,
    ) -> Result<(), StoreError> {
        connectors::put(&self.tx, connector).await
    }

    /// A block, live or soft-deleted.
    pub(in crate::store) async fn block(&self, block: &Block) -> Result<(), StoreError> {
        blocks::put(&self.tx, block).await
    }

    /// Events with their tenants.
    pub(in crate::store) async fn events(
        &self,
        events: &[(Name, CanonicalEvent)],
    ) -> Result<(), StoreError> {
        let mut ids = Vec::with_capacity(events.len());
        let mut records = Vec::with_capacity(events.len());
        for (_, event) in events {
            ids.push(event.id.to_bytes().to_vec());
            records.push(encode_event(event)?);
        }
        let tenants: Vec<&str> = events.iter().map(|(tenant, _)| tenant.as_str()).collect();
        let sources: Vec<&str> = events
            .iter()
            .map(|(_, event)| event.source.as_str())
            .collect();
        let records: Vec<&str> = records.iter().map(String::as_str).collect();
        commit::insert_events(&self.tx, &ids, &tenants, &sources, &records).await
    }

    /// Resend keys, each with the event first stored under it.
    pub(in crate::store) async fn dedupe(
        &self,
        entries: &[([u8; 32], EventId)],
    ) -> Result<(), StoreError> {
        let keys: Vec<Vec<u8>> = entries.iter().map(|(key, _)| key.to_vec()).collect();
        let events: Vec<Vec<u8>> = entries
            .iter()
            .map(|(_, event)| event.to_bytes().to_vec())
            .collect();
        self.tx
            .execute(
                "INSERT INTO dedupe (key, event) SELECT * FROM unnest($1::bytea[], $2::bytea[])",
                &[&keys, &events],
            )
            .await?;
        Ok(())
    }

    /// Deliveries in whatever state they are: a pending one stays due when
    /// it was, a failed one holding its queue keeps holding it.
    pub(in crate::store) async fn deliveries(
        &self,
        deliveries: &[Delivery],
    ) -> Result<(), StoreError> {
        let mut columns = DeliveryColumns::default();
        for delivery in deliveries {
            columns.push(delivery)?;
        }
        columns.insert(&self.tx).await
    }

    /// Attempts, each with its delivery's id.
    pub(in crate::store) async fn attempts(
        &self,
        attempts: &[(DeliveryId, Attempt)],
    ) -> Result<(), StoreError> {
        let mut columns = AttemptColumns::default();
        for (delivery, attempt) in attempts {
            columns.push(*delivery, attempt)?;
        }
        columns.insert(&self.tx).await
    }

    /// Rejected callbacks.
    pub(in crate::store) async fn rejected(
        &self,
        rejected: &[RejectedCallback],
    ) -> Result<(), StoreError> {
        let mut ids = Vec::with_capacity(rejected.len());
        let mut tenants = Vec::with_capacity(rejected.len());
        let mut sources = Vec::with_capacity(rejected.len());
        let mut states = Vec::with_capacity(rejected.len());
        let mut records = Vec::with_capacity(rejected.len());
        for callback in rejected {
            ids.push(callback.id.to_bytes().to_vec());
            tenants.push(callback.tenant.as_str());
            sources.push(callback.source.as_str());
            states.push(rows::rejected_state(callback.state));
            records.push(encode(callback)?);
        }
        self.tx
            .execute(
                "INSERT INTO rejected (id, tenant, source, state, record)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[])",
                &[&ids, &tenants, &sources, &states, &records],
            )
            .await?;
        Ok(())
    }

    /// How many rows each record table holds now, in this transaction (to
    /// check the import against what was read); deliveries also by state,
    /// as `deliveries:<state>`.
    pub(in crate::store) async fn row_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for (table, _) in RECORD_TABLES {
            let count: i64 = self
                .tx
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .try_get(0)?;
            counts.insert(table.to_owned(), u64::try_from(count).unwrap_or(0));
        }
        for row in self
            .tx
            .query("SELECT state, count(*) FROM deliveries GROUP BY state", &[])
            .await?
        {
            let state: &str = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            counts.insert(
                format!("deliveries:{state}"),
                u64::try_from(count).unwrap_or(0),
            );
        }
        Ok(counts)
    }

    /// Commits the import. Every kind of configuration counts as changed
    /// (its version bumped, a notification sent), so a node already
    /// running on this database reloads what it holds in memory.
    pub(in crate::store) async fn commit(self) -> Result<(), StoreError> {
        for kind in ConfigChange::ALL {
            config::bump(&self.tx, kind).await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}
