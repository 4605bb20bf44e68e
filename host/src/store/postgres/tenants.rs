//! Tenants, their API keys and their audit log. Tenants and live keys are
//! read on every request, so readers use an in-memory directory that every
//! node refreshes on a change (its own at once, others' through the
//! listener). The audit log is indexed (tenant, id), a tenant's log one
//! range.

use std::collections::HashMap;
use std::sync::Arc;

use super::rows::{self, encode, record, records};
use super::{PgStore, Shared, config};
use crate::domain::Name;
use crate::domain::tenant::{ApiKey, AuditEntry, Tenant, default_tenant};
use crate::ids::{AuditId, KeyId};
use crate::store::{AuditPage, ConfigChange, ConfigRefusal, ConfigWriteError, StoreError};

/// Every tenant by name and every live key by the hash of its secret, as
/// of the last refresh.
#[derive(Debug, Default)]
pub(super) struct Directory {
    tenants: HashMap<Name, Arc<Tenant>>,
    keys_by_hash: HashMap<String, Arc<ApiKey>>,
}

impl PgStore {
    /// Tenant `name`, live, disabled or deleted.
    pub fn tenant(&self, name: &Name) -> Option<Arc<Tenant>> {
        self.shared.directory.load().tenants.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Vec<Tenant> {
        let mut tenants: Vec<Tenant> = self
            .shared
            .directory
            .load()
            .tenants
            .values()
            .map(|tenant| Tenant::clone(tenant))
            .collect();
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        tenants
    }

    /// The live key whose secret hashes to `hash`, with its tenant.
    pub fn key_by_hash(&self, hash: &str) -> Option<(Arc<ApiKey>, Arc<Tenant>)> {
        let directory = self.shared.directory.load();
        let key = directory.keys_by_hash.get(hash)?.clone();
        let tenant = directory.tenants.get(&key.tenant)?.clone();
        Some((key, tenant))
    }

    /// How many sources and endpoints `tenant` has (its quotas' counts), as
    /// of the snapshots.
    pub fn tenant_usage(&self, tenant: &Name) -> (usize, usize) {
        let sources = self
            .shared
            .sources
            .load()
            .values()
            .filter(|source| &source.tenant == tenant)
            .count();
        let endpoints = self
            .shared
            .endpoints
            .load()
            .iter()
            .filter(|endpoint| &endpoint.tenant == tenant)
            .count();
        (sources, endpoints)
    }

    /// Stores a new tenant, refused when the name is taken (by a live or a
    /// deleted one).
    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let inserted = tx
                    .execute(
                        "INSERT INTO tenants (name, record) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&tenant.name.as_str(), &encode(tenant)?],
                    )
                    .await
                    .map_err(StoreError::from)?;
                if inserted == 0 {
                    return Err(ConfigRefusal::TenantExists(tenant.name.clone()).into());
                }
                config::commit(tx, ConfigChange::Tenants).await?;
                // Back to the pool before the refresh takes one.
                drop(client);
                shared.after_write(ConfigChange::Tenants).await?;
                Ok(())
            }
            .await,
        )
    }

    /// Changes tenant `name` with `change`; its name stays. `change` runs
    /// while the write holds the config lock: it must not write.
    pub async fn update_tenant<E>(
        &self,
        name: &Name,
        change: impl FnOnce(&mut Tenant) -> Result<(), E> + Send,
    ) -> Result<Tenant, E>
    where
        E: From<ConfigWriteError> + Send,
    {
        let shared = &self.shared;
        let result = async {
            let mut client = shared.client().await?;
            let tx = config::begin(&mut client).await?;
            let row = tx
                .query_opt(
                    "SELECT record FROM tenants WHERE name = $1",
                    &[&name.as_str()],
                )
                .await
                .map_err(StoreError::from)?
                .ok_or_else(|| ConfigRefusal::NoTenant(name.to_string()))?;
            let mut tenant: Tenant = record("a tenant record", &row, 0)?;
            if let Err(refused) = change(&mut tenant) {
                return Ok(Err(refused));
            }
            tenant.name = name.clone();
            self.writable()?;
            tx.execute(
                "UPDATE tenants SET record = $2 WHERE name = $1",
                &[&name.as_str(), &encode(&tenant)?],
            )
            .await
            .map_err(StoreError::from)?;
            config::commit(tx, ConfigChange::Tenants).await?;
            drop(client);
            shared.after_write(ConfigChange::Tenants).await?;
            Ok::<_, ConfigWriteError>(Ok(tenant))
        }
        .await;
        settle(shared.track(result))
    }

    /// Stores a new key.
    pub async fn create_key(&self, key: &ApiKey) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                if !tenant_exists(&tx, &key.tenant).await? {
                    return Err(ConfigRefusal::NoTenant(key.tenant.to_string()).into());
                }
                tx.execute(
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
                .await
                .map_err(StoreError::from)?;
                config::commit(tx, ConfigChange::Tenants).await?;
                drop(client);
                shared.after_write(ConfigChange::Tenants).await?;
                Ok(())
            }
            .await,
        )
    }

    /// `tenant`'s keys, revoked ones included, oldest first.
    pub async fn keys(&self, tenant: &Name) -> Result<Vec<ApiKey>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM api_keys WHERE tenant = $1 ORDER BY id",
                        &[&tenant.as_str()],
                    )
                    .await?;
                records("an API key record", &rows)
            }
            .await,
        )
    }

    /// Revokes `tenant`'s key `id` at `now_ms`; it is refused from then on.
    /// Revoking a revoked key changes nothing.
    pub async fn revoke_key(
        &self,
        tenant: &Name,
        id: KeyId,
        now_ms: u64,
    ) -> Result<ApiKey, ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let row = tx
                    .query_opt(
                        "SELECT record FROM api_keys WHERE id = $1 AND tenant = $2",
                        &[&&id.to_bytes()[..], &tenant.as_str()],
                    )
                    .await
                    .map_err(StoreError::from)?
                    .ok_or_else(|| ConfigRefusal::NoKey(id.to_string()))?;
                let mut key: ApiKey = record("an API key record", &row, 0)?;
                if key.revoked_at.is_none() {
                    self.writable()?;
                    key.revoked_at = Some(now_ms);
                    tx.execute(
                        "UPDATE api_keys SET revoked_at = $2, record = $3 WHERE id = $1",
                        &[&&id.to_bytes()[..], &rows::ms(now_ms), &encode(&key)?],
                    )
                    .await
                    .map_err(StoreError::from)?;
                    config::commit(tx, ConfigChange::Tenants).await?;
                    drop(client);
                    shared.after_write(ConfigChange::Tenants).await?;
                }
                Ok(key)
            }
            .await,
        )
    }

    /// Appends `entry` to its tenant's audit log (committed when this
    /// returns).
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let client = shared.client().await?;
                client
                    .execute(
                        "INSERT INTO audit (tenant, id, record) VALUES ($1, $2, $3)
                         ON CONFLICT (tenant, id) DO UPDATE SET record = EXCLUDED.record",
                        &[
                            &entry.tenant.as_str(),
                            &&entry.id.to_bytes()[..],
                            &encode(entry)?,
                        ],
                    )
                    .await?;
                Ok(())
            }
            .await,
        )
    }

    /// `tenant`'s audit log, newest first, before the cursor `before`, at
    /// most `limit` entries.
    pub async fn audit_log(
        &self,
        tenant: &Name,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let before = before.map_or([0xff; 16], AuditId::to_bytes);
                let rows = client
                    .query(
                        "SELECT record FROM audit WHERE tenant = $1 AND id < $2
                         ORDER BY id DESC LIMIT $3",
                        &[&tenant.as_str(), &&before[..], &(limit as i64 + 1)],
                    )
                    .await?;
                let mut data: Vec<AuditEntry> = records("an audit record", &rows)?;
                let mut next_cursor = None;
                if data.len() > limit {
                    data.truncate(limit);
                    next_cursor = data.last().map(|last| last.id.to_string());
                }
                Ok(AuditPage { data, next_cursor })
            }
            .await,
        )
    }
}

/// The result of a read-change-write: the store's or a refusal's error,
/// or what the caller's `change` said.
pub(super) fn settle<T, E: From<ConfigWriteError>>(
    result: Result<Result<T, E>, ConfigWriteError>,
) -> Result<T, E> {
    match result {
        Ok(changed) => changed,
        Err(error) => Err(E::from(error)),
    }
}

/// Whether tenant `name` exists (live, disabled or deleted), read in `tx`.
pub(super) async fn tenant_exists(
    tx: &tokio_postgres::Transaction<'_>,
    name: &Name,
) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt("SELECT 1 FROM tenants WHERE name = $1", &[&name.as_str()])
        .await?
        .is_some())
}

impl Shared {
    /// Creates the default tenant if there is none: what a new database
    /// starts with.
    pub(super) async fn ensure_default_tenant(&self) -> Result<(), StoreError> {
        let tenant = Tenant::new(default_tenant(), crate::ids::now_ms());
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO tenants (name, record) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&tenant.name.as_str(), &encode(&tenant)?],
            )
            .await?;
        Ok(())
    }

    /// Re-reads tenants and live keys into the directory.
    pub(super) async fn refresh_directory(&self) -> Result<(), StoreError> {
        self.directory
            .refresh(async {
                let client = self.client().await?;
                let tenants: Vec<Tenant> = records(
                    "a tenant record",
                    &client.query("SELECT record FROM tenants", &[]).await?,
                )?;
                let keys: Vec<ApiKey> = records(
                    "an API key record",
                    &client
                        .query("SELECT record FROM api_keys WHERE revoked_at IS NULL", &[])
                        .await?,
                )?;
                Ok(Directory {
                    tenants: tenants
                        .into_iter()
                        .map(|tenant| (tenant.name.clone(), Arc::new(tenant)))
                        .collect(),
                    keys_by_hash: keys
                        .into_iter()
                        .map(|key| (key.hash.clone(), Arc::new(key)))
                        .collect(),
                })
            })
            .await
    }
}
