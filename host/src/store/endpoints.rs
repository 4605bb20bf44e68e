//! Endpoint records, keyed by their time-ordered id, the in-memory snapshot
//! of all of them the delivery engine reads on every event and every round,
//! and the lookups behind "in use" refusals (which endpoints use a plugin or
//! a connector).

use std::sync::Arc;

use super::codec;
use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::endpoint::Endpoint;
use crate::ids::{ConnectorId, EndpointId};

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

    /// Stores an endpoint, new or changed. Not durable until
    /// [`Store::durable`] returns.
    pub fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.endpoints, endpoint.id.to_bytes(), endpoint)?;
        self.refresh_endpoint_snapshot()
    }

    /// Removes an endpoint; `false` when there was none.
    pub fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        self.writable()?;
        let removed = self.endpoints.remove(id.to_bytes())?.is_some();
        self.refresh_endpoint_snapshot()?;
        Ok(removed)
    }

    /// Re-reads every endpoint into the snapshot.
    pub(super) fn refresh_endpoint_snapshot(&self) -> Result<(), StoreError> {
        self.endpoint_snapshot
            .refresh(|| codec::all(&self.endpoints))
    }

    /// The endpoints whose renderer is `plugin`.
    pub fn endpoints_using_plugin(&self, plugin: &Name) -> Result<Vec<EndpointId>, StoreError> {
        Ok(self
            .endpoints()?
            .into_iter()
            .filter(|endpoint| &endpoint.config.renderer.plugin == plugin)
            .map(|endpoint| endpoint.id)
            .collect())
    }

    /// The endpoints whose requests carry `connector`'s credentials.
    pub fn endpoints_using_connector(
        &self,
        connector: ConnectorId,
    ) -> Result<Vec<EndpointId>, StoreError> {
        Ok(self
            .endpoints()?
            .into_iter()
            .filter(|endpoint| endpoint.config.connector == Some(connector))
            .map(|endpoint| endpoint.id)
            .collect())
    }
}
