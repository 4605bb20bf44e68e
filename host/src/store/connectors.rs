//! Connector records, keyed by their time-ordered id, and their writes.
//! Names are unique: the few connectors a server has are scanned under
//! the config lock rather than kept in a second index that could drift
//! from the records. A connector in use is not deleted, and one that
//! blocks name (by name) is not renamed.

use super::codec;
use super::integrity::{ConfigRefusal, ConfigWriteError};
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

    /// The connector `key` names: an id (`conn_…`) or a name.
    pub fn connector_by_key(&self, key: &str) -> Result<Option<Connector>, StoreError> {
        if let Ok(id) = key.parse::<ConnectorId>() {
            self.connector(id)
        } else if let Ok(name) = key.parse::<Name>() {
            self.connector_by_name(&name)
        } else {
            Ok(None)
        }
    }

    /// Every connector, oldest first.
    pub fn connectors(&self) -> Result<Vec<Connector>, StoreError> {
        codec::all(&self.connectors)
    }

    /// Stores a new connector, refused when its name is taken. Not durable
    /// until [`Store::durable`] returns.
    pub fn create_connector(&self, connector: &Connector) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_connector_name_free(&connector.name, None)?;
        Ok(self.put_connector(connector)?)
    }

    /// Changes connector `id` with `change` and stores it, refused when
    /// there is no such connector, when `change` refuses, or when it
    /// renames the connector to a taken name or while blocks name it.
    /// Returns the connector as stored. Not durable until
    /// [`Store::durable`] returns. `change` runs under the config lock: it
    /// must not write.
    pub fn update_connector<E>(
        &self,
        id: ConnectorId,
        change: impl FnOnce(&mut Connector) -> Result<(), E>,
    ) -> Result<Connector, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut connector = self
            .connector(id)
            .map_err(ConfigWriteError::from)?
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoConnector(id.to_string())))?;
        let name = connector.name.clone();
        change(&mut connector)?;
        if connector.name != name {
            self.check_rename(&name, &connector)?;
        }
        self.put_connector(&connector)
            .map_err(ConfigWriteError::from)?;
        Ok(connector)
    }

    /// Removes connector `id`, refused while endpoints or blocks use it.
    /// Not durable until [`Store::durable`] returns.
    pub fn delete_connector(&self, id: ConnectorId) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        let connector = self
            .connector(id)?
            .ok_or_else(|| ConfigRefusal::NoConnector(id.to_string()))?;
        let users = self.connector_dependents(id)?;
        if !users.is_empty() {
            return Err(ConfigRefusal::ConnectorInUse {
                connector: connector.name,
                users,
            }
            .into());
        }
        self.writable()?;
        self.connectors.remove(id.to_bytes())?;
        Ok(())
    }

    /// Refuses renaming the connector once called `old` to `connector`'s
    /// name: the name must be free, and no block may name it by `old`.
    fn check_rename(&self, old: &Name, connector: &Connector) -> Result<(), ConfigWriteError> {
        self.check_connector_name_free(&connector.name, Some(connector.id))?;
        let blocks = self.blocks_using_connector(old)?;
        if blocks.is_empty() {
            return Ok(());
        }
        Err(ConfigRefusal::ConnectorNamedByBlocks {
            connector: old.clone(),
            blocks: blocks.into_iter().map(|block| block.name).collect(),
        }
        .into())
    }

    /// Refuses `name` when a connector other than `own` has it.
    fn check_connector_name_free(
        &self,
        name: &Name,
        own: Option<ConnectorId>,
    ) -> Result<(), ConfigWriteError> {
        match self.connector_by_name(name)? {
            Some(other) if Some(other.id) != own => Err(ConfigRefusal::ConnectorNameTaken {
                name: name.clone(),
                holder: other.id,
            }
            .into()),
            _ => Ok(()),
        }
    }

    fn put_connector(&self, connector: &Connector) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.connectors, connector.id.to_bytes(), connector)
    }
}
