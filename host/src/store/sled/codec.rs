//! JSON values in sled trees: every record is stored as JSON so the data
//! dir stays inspectable and records can gain optional fields.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Reads and decodes the value under `key`.
pub(crate) fn get<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|bytes| decode(tree, &bytes)).transpose()
}

/// Encodes and writes `value` under `key`.
pub(crate) fn put<T: Serialize>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    value: &T,
) -> Result<(), StoreError> {
    tree.insert(key, encode(value)?)?;
    Ok(())
}

/// Every value of the tree, in key order.
pub(crate) fn all<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .values()
        .map(|bytes| decode(tree, &bytes?))
        .collect()
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Corrupt {
        what: "encoding a record",
        detail: error.to_string(),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(
    tree: &sled::Tree,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        what: tree_name(tree),
        detail: error.to_string(),
    })
}

fn tree_name(tree: &sled::Tree) -> &'static str {
    match &*tree.name() {
        b"plugins" => "a plugin record",
        b"plugin_versions" => "a plugin version record",
        b"sources" => "a source record",
        b"events" => "an event record",
        b"rejected" => "a rejected callback record",
        b"callbacks" => "a kept callback record",
        b"endpoints" => "an endpoint record",
        b"connectors" => "a connector record",
        b"blocks" => "a block record",
        _ => "a record",
    }
}
