//! Connector records, keyed by their time-ordered id, and their writes.
//! Every reader and writer names the tenant: another tenant's connector is
//! "no connector". Names are unique within a tenant: the few connectors a
//! server has are scanned under the config lock rather than kept in a
//! second index that could drift from the records. A connector in use is
//! not deleted, and one that blocks name (by name) is not renamed.

use super::codec;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::connector::Connector;
use crate::ids::ConnectorId;
use crate::store::{ConfigRefusal, ConfigWriteError};

impl SledStore {
    /// Connector `id` of `tenant`.
    pub fn connector(
        &self,
        tenant: &Name,
        id: ConnectorId,
    ) -> Result<Option<Connector>, StoreError> {
        let connector: Option<Connector> = codec::get(&self.connectors, id.to_bytes())?;
        Ok(connector.filter(|connector| &connector.tenant == tenant))
    }

    /// `tenant`'s connector named `name`.
    pub fn connector_by_name(
        &self,
        tenant: &Name,
        name: &Name,
    ) -> Result<Option<Connector>, StoreError> {
        Ok(self
            .connectors(tenant)?
            .into_iter()
            .find(|connector| &connector.name == name))
    }

    /// `tenant`'s connector `key` names: an id (`conn_…`) or a name.
    pub fn connector_by_key(
        &self,
        tenant: &Name,
        key: &str,
    ) -> Result<Option<Connector>, StoreError> {
        if let Ok(id) = key.parse::<ConnectorId>() {
            self.connector(tenant, id)
        } else if let Ok(name) = key.parse::<Name>() {
            self.connector_by_name(tenant, &name)
        } else {
            Ok(None)
        }
    }

    /// `tenant`'s connectors, oldest first.
    pub fn connectors(&self, tenant: &Name) -> Result<Vec<Connector>, StoreError> {
        let all: Vec<Connector> = codec::all(&self.connectors)?;
        Ok(all
            .into_iter()
            .filter(|connector| &connector.tenant == tenant)
            .collect())
    }

    /// Stores a new connector, refused when its name is taken. Not durable
    /// until [`SledStore::durable`] returns.
    pub fn create_connector(&self, connector: &Connector) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_connector_name_free(&connector.tenant, &connector.name, None)?;
        Ok(self.put_connector(connector)?)
    }

    /// Changes connector `id` with `change` and stores it, refused when
    /// there is no such connector, when `change` refuses, or when it
    /// renames the connector to a taken name or while blocks name it.
    /// Returns the connector as stored. Not durable until
    /// [`SledStore::durable`] returns. `change` runs under the config lock: it
    /// must not write.
    pub fn update_connector<E>(
        &self,
        tenant: &Name,
        id: ConnectorId,
        change: impl FnOnce(&mut Connector) -> Result<(), E>,
    ) -> Result<Connector, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut connector = self
            .connector(tenant, id)
            .map_err(ConfigWriteError::from)?
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoConnector(id.to_string())))?;
        let name = connector.name.clone();
        change(&mut connector)?;
        connector.tenant = tenant.clone();
        if connector.name != name {
            self.check_rename(&name, &connector)?;
        }
        self.put_connector(&connector)
            .map_err(ConfigWriteError::from)?;
        Ok(connector)
    }

    /// Removes connector `id`, refused while endpoints or blocks use it.
    /// Not durable until [`SledStore::durable`] returns.
    pub fn delete_connector(&self, tenant: &Name, id: ConnectorId) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        let connector = self
            .connector(tenant, id)?
            .ok_or_else(|| ConfigRefusal::NoConnector(id.to_string()))?;
        let users = self.connector_dependents(&connector)?;
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
        self.check_connector_name_free(&connector.tenant, &connector.name, Some(connector.id))?;
        let blocks = self.blocks_using_connector(&connector.tenant, old)?;
        if blocks.is_empty() {
            return Ok(());
        }
        Err(ConfigRefusal::ConnectorNamedByBlocks {
            connector: old.clone(),
            blocks: blocks.into_iter().map(|block| block.name).collect(),
        }
        .into())
    }

    /// Refuses `name` when a connector of `tenant` other than `own` has it.
    fn check_connector_name_free(
        &self,
        tenant: &Name,
        name: &Name,
        own: Option<ConnectorId>,
    ) -> Result<(), ConfigWriteError> {
        match self.connector_by_name(tenant, name)? {
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
