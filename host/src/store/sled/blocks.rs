//! Block records, keyed by tenant and name (case kept), and their writes.
//! Names are unique within a tenant; every reader and writer names it. A
//! soft-deleted block stays here with its `deleted_at` set, so it can be
//! listed and restored; its name stays taken. Each write that sets a
//! block's plugin or config checks, under the config lock, that the plugin
//! is an uploaded block plugin and the connector the config names exists.

use super::codec;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::block::{Block, BlockName};
use crate::domain::plugin::PluginWorld;
use crate::store::{ConfigRefusal, ConfigWriteError};

impl SledStore {
    /// `tenant`'s block by name, live or soft-deleted.
    pub fn block(&self, tenant: &Name, name: &BlockName) -> Result<Option<Block>, StoreError> {
        codec::get(&self.blocks, block_key(tenant, name))
    }

    /// `tenant`'s blocks, live and soft-deleted, by name.
    pub fn blocks(&self, tenant: &Name) -> Result<Vec<Block>, StoreError> {
        self.blocks
            .scan_prefix(tenant_prefix(tenant))
            .values()
            .map(|bytes| codec::decode(&self.blocks, &bytes?))
            .collect()
    }

    /// Every tenant's blocks.
    pub(super) fn all_blocks(&self) -> Result<Vec<Block>, StoreError> {
        codec::all(&self.blocks)
    }

    /// Moves blocks stored before tenants (keyed by name alone) under the
    /// default tenant's prefix. Runs at open; a no-op once done.
    pub(super) fn migrate_block_keys(&self) -> Result<usize, StoreError> {
        let mut moved = 0;
        for entry in self.blocks.iter() {
            let (key, value) = entry?;
            if key.contains(&0) {
                continue;
            }
            let block: Block = codec::decode(&self.blocks, &value)?;
            self.blocks
                .insert(block_key(&block.tenant, &block.name), value)?;
            self.blocks.remove(key)?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Stores a new block, refused when its name is taken (by a live or a
    /// soft-deleted block) or its plugin or connector is missing. Not
    /// durable until [`SledStore::durable`] returns.
    pub fn create_block(&self, block: &Block) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        if let Some(existing) = self.block(&block.tenant, &block.name)? {
            return Err(if existing.is_deleted() {
                ConfigRefusal::DeletedBlockExists(existing.name)
            } else {
                ConfigRefusal::BlockExists(existing.name)
            }
            .into());
        }
        self.check_block_references(block)?;
        self.writable()?;
        let value = codec::encode(block)?;
        self.blocks
            .compare_and_swap(
                block_key(&block.tenant, &block.name),
                None as Option<&[u8]>,
                Some(value),
            )?
            .map_err(|_| ConfigRefusal::BlockExists(block.name.clone()))?;
        Ok(())
    }

    /// Changes the live block `name` with `change` and stores it, refused
    /// when there is no such block, when it is deleted, when `change`
    /// refuses, or when the changed block's plugin or connector is
    /// missing. Returns the block as stored. Not durable until
    /// [`SledStore::durable`] returns. `change` runs under the config lock: it
    /// must not write.
    pub fn update_block<E>(
        &self,
        tenant: &Name,
        name: &BlockName,
        change: impl FnOnce(&mut Block) -> Result<(), E>,
    ) -> Result<Block, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut block = self.existing_block(tenant, name)?;
        if block.is_deleted() {
            return Err(ConfigWriteError::from(ConfigRefusal::BlockDeleted(block.name)).into());
        }
        change(&mut block)?;
        block.tenant = tenant.clone();
        self.check_block_references(&block)?;
        self.put_block(&block).map_err(ConfigWriteError::from)?;
        Ok(block)
    }

    /// Soft-deletes the block `name`: it stays readable and restorable.
    /// Refused when there is none or it is deleted already. Not durable
    /// until [`SledStore::durable`] returns.
    pub fn soft_delete_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        let mut block = self.existing_block(tenant, name)?;
        if block.is_deleted() {
            return Err(ConfigRefusal::BlockAlreadyDeleted(block.name).into());
        }
        block.deleted_at = Some(now_ms);
        block.updated_at = now_ms;
        Ok(self.put_block(&block)?)
    }

    /// Brings the soft-deleted block `name` back. Refused when there is
    /// none or it is not deleted. Not durable until [`SledStore::durable`]
    /// returns.
    pub fn restore_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<Block, ConfigWriteError> {
        let _guard = self.config_lock();
        let mut block = self.existing_block(tenant, name)?;
        if !block.is_deleted() {
            return Err(ConfigRefusal::BlockNotDeleted(block.name).into());
        }
        block.deleted_at = None;
        block.updated_at = now_ms;
        self.put_block(&block)?;
        Ok(block)
    }

    /// The block `name`, live or deleted, or the refusal that there is none.
    fn existing_block(&self, tenant: &Name, name: &BlockName) -> Result<Block, ConfigWriteError> {
        self.block(tenant, name)?
            .ok_or_else(|| ConfigRefusal::NoBlock(name.to_string()).into())
    }

    /// Refuses `block` unless its plugin is an uploaded block plugin and
    /// the connector its config names (if any) exists. Call under the
    /// config lock, so neither is deleted between the check and the write.
    fn check_block_references(&self, block: &Block) -> Result<(), ConfigWriteError> {
        self.check_plugin_reference(&block.tenant, "plugin", &block.plugin, PluginWorld::Block)?;
        match block.connector_name() {
            Some(connector) => {
                self.check_connector_name_reference(&block.tenant, "config.connector", connector)
            }
            None => Ok(()),
        }
    }

    fn put_block(&self, block: &Block) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.blocks, block_key(&block.tenant, &block.name), block)
    }
}

/// A block's key: its tenant, a zero byte (in no name), its name.
fn block_key(tenant: &Name, name: &BlockName) -> Vec<u8> {
    let mut key = tenant_prefix(tenant);
    key.extend_from_slice(name.as_str().as_bytes());
    key
}

/// Where a tenant's blocks start.
fn tenant_prefix(tenant: &Name) -> Vec<u8> {
    let mut key = tenant.as_str().as_bytes().to_vec();
    key.push(0);
    key
}
