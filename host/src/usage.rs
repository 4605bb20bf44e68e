//! Who uses a plugin: the check behind "delete refused while in use". Each
//! resource that names plugins adds its users here.

use crate::domain::Name;
use crate::store::{Store, StoreError};

/// Descriptions of everything that uses `plugin` (`source gupshup-wa`, …),
/// empty when nothing does. Call under [`Store::config_lock`].
pub fn plugin_users(store: &Store, plugin: &Name) -> Result<Vec<String>, StoreError> {
    let mut users: Vec<String> = store
        .sources_using(plugin)?
        .into_iter()
        .map(|source| format!("source `{source}`"))
        .collect();
    users.sort();
    Ok(users)
}
