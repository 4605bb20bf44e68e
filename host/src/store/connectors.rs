//! Connector records, keyed by their time-ordered id. Names are unique:
//! the few connectors a server has are scanned under
//! [`Store::config_lock`] rather than kept in a second index that could
//! drift from the records.

use super::codec;
use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::connector::Connector;
use crate::ids::ConnectorId;

impl Store {
    /// One connector.
    pub fn connector(&self, id: ConnectorId) -> Result<Option<Connector>, StoreError> {
        codec::get(&self.connectors, id.to_bytes())
    }

    /// The connector named `name`.
    pub fn connector_by_name(&self, name: &Name) -> Result<Option<Connector>, StoreError> {
        Ok(self
            .connectors()?
            .into_iter()
            .find(|connector| &connector.name == name))
    }

    /// Every connector, oldest first.
    pub fn connectors(&self) -> Result<Vec<Connector>, StoreError> {
        codec::all(&self.connectors)
    }

    /// Stores a connector, new or changed. The caller checks the name is
    /// free under [`Store::config_lock`].
    pub fn put_connector(&self, connector: &Connector) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.connectors, connector.id.to_bytes(), connector)
    }

    /// Removes a connector; `false` when there was none.
    pub fn delete_connector(&self, id: ConnectorId) -> Result<bool, StoreError> {
        self.writable()?;
        Ok(self.connectors.remove(id.to_bytes())?.is_some())
    }
}
