//! Block records by tenant and name (case kept), and their writes. A
//! soft-deleted block stays with its `deleted_at` set, listed and
//! restorable, its name taken. Each write that sets a block's plugin or
//! config checks under the config lock that the plugin is an uploaded
//! block plugin and the connector the config names exists.

use tokio_postgres::Transaction;

use super::rows::{encode, record, records};
use super::tenants::settle;
use super::{PgStore, config, references};
use crate::domain::Name;
use crate::domain::block::{Block, BlockName};
use crate::domain::plugin::PluginWorld;
use crate::store::{ConfigChange, ConfigRefusal, ConfigWriteError, StoreError};

impl PgStore {
    /// `tenant`'s block by name, live or soft-deleted.
    pub async fn block(
        &self,
        tenant: &Name,
        name: &BlockName,
    ) -> Result<Option<Block>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT record FROM blocks WHERE tenant = $1 AND name = $2",
                        &[&tenant.as_str(), &name.as_str()],
                    )
                    .await?;
                row.map(|row| record("a block record", &row, 0)).transpose()
            }
            .await,
        )
    }

    /// `tenant`'s blocks, live and soft-deleted, by name.
    pub async fn blocks(&self, tenant: &Name) -> Result<Vec<Block>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM blocks WHERE tenant = $1 ORDER BY name",
                        &[&tenant.as_str()],
                    )
                    .await?;
                records("a block record", &rows)
            }
            .await,
        )
    }

    /// Stores a new block, refused when its name is taken (by a live or a
    /// soft-deleted block) or its plugin or connector is missing.
    pub async fn create_block(&self, block: &Block) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                if let Some(existing) = existing(&tx, &block.tenant, &block.name).await? {
                    return Err(if existing.is_deleted() {
                        ConfigRefusal::DeletedBlockExists(existing.name)
                    } else {
                        ConfigRefusal::BlockExists(existing.name)
                    }
                    .into());
                }
                check_references(&tx, block).await?;
                self.writable()?;
                put(&tx, block).await?;
                config::commit(tx, ConfigChange::Blocks).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }

    /// Changes the live block `name` with `change` and stores it, refused
    /// when there is no such block, when it is deleted, when `change`
    /// refuses, or when the changed block's plugin or connector is
    /// missing. `change` must not write.
    pub async fn update_block<E>(
        &self,
        tenant: &Name,
        name: &BlockName,
        change: impl FnOnce(&mut Block) -> Result<(), E> + Send,
    ) -> Result<Block, E>
    where
        E: From<ConfigWriteError> + Send,
    {
        let shared = &self.shared;
        let result = async {
            let mut client = shared.client().await?;
            let tx = config::begin(&mut client).await?;
            let mut block = existing(&tx, tenant, name)
                .await?
                .ok_or_else(|| ConfigRefusal::NoBlock(name.to_string()))?;
            if block.is_deleted() {
                return Err(ConfigRefusal::BlockDeleted(block.name).into());
            }
            if let Err(refused) = change(&mut block) {
                return Ok(Err(refused));
            }
            block.tenant = tenant.clone();
            check_references(&tx, &block).await?;
            self.writable()?;
            if block.name.as_str() != name.as_str() {
                tx.execute(
                    "DELETE FROM blocks WHERE tenant = $1 AND name = $2",
                    &[&tenant.as_str(), &name.as_str()],
                )
                .await
                .map_err(StoreError::from)?;
            }
            put(&tx, &block).await?;
            config::commit(tx, ConfigChange::Blocks).await?;
            Ok::<_, ConfigWriteError>(Ok(block))
        }
        .await;
        settle(shared.track(result))
    }

    /// Soft-deletes the block `name`: it stays readable and restorable.
    /// Refused when there is none or it is deleted already.
    pub async fn soft_delete_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError> {
        self.set_deleted(tenant, name, Some(now_ms), now_ms)
            .await
            .map(drop)
    }

    /// Brings the soft-deleted block `name` back. Refused when there is
    /// none or it is not deleted.
    pub async fn restore_block(
        &self,
        tenant: &Name,
        name: &BlockName,
        now_ms: u64,
    ) -> Result<Block, ConfigWriteError> {
        self.set_deleted(tenant, name, None, now_ms).await
    }

    /// Soft-deletes (`deleted_at` set) or restores (`None`) a block.
    async fn set_deleted(
        &self,
        tenant: &Name,
        name: &BlockName,
        deleted_at: Option<u64>,
        now_ms: u64,
    ) -> Result<Block, ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let mut block = existing(&tx, tenant, name)
                    .await?
                    .ok_or_else(|| ConfigRefusal::NoBlock(name.to_string()))?;
                match (deleted_at, block.is_deleted()) {
                    (Some(_), true) => {
                        return Err(ConfigRefusal::BlockAlreadyDeleted(block.name).into());
                    }
                    (None, false) => return Err(ConfigRefusal::BlockNotDeleted(block.name).into()),
                    _ => {}
                }
                block.deleted_at = deleted_at;
                block.updated_at = now_ms;
                self.writable()?;
                put(&tx, &block).await?;
                config::commit(tx, ConfigChange::Blocks).await?;
                Ok::<_, ConfigWriteError>(block)
            }
            .await,
        )
    }
}

/// The block `name` of `tenant`, live or deleted, read in `tx`.
async fn existing(
    tx: &Transaction<'_>,
    tenant: &Name,
    name: &BlockName,
) -> Result<Option<Block>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT record FROM blocks WHERE tenant = $1 AND name = $2 FOR UPDATE",
            &[&tenant.as_str(), &name.as_str()],
        )
        .await?;
    row.map(|row| record("a block record", &row, 0)).transpose()
}

/// Refuses `block` unless its plugin is an uploaded block plugin and the
/// connector its config names (if any) exists.
async fn check_references(tx: &Transaction<'_>, block: &Block) -> Result<(), ConfigWriteError> {
    references::plugin(
        tx,
        &block.tenant,
        "plugin",
        &block.plugin,
        PluginWorld::Block,
    )
    .await?;
    match block.connector_name() {
        Some(connector) => {
            references::connector_name(tx, &block.tenant, "config.connector", connector).await
        }
        None => Ok(()),
    }
}

/// Inserts or replaces `block`.
pub(super) async fn put(tx: &Transaction<'_>, block: &Block) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO blocks (tenant, name, plugin, connector_name, record) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, name) DO UPDATE SET plugin = EXCLUDED.plugin,
             connector_name = EXCLUDED.connector_name, record = EXCLUDED.record",
        &[
            &block.tenant.as_str(),
            &block.name.as_str(),
            &block.plugin.as_str(),
            &block.connector_name(),
            &encode(block)?,
        ],
    )
    .await?;
    Ok(())
}
