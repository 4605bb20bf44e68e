//! Endpoint records, keyed by their time-ordered id, the in-memory snapshot
//! of all of them the delivery engine reads on every event and every round,
//! and their writes: each checks, under the config lock, that the
//! endpoint's renderer is an uploaded renderer and its connector exists.

use std::sync::Arc;

use super::codec;
use super::integrity::{ConfigRefusal, ConfigWriteError};
use super::{Store, StoreError};
use crate::domain::endpoint::{Endpoint, EndpointConfig};
use crate::domain::plugin::PluginWorld;
use crate::ids::EndpointId;

/// Why the deliveries of a deleted endpoint failed.
const ENDPOINT_DELETED: &str = "endpoint_deleted: the endpoint was deleted before delivery";

impl Store {
    /// One endpoint.
    pub fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        codec::get(&self.endpoints, id.to_bytes())
    }

    /// Every endpoint, oldest first.
    pub fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        codec::all(&self.endpoints)
    }

    /// Every endpoint as of the last change, oldest first, without reading
    /// the store: what the delivery engine matches each event against.
    pub fn endpoint_snapshot(&self) -> Arc<Vec<Endpoint>> {
        self.endpoint_snapshot.load()
    }

    /// Stores a new endpoint, refused when its connector or renderer is
    /// missing. Not durable until [`Store::durable`] returns.
    pub fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_endpoint_references(&endpoint.config)?;
        Ok(self.put_endpoint(endpoint)?)
    }

    /// Changes endpoint `id` with `change` and stores it, refused when
    /// there is no such endpoint, when `change` refuses, or when the
    /// changed endpoint's connector or renderer is missing. Returns the
    /// endpoint as stored. Not durable until [`Store::durable`] returns.
    /// `change` runs under the config lock: it must not write.
    pub fn update_endpoint<E>(
        &self,
        id: EndpointId,
        change: impl FnOnce(&mut Endpoint) -> Result<(), E>,
    ) -> Result<Endpoint, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut endpoint = self
            .endpoint(id)
            .map_err(ConfigWriteError::from)?
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoEndpoint(id.to_string())))?;
        change(&mut endpoint)?;
        self.check_endpoint_references(&endpoint.config)?;
        self.put_endpoint(&endpoint)
            .map_err(ConfigWriteError::from)?;
        Ok(endpoint)
    }

    /// Disables endpoint `id` (its receiver answered 410 Gone); `false`
    /// when it is gone from the store too.
    pub fn disable_endpoint(&self, id: EndpointId, now_ms: u64) -> Result<bool, StoreError> {
        let _guard = self.config_lock();
        let Some(mut endpoint) = self.endpoint(id)? else {
            return Ok(false);
        };
        endpoint.config.enabled = false;
        endpoint.updated_at = now_ms;
        self.put_endpoint(&endpoint)?;
        Ok(true)
    }

    /// Removes an endpoint and fails its pending deliveries visibly (nothing
    /// would ever attempt them); they stay readable. Not durable until
    /// [`Store::durable`] returns.
    pub fn delete_endpoint(&self, id: EndpointId, now_ms: u64) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.writable()?;
        let removed = self.endpoints.remove(id.to_bytes())?.is_some();
        self.refresh_endpoint_snapshot()?;
        if !removed {
            return Err(ConfigRefusal::NoEndpoint(id.to_string()).into());
        }
        self.fail_pending_of(id, ENDPOINT_DELETED, now_ms)?;
        Ok(())
    }

    /// Refuses `config` unless the connector and the renderer it names
    /// exist, the renderer as a renderer. Call under the config lock.
    fn check_endpoint_references(&self, config: &EndpointConfig) -> Result<(), ConfigWriteError> {
        if let Some(connector) = config.connector {
            self.check_connector_reference("connector", connector)?;
        }
        self.check_plugin_reference(
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
