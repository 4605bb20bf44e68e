//! What keeps the configuration whole: the typed refusals of a
//! configuration write, and the checks that a record names a plugin of the
//! right world or a connector that exists. Every configuration write runs
//! them under the store's config lock, between reading and writing, so
//! nothing it checked changes before it writes.

use super::SledStore;
use crate::domain::Name;
use crate::domain::plugin::PluginWorld;
use crate::ids::ConnectorId;
use crate::store::{ConfigRefusal, ConfigWriteError, StoreError};

impl SledStore {
    /// Refuses `plugin` (named by `field`) unless it is uploaded, of
    /// `world`, and usable by `tenant` (shared, or private to it: another
    /// tenant's private plugin is answered as missing).
    pub(super) fn check_plugin_reference(
        &self,
        tenant: &Name,
        field: &'static str,
        plugin: &Name,
        world: PluginWorld,
    ) -> Result<(), ConfigWriteError> {
        let usable = self
            .plugin(plugin)?
            .filter(|record| record.usable_by(tenant));
        match usable {
            None => Err(ConfigRefusal::MissingPlugin {
                field,
                plugin: plugin.clone(),
            }
            .into()),
            Some(record) if record.world != world => Err(ConfigRefusal::WrongWorld {
                field,
                plugin: plugin.clone(),
                world: record.world,
                expected: world,
            }
            .into()),
            Some(_) => Ok(()),
        }
    }

    /// Refuses the connector id `connector` (named by `field`) unless
    /// `tenant` has it.
    pub(super) fn check_connector_reference(
        &self,
        tenant: &Name,
        field: &'static str,
        connector: ConnectorId,
    ) -> Result<(), ConfigWriteError> {
        match self.connector(tenant, connector)? {
            Some(_) => Ok(()),
            None => Err(ConfigRefusal::MissingConnector { field, connector }.into()),
        }
    }

    /// Refuses the connector name `connector` (named by `field`) unless a
    /// connector of `tenant` has it.
    pub(super) fn check_connector_name_reference(
        &self,
        tenant: &Name,
        field: &'static str,
        connector: &str,
    ) -> Result<(), ConfigWriteError> {
        let known = match connector.parse::<Name>() {
            Ok(name) => self.connector_by_name(tenant, &name)?.is_some(),
            Err(_) => false,
        };
        if known {
            Ok(())
        } else {
            Err(ConfigRefusal::MissingConnectorName {
                field,
                connector: connector.to_owned(),
            }
            .into())
        }
    }
}

impl From<sled::Error> for ConfigWriteError {
    fn from(error: sled::Error) -> Self {
        ConfigWriteError::Store(StoreError::from(error))
    }
}
