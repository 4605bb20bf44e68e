//! Endpoint records, keyed by their time-ordered id, the in-memory snapshot
//! of all of them the delivery engine reads on every event and every round,
//! and their writes: each checks, under the config lock, that the
//! endpoint's renderer is an uploaded renderer and its connector is one of
//! its tenant's. Readers and writers by id name the tenant: another
//! tenant's endpoint is "no endpoint".

use std::sync::Arc;

use super::codec;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::endpoint::{Endpoint, EndpointConfig};
use crate::domain::plugin::PluginWorld;
use crate::ids::EndpointId;
use crate::store::{ConfigRefusal, ConfigWriteError};

/// Why the deliveries of a deleted endpoint failed.
const ENDPOINT_DELETED: &str = "endpoint_deleted: the endpoint was deleted before delivery";

impl SledStore {
    /// Endpoint `id` of `tenant`.
    pub fn endpoint(&self, tenant: &Name, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        Ok(self
            .any_endpoint(id)?
            .filter(|endpoint| &endpoint.tenant == tenant))
    }

    /// Endpoint `id`, whoever's (the delivery engine's view).
    pub fn any_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        codec::get(&self.endpoints, id.to_bytes())
    }

    /// `tenant`'s endpoints, oldest first.
    pub fn endpoints(&self, tenant: &Name) -> Result<Vec<Endpoint>, StoreError> {
        Ok(self
            .endpoint_snapshot
            .load()
            .iter()
            .filter(|endpoint| &endpoint.tenant == tenant)
            .cloned()
            .collect())
    }

    /// Every tenant's endpoints, oldest first.
    pub fn all_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        codec::all(&self.endpoints)
    }

    /// Every endpoint as of the last change, oldest first, without reading
    /// the store: what the delivery engine matches each event against.
    pub fn endpoint_snapshot(&self) -> Arc<Vec<Endpoint>> {
        self.endpoint_snapshot.load()
    }

    /// Stores a new endpoint, refused when its connector or renderer is
    /// missing. Not durable until [`SledStore::durable`] returns.
    pub fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_count_quota(&endpoint.tenant, true)?;
        self.check_endpoint_references(&endpoint.tenant, &endpoint.config)?;
        Ok(self.put_endpoint(endpoint)?)
    }

    /// Changes endpoint `id` with `change` and stores it, refused when
    /// there is no such endpoint, when `change` refuses, or when the
    /// changed endpoint's connector or renderer is missing. Returns the
    /// endpoint as stored. Not durable until [`SledStore::durable`] returns.
    /// `change` runs under the config lock: it must not write.
    pub fn update_endpoint<E>(
        &self,
        tenant: &Name,
        id: EndpointId,
        change: impl FnOnce(&mut Endpoint) -> Result<(), E>,
    ) -> Result<Endpoint, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut endpoint = self
            .endpoint(tenant, id)
            .map_err(ConfigWriteError::from)?
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoEndpoint(id.to_string())))?;
        change(&mut endpoint)?;
        endpoint.tenant = tenant.clone();
        self.check_endpoint_references(tenant, &endpoint.config)?;
        self.put_endpoint(&endpoint)
            .map_err(ConfigWriteError::from)?;
        Ok(endpoint)
    }

    /// Disables endpoint `id` (its receiver answered 410 Gone); `false`
    /// when it is gone from the store too.
    pub fn disable_endpoint(&self, id: EndpointId, now_ms: u64) -> Result<bool, StoreError> {
        let _guard = self.config_lock();
        let Some(mut endpoint) = self.any_endpoint(id)? else {
            return Ok(false);
        };
        endpoint.config.enabled = false;
        endpoint.updated_at = now_ms;
        self.put_endpoint(&endpoint)?;
        Ok(true)
    }

    /// Removes an endpoint and fails its pending deliveries visibly (nothing
    /// would ever attempt them); they stay readable. Not durable until
    /// [`SledStore::durable`] returns.
    pub fn delete_endpoint(
        &self,
        tenant: &Name,
        id: EndpointId,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        if self.endpoint(tenant, id)?.is_none() {
            return Err(ConfigRefusal::NoEndpoint(id.to_string()).into());
        }
        self.writable()?;
        self.endpoints.remove(id.to_bytes())?;
        self.refresh_endpoint_snapshot()?;
        self.fail_pending_of(id, ENDPOINT_DELETED, now_ms)?;
        Ok(())
    }

    /// Refuses `config` unless the connector (of `tenant`) and the renderer
    /// it names exist, the renderer as a renderer. Call under the config
    /// lock.
    fn check_endpoint_references(
        &self,
        tenant: &Name,
        config: &EndpointConfig,
    ) -> Result<(), ConfigWriteError> {
        if let Some(connector) = config.connector {
            self.check_connector_reference(tenant, "connector", connector)?;
        }
        self.check_plugin_reference(
            tenant,
            "renderer.plugin",
            &config.renderer.plugin,
            PluginWorld::Renderer,
        )
    }

    fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.endpoints, endpoint.id.to_bytes(), endpoint)?;
        self.refresh_endpoint_snapshot()
    }

    /// Re-reads every endpoint into the snapshot.
    pub(super) fn refresh_endpoint_snapshot(&self) -> Result<(), StoreError> {
        self.endpoint_snapshot
            .refresh(|| codec::all(&self.endpoints))
    }
}
