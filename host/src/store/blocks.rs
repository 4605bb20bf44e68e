//! Block records, keyed by name (case kept). A soft-deleted block stays
//! here with its `deleted_at` set, so it can be listed and restored.

use super::codec;
use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::block::{Block, BlockName};

impl Store {
    /// A block by name, live or soft-deleted.
    pub fn block(&self, name: &BlockName) -> Result<Option<Block>, StoreError> {
        codec::get(&self.blocks, name.as_str())
    }

    /// Every block, live and soft-deleted, by name.
    pub fn blocks(&self) -> Result<Vec<Block>, StoreError> {
        codec::all(&self.blocks)
    }

    /// Stores a new block; `false` when the name is taken (by a live or a
    /// soft-deleted block).
    pub fn create_block(&self, block: &Block) -> Result<bool, StoreError> {
        self.writable()?;
        let value = codec::encode(block)?;
        let swapped = self.blocks.compare_and_swap(
            block.name.as_str(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        Ok(swapped.is_ok())
    }

    /// Replaces a block's record (an edit, a soft delete, a restore).
    pub fn put_block(&self, block: &Block) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.blocks, block.name.as_str(), block)
    }

    /// The blocks (live or soft-deleted) run by `plugin`.
    pub fn blocks_using_plugin(&self, plugin: &Name) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .blocks()?
            .into_iter()
            .filter(|block| &block.plugin == plugin)
            .collect())
    }

    /// The blocks (live or soft-deleted) whose config names the connector
    /// called `connector`.
    pub fn blocks_using_connector(&self, connector: &Name) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .blocks()?
            .into_iter()
            .filter(|block| block.connector_name() == Some(connector.as_str()))
            .collect())
    }
}
