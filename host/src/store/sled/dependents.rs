//! Who depends on a plugin or a connector: the lookups behind "delete
//! refused while in use" and "rename refused while blocks name it". Each
//! resource that names plugins or connectors adds its users here.

use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::block::Block;
use crate::domain::connector::Connector;
use crate::domain::endpoint::Endpoint;
use crate::domain::tenant::is_default;
use crate::ids::ConnectorId;

impl SledStore {
    /// Descriptions of everything that uses `plugin` (`source `gs``, …),
    /// sorted; empty when nothing does. Call under the config lock.
    pub(super) fn plugin_dependents(&self, plugin: &Name) -> Result<Vec<String>, StoreError> {
        let mut users: Vec<String> = self
            .sources_using(plugin)?
            .into_iter()
            .map(|(tenant, source)| format!("source `{source}`{}", of_tenant(&tenant)))
            .collect();
        users.extend(
            self.endpoints_using_plugin(plugin)?.iter().map(|endpoint| {
                format!("endpoint `{}`{}", endpoint.id, of_tenant(&endpoint.tenant))
            }),
        );
        users.extend(self.blocks_using_plugin(plugin)?.iter().map(describe_block));
        users.sort();
        Ok(users)
    }

    /// Descriptions of everything whose requests carry `connector`'s
    /// credentials (`endpoint `ep_…``, `block `WH5``), sorted; empty when
    /// nothing does. Only the connector's tenant can use it. Call under the
    /// config lock.
    pub(super) fn connector_dependents(
        &self,
        connector: &Connector,
    ) -> Result<Vec<String>, StoreError> {
        let mut users: Vec<String> = self
            .endpoints_using_connector(&connector.tenant, connector.id)?
            .into_iter()
            .map(|endpoint| format!("endpoint `{}`", endpoint.id))
            .collect();
        users.extend(
            self.blocks_using_connector(&connector.tenant, &connector.name)?
                .iter()
                .map(describe_block),
        );
        users.sort();
        Ok(users)
    }

    /// The tenants and names of the sources whose mapper is `plugin`.
    fn sources_using(&self, plugin: &Name) -> Result<Vec<(Name, Name)>, StoreError> {
        Ok(self
            .all_sources()?
            .into_iter()
            .filter(|source| &source.mapper == plugin)
            .map(|source| (source.tenant, source.name))
            .collect())
    }

    /// The endpoints whose renderer is `plugin`.
    fn endpoints_using_plugin(&self, plugin: &Name) -> Result<Vec<Endpoint>, StoreError> {
        Ok(self
            .all_endpoints()?
            .into_iter()
            .filter(|endpoint| &endpoint.config.renderer.plugin == plugin)
            .collect())
    }

    /// `tenant`'s endpoints whose requests carry `connector`'s credentials.
    fn endpoints_using_connector(
        &self,
        tenant: &Name,
        connector: ConnectorId,
    ) -> Result<Vec<Endpoint>, StoreError> {
        Ok(self
            .endpoints(tenant)?
            .into_iter()
            .filter(|endpoint| endpoint.config.connector == Some(connector))
            .collect())
    }

    /// The blocks (live or soft-deleted) run by `plugin`.
    fn blocks_using_plugin(&self, plugin: &Name) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .all_blocks()?
            .into_iter()
            .filter(|block| &block.plugin == plugin)
            .collect())
    }

    /// `tenant`'s blocks (live or soft-deleted) whose config names the
    /// connector called `connector`.
    pub(super) fn blocks_using_connector(
        &self,
        tenant: &Name,
        connector: &Name,
    ) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .blocks(tenant)?
            .into_iter()
            .filter(|block| block.connector_name() == Some(connector.as_str()))
            .collect())
    }
}

/// " (tenant `acme`)" for records outside the default tenant: what the
/// operator deleting a shared plugin needs to find them.
fn of_tenant(tenant: &Name) -> String {
    if is_default(tenant) {
        String::new()
    } else {
        format!(" (tenant `{tenant}`)")
    }
}

/// "block `WH5`", or "block `WH5` (deleted)": a soft-deleted block still
/// counts, since restoring it must find its plugin and connector.
fn describe_block(block: &Block) -> String {
    let tenant = of_tenant(&block.tenant);
    if block.is_deleted() {
        format!("block `{}` (deleted){tenant}", block.name)
    } else {
        format!("block `{}`{tenant}", block.name)
    }
}
