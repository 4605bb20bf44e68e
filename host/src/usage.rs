//! Who uses a plugin or a connector: the check behind "delete refused while
//! in use". Each resource that names plugins or connectors adds its users
//! here.

use crate::domain::Name;
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
    users.sort();
    Ok(users)
}

/// Descriptions of everything whose requests carry `connector`'s
/// credentials (`endpoint ep_…`), empty when nothing does. Call under
/// [`Store::config_lock`].
pub fn connector_users(store: &Store, connector: ConnectorId) -> Result<Vec<String>, StoreError> {
    let mut users: Vec<String> = store
        .endpoints_using_connector(connector)?
        .into_iter()
        .map(|endpoint| format!("endpoint `{endpoint}`"))
        .collect();
    users.sort();
    Ok(users)
}
