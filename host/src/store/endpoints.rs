//! Endpoint records, keyed by their time-ordered id, and the lookups behind
//! "in use" refusals (which endpoints use a plugin or a connector).

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

    /// Stores an endpoint, new or changed. Not durable until
    /// [`Store::durable`] returns.
    pub fn put_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        codec::put(&self.endpoints, endpoint.id.to_bytes(), endpoint)
    }

    /// Removes an endpoint; `false` when there was none.
    pub fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        Ok(self.endpoints.remove(id.to_bytes())?.is_some())
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
