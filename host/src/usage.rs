//! Who uses a plugin or a connector: the check behind "delete refused while
//! in use". Each resource that names plugins or connectors adds its users
//! here.

use crate::domain::Name;
use crate::domain::block::Block;
use crate::ids::ConnectorId;
use crate::store::{Store, StoreError};

/// Descriptions of everything that uses `plugin` (`source gupshup-wa`, …),
/// empty when nothing does. Call under [`Store::config_lock`].
pub fn plugin_users(store: &Store, plugin: &Name) -> Result<Vec<String>, StoreError> {
    let mut users: Vec<String> = store
        .sources_using(plugin)?
        .into_iter()
        .map(|source| format!("source `{source}`"))
        .collect();
    users.extend(
        store
            .endpoints_using_plugin(plugin)?
            .into_iter()
            .map(|endpoint| format!("endpoint `{endpoint}`")),
    );
    users.extend(
        store
            .blocks_using_plugin(plugin)?
            .iter()
            .map(describe_block),
    );
    users.sort();
    Ok(users)
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

/// Descriptions of everything whose requests carry `connector`'s
/// credentials (`endpoint ep_…`, `block WH5`), empty
/// when nothing does. Call under [`Store::config_lock`].
pub fn connector_users(store: &Store, connector: ConnectorId) -> Result<Vec<String>, StoreError> {
    let mut users: Vec<String> = store
        .endpoints_using_connector(connector)?
        .into_iter()
        .map(|endpoint| format!("endpoint `{endpoint}`"))
        .collect();
    if let Some(record) = store.connector(connector)? {
        users.extend(
            store
                .blocks_using_connector(&record.name)?
                .iter()
                .map(describe_block),
        );
    }
    users.sort();
    Ok(users)
}
