//! The typed refusals of a configuration write: the record is not there,
//! its name is taken, it names a record that is missing or of the wrong
//! kind, or records that depend on it are still there. Every backend
//! refuses with these, so the API words a refusal the same way whichever
//! store runs.

use super::StoreError;
use crate::domain::Name;
use crate::domain::block::BlockName;
use crate::domain::plugin::PluginWorld;
use crate::ids::ConnectorId;

/// Why the store refused a configuration write: the record is not there,
/// its name is taken, it names a record that is missing or of the wrong
/// kind, or records that depend on it are still there.
#[derive(Debug, thiserror::Error)]
pub enum ConfigRefusal {
    /// No plugin of that name.
    #[error("no plugin named `{0}`")]
    NoPlugin(Name),
    /// No source of that name.
    #[error("no source named `{0}`")]
    NoSource(String),
    /// No endpoint with that id.
    #[error("no endpoint `{0}`")]
    NoEndpoint(String),
    /// No connector with that id or name.
    #[error("no connector `{0}`")]
    NoConnector(String),
    /// No block of that name, live or deleted.
    #[error("no block named `{0}`")]
    NoBlock(String),
    /// No tenant of that name.
    #[error("no tenant named `{0}`")]
    NoTenant(String),
    /// A tenant of that name exists (perhaps deleted).
    #[error("a tenant named `{0}` exists")]
    TenantExists(Name),
    /// No key with that id in the tenant.
    #[error("no key `{0}`")]
    NoKey(String),
    /// A quota of the tenant would be exceeded.
    #[error(
        "tenant `{tenant}` may have at most {limit} {what} (its quota); delete one first or ask the operator to raise it"
    )]
    QuotaExceeded {
        /// The tenant.
        tenant: Name,
        /// `sources` or `endpoints`.
        what: &'static str,
        /// The quota.
        limit: u32,
    },
    /// A source of that name exists.
    #[error("a source named `{0}` exists")]
    SourceExists(Name),
    /// Another connector has that name.
    #[error("a connector named `{name}` exists ({holder})")]
    ConnectorNameTaken {
        /// The name.
        name: Name,
        /// The connector that has it.
        holder: ConnectorId,
    },
    /// A live block of that name exists.
    #[error("a block named `{0}` exists")]
    BlockExists(BlockName),
    /// A soft-deleted block holds that name.
    #[error(
        "a deleted block named `{0}` exists; restore it (POST /v1/blocks/{0}/restore) or choose \
         another name"
    )]
    DeletedBlockExists(BlockName),
    /// The block is soft-deleted, so it cannot be changed.
    #[error("block `{0}` is deleted; restore it first (POST /v1/blocks/{0}/restore)")]
    BlockDeleted(BlockName),
    /// The block is soft-deleted already.
    #[error("block `{0}` is already deleted")]
    BlockAlreadyDeleted(BlockName),
    /// The block to restore is not deleted.
    #[error("block `{0}` is not deleted")]
    BlockNotDeleted(BlockName),
    /// A field names a plugin that is not uploaded.
    #[error("{field}: no plugin named `{plugin}`; upload it first")]
    MissingPlugin {
        /// The field (`mapper`, `renderer.plugin`, `plugin`).
        field: &'static str,
        /// The plugin it names.
        plugin: Name,
    },
    /// A field names a plugin of another world.
    #[error("{field}: plugin `{plugin}` is a {}, not a {}", .world.as_str(), .expected.as_str())]
    WrongWorld {
        /// The field.
        field: &'static str,
        /// The plugin it names.
        plugin: Name,
        /// The plugin's world.
        world: PluginWorld,
        /// The world the field needs.
        expected: PluginWorld,
    },
    /// A field names a connector id that does not exist.
    #[error("{field}: no connector `{connector}`; create it first")]
    MissingConnector {
        /// The field.
        field: &'static str,
        /// The id it names.
        connector: ConnectorId,
    },
    /// A field names a connector name that does not exist.
    #[error("{field}: no connector named `{connector}`; create it first")]
    MissingConnectorName {
        /// The field.
        field: &'static str,
        /// The name it holds.
        connector: String,
    },
    /// Sources, endpoints or blocks use the plugin.
    #[error("plugin `{plugin}` is used by {}; change or delete those first", .users.join(", "))]
    PluginInUse {
        /// The plugin.
        plugin: Name,
        /// Its users, described (`source `gs``, `block `WH5` (deleted)`).
        users: Vec<String>,
    },
    /// Endpoints or blocks send the connector's credentials.
    #[error("connector `{connector}` is used by {}; change or delete those first", .users.join(", "))]
    ConnectorInUse {
        /// The connector's name.
        connector: Name,
        /// Its users, described.
        users: Vec<String>,
    },
    /// Blocks name the connector, so renaming it would leave them naming
    /// nothing (endpoints hold its id and do not mind).
    #[error(
        "connector `{connector}` cannot be renamed while blocks name it: {}; change those blocks \
         first",
        .blocks.iter().map(|block| format!("`{block}`")).collect::<Vec<_>>().join(", ")
    )]
    ConnectorNamedByBlocks {
        /// The connector's current name.
        connector: Name,
        /// The blocks that name it.
        blocks: Vec<BlockName>,
    },
}

/// A configuration write that failed: refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigWriteError {
    /// The change would break the configuration; nothing was written.
    #[error(transparent)]
    Refused(#[from] ConfigRefusal),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
