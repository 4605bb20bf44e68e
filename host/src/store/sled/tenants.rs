//! Tenants, their API keys and their audit log. Tenants and keys are few
//! and read on every request (which tenant a key belongs to, whether it is
//! active), so readers use an in-memory directory kept in step by the
//! writers. The audit log is keyed by tenant then time, so a tenant's log
//! is one range.

use std::collections::HashMap;
use std::sync::Arc;

use super::codec;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::tenant::{ApiKey, AuditEntry, Tenant, default_tenant};
use crate::ids::{AuditId, KeyId};
use crate::store::{AuditPage, ConfigRefusal, ConfigWriteError};

/// Every tenant by name and every live key by the hash of its secret, as
/// of the last change.
#[derive(Debug, Default)]
pub(super) struct Directory {
    tenants: HashMap<Name, Arc<Tenant>>,
    keys_by_hash: HashMap<String, Arc<ApiKey>>,
}

impl SledStore {
    /// Tenant `name`, live, disabled or deleted.
    pub fn tenant(&self, name: &Name) -> Option<Arc<Tenant>> {
        self.directory.load().tenants.get(name).cloned()
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Vec<Tenant> {
        let mut tenants: Vec<Tenant> = self
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
        let directory = self.directory.load();
        let key = directory.keys_by_hash.get(hash)?.clone();
        let tenant = directory.tenants.get(&key.tenant)?.clone();
        Some((key, tenant))
    }

    /// Stores a new tenant, refused when the name is taken (by a live or a
    /// deleted one). Not durable until [`SledStore::durable`] returns.
    pub fn create_tenant(&self, tenant: &Tenant) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.writable()?;
        let value = codec::encode(tenant)?;
        let swapped = self.tenants.compare_and_swap(
            tenant.name.as_str(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        self.refresh_directory()?;
        swapped.map_err(|_| ConfigRefusal::TenantExists(tenant.name.clone()).into())
    }

    /// Changes tenant `name` with `change`; its name stays. Not durable
    /// until [`SledStore::durable`] returns. `change` runs under the config
    /// lock: it must not write.
    pub fn update_tenant<E>(
        &self,
        name: &Name,
        change: impl FnOnce(&mut Tenant) -> Result<(), E>,
    ) -> Result<Tenant, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut tenant = self
            .tenant(name)
            .map(|tenant| Tenant::clone(&tenant))
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoTenant(name.to_string())))?;
        change(&mut tenant)?;
        tenant.name = name.clone();
        self.writable().map_err(ConfigWriteError::from)?;
        codec::put(&self.tenants, name.as_str(), &tenant).map_err(ConfigWriteError::from)?;
        self.refresh_directory().map_err(ConfigWriteError::from)?;
        Ok(tenant)
    }

    /// How many sources and endpoints `tenant` has (its quotas' counts).
    pub fn tenant_usage(&self, tenant: &Name) -> (usize, usize) {
        let sources = self
            .source_snapshot
            .load()
            .values()
            .filter(|source| &source.tenant == tenant)
            .count();
        let endpoints = self
            .endpoint_snapshot
            .load()
            .iter()
            .filter(|endpoint| &endpoint.tenant == tenant)
            .count();
        (sources, endpoints)
    }

    /// Refuses one more source (or endpoint, `endpoints`) for `tenant` when
    /// it has as many as its quota allows. Call under the config lock.
    pub(super) fn check_count_quota(
        &self,
        tenant: &Name,
        endpoints: bool,
    ) -> Result<(), ConfigWriteError> {
        let Some(record) = self.tenant(tenant) else {
            return Err(ConfigRefusal::NoTenant(tenant.to_string()).into());
        };
        let (sources, endpoint_count) = self.tenant_usage(tenant);
        let (what, count, limit) = if endpoints {
            ("endpoints", endpoint_count, record.quotas.max_endpoints)
        } else {
            ("sources", sources, record.quotas.max_sources)
        };
        match limit {
            Some(limit) if count >= limit as usize => Err(ConfigRefusal::QuotaExceeded {
                tenant: tenant.clone(),
                what,
                limit,
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Stores a new key. Not durable until [`SledStore::durable`] returns.
    pub fn create_key(&self, key: &ApiKey) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        if self.tenant(&key.tenant).is_none() {
            return Err(ConfigRefusal::NoTenant(key.tenant.to_string()).into());
        }
        self.writable()?;
        codec::put(&self.api_keys, key.id.to_bytes(), key)?;
        Ok(self.refresh_directory()?)
    }

    /// `tenant`'s keys, revoked ones included, oldest first.
    pub fn keys(&self, tenant: &Name) -> Result<Vec<ApiKey>, StoreError> {
        let keys: Vec<ApiKey> = codec::all(&self.api_keys)?;
        Ok(keys
            .into_iter()
            .filter(|key| &key.tenant == tenant)
            .collect())
    }

    /// Revokes `tenant`'s key `id` at `now_ms`; it is refused from then on.
    /// Revoking a revoked key changes nothing. Not durable until
    /// [`SledStore::durable`] returns.
    pub fn revoke_key(
        &self,
        tenant: &Name,
        id: KeyId,
        now_ms: u64,
    ) -> Result<ApiKey, ConfigWriteError> {
        let _guard = self.config_lock();
        let mut key: ApiKey = codec::get(&self.api_keys, id.to_bytes())?
            .filter(|key: &ApiKey| &key.tenant == tenant)
            .ok_or_else(|| ConfigRefusal::NoKey(id.to_string()))?;
        if key.revoked_at.is_none() {
            key.revoked_at = Some(now_ms);
            self.writable()?;
            codec::put(&self.api_keys, id.to_bytes(), &key)?;
            self.refresh_directory()?;
        }
        Ok(key)
    }

    /// Appends `entry` to its tenant's audit log. Durable with the change
    /// it records (the caller waits for [`SledStore::durable`]).
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.audit, audit_key(&entry.tenant, entry.id), entry)
    }

    /// `tenant`'s audit log, newest first, before the cursor `before`, at
    /// most `limit` entries.
    pub fn audit_log(
        &self,
        tenant: &Name,
        before: Option<AuditId>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        let start = audit_key(tenant, AuditId::from_bytes([0; 16]));
        let end = audit_key(
            tenant,
            before.unwrap_or_else(|| AuditId::from_bytes([0xff; 16])),
        );
        let mut data = Vec::new();
        let mut next_cursor = None;
        for value in self.audit.range(start..end).values().rev() {
            let entry: AuditEntry = codec::decode(&self.audit, &value?)?;
            if data.len() == limit {
                next_cursor = data.last().map(|last: &AuditEntry| last.id.to_string());
                break;
            }
            data.push(entry);
        }
        Ok(AuditPage { data, next_cursor })
    }

    /// Creates the default tenant if there is none: what a data dir from
    /// before tenants (whose records all belong to it) or a new one starts
    /// with.
    pub(super) fn ensure_default_tenant(&self) -> Result<(), StoreError> {
        let default = default_tenant();
        if self.tenants.contains_key(default.as_str())? {
            return Ok(());
        }
        let tenant = Tenant::new(default, crate::ids::now_ms());
        codec::put(&self.tenants, tenant.name.as_str(), &tenant)
    }

    /// Re-reads tenants and live keys into the directory.
    pub(super) fn refresh_directory(&self) -> Result<(), StoreError> {
        self.directory.refresh(|| {
            let tenants: Vec<Tenant> = codec::all(&self.tenants)?;
            let keys: Vec<ApiKey> = codec::all(&self.api_keys)?;
            Ok(Directory {
                tenants: tenants
                    .into_iter()
                    .map(|tenant| (tenant.name.clone(), Arc::new(tenant)))
                    .collect(),
                keys_by_hash: keys
                    .into_iter()
                    .filter(|key| key.revoked_at.is_none())
                    .map(|key| (key.hash.clone(), Arc::new(key)))
                    .collect(),
            })
        })
    }
}

/// An audit entry's key: its tenant, a zero byte, its time-ordered id.
fn audit_key(tenant: &Name, id: AuditId) -> Vec<u8> {
    let mut key = tenant.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&id.to_bytes());
    key
}
