//! Who depends on a plugin or a connector: the lookups behind "delete
//! refused while in use" and "rename refused while blocks name it". Each
//! resource that names plugins or connectors adds its users here.

use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::block::Block;
use crate::ids::{ConnectorId, EndpointId};

impl Store {
    /// Descriptions of everything that uses `plugin` (`source `gs``, …),
    /// sorted; empty when nothing does. Call under the config lock.
    pub(super) fn plugin_dependents(&self, plugin: &Name) -> Result<Vec<String>, StoreError> {
        let mut users: Vec<String> = self
            .sources_using(plugin)?
            .into_iter()
            .map(|source| format!("source `{source}`"))
            .collect();
        users.extend(
            self.endpoints_using_plugin(plugin)?
                .into_iter()
                .map(|endpoint| format!("endpoint `{endpoint}`")),
        );
        users.extend(self.blocks_using_plugin(plugin)?.iter().map(describe_block));
        users.sort();
        Ok(users)
    }

    /// Descriptions of everything whose requests carry `connector`'s
    /// credentials (`endpoint `ep_…``, `block `WH5``), sorted; empty when
    /// nothing does. Call under the config lock.
    pub(super) fn connector_dependents(
        &self,
        connector: ConnectorId,
    ) -> Result<Vec<String>, StoreError> {
        let mut users: Vec<String> = self
            .endpoints_using_connector(connector)?
            .into_iter()
            .map(|endpoint| format!("endpoint `{endpoint}`"))
            .collect();
        if let Some(record) = self.connector(connector)? {
            users.extend(
                self.blocks_using_connector(&record.name)?
                    .iter()
                    .map(describe_block),
            );
        }
        users.sort();
        Ok(users)
    }

    /// The names of the sources whose mapper is `plugin`.
    fn sources_using(&self, plugin: &Name) -> Result<Vec<Name>, StoreError> {
        Ok(self
            .sources()?
            .into_iter()
            .filter(|source| &source.mapper == plugin)
            .map(|source| source.name)
            .collect())
    }

    /// The endpoints whose renderer is `plugin`.
    fn endpoints_using_plugin(&self, plugin: &Name) -> Result<Vec<EndpointId>, StoreError> {
        Ok(self
            .endpoints()?
            .into_iter()
            .filter(|endpoint| &endpoint.config.renderer.plugin == plugin)
            .map(|endpoint| endpoint.id)
            .collect())
    }

    /// The endpoints whose requests carry `connector`'s credentials.
    fn endpoints_using_connector(
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

    /// The blocks (live or soft-deleted) run by `plugin`.
    fn blocks_using_plugin(&self, plugin: &Name) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .blocks()?
            .into_iter()
            .filter(|block| &block.plugin == plugin)
            .collect())
    }

    /// The blocks (live or soft-deleted) whose config names the connector
    /// called `connector`.
    pub(super) fn blocks_using_connector(
        &self,
        connector: &Name,
    ) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .blocks()?
            .into_iter()
            .filter(|block| block.connector_name() == Some(connector.as_str()))
            .collect())
    }
}

/// "block `WH5`", or "block `WH5` (deleted)": a soft-deleted block still
/// counts, since restoring it must find its plugin and connector.
fn describe_block(block: &Block) -> String {
    if block.is_deleted() {
        format!("block `{}` (deleted)", block.name)
    } else {
        format!("block `{}`", block.name)
    }
}
