//! Workflow block changes: create, replace, soft delete, restore. A block's
//! fields and written-out URL are checked here; the store checks its plugin
//! and connector.

use serde_json::Value;

use super::{Admin, AdminError};
use crate::domain::Name;
use crate::domain::block::{self, Block, BlockName, CreateBlock, ReplaceBlock};
use crate::domain::endpoint::FieldError;
use crate::domain::tenant::Principal;
use crate::ids::now_ms;

impl Admin {
    /// Creates a block under a name no block (live or deleted) has.
    pub async fn create_block(
        &self,
        by: &Principal,
        body: CreateBlock,
    ) -> Result<Block, AdminError> {
        let now = now_ms();
        let block = Block {
            tenant: by.tenant.clone(),
            name: body.name,
            description: body.description,
            plugin: body.plugin,
            config: body.config,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        self.check_block(block.description.as_deref(), &block.plugin, &block.config)?;
        self.store.create_block(&block).await?;
        self.audit(by, "block.create", &block.name).await?;
        self.store.durable().await?;
        tracing::info!(block = %block.name, plugin = %block.plugin, "block created");
        Ok(block)
    }

    /// Replaces the live block `name`'s description, plugin and config;
    /// its name cannot change.
    pub async fn replace_block(
        &self,
        by: &Principal,
        name: &BlockName,
        body: ReplaceBlock,
    ) -> Result<Block, AdminError> {
        let block = self
            .store
            .update_block(&by.tenant, name, |block| {
                if let Some(given) = &body.name
                    && *given != block.name
                {
                    return Err(FieldError::new(
                        "name",
                        format!(
                            "a block's name cannot change (this one is `{}`)",
                            block.name
                        ),
                    )
                    .into());
                }
                self.check_block(body.description.as_deref(), &body.plugin, &body.config)?;
                block.description = body.description;
                block.plugin = body.plugin;
                block.config = body.config;
                block.updated_at = now_ms();
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(by, "block.replace", name).await?;
        self.store.durable().await?;
        Ok(block)
    }

    /// Soft-deletes block `name`: it leaves the list and can be restored.
    pub async fn delete_block(&self, by: &Principal, name: &BlockName) -> Result<(), AdminError> {
        self.store
            .soft_delete_block(&by.tenant, name, now_ms())
            .await?;
        self.audit(by, "block.delete", name).await?;
        self.store.durable().await?;
        Ok(())
    }

    /// Brings the soft-deleted block `name` back.
    pub async fn restore_block(
        &self,
        by: &Principal,
        name: &BlockName,
    ) -> Result<Block, AdminError> {
        let block = self.store.restore_block(&by.tenant, name, now_ms()).await?;
        self.audit(by, "block.restore", name).await?;
        self.store.durable().await?;
        Ok(block)
    }

    /// What a block must be beyond what the store checks: valid fields, and
    /// a URL template whose host is written out (not a variable) held to
    /// the same address rules as an endpoint's URL.
    fn check_block(
        &self,
        description: Option<&str>,
        plugin: &Name,
        config: &Value,
    ) -> Result<(), AdminError> {
        block::validate(description, plugin, config, self.allow_plain_http_blocks)?;
        let written_out = config
            .get("url")
            .and_then(Value::as_str)
            .and_then(|text| url::Url::parse(text.trim()).ok())
            .filter(|url| {
                url.host_str()
                    .is_some_and(|host| !host.contains(['$', '{']))
            });
        match written_out {
            Some(url) => self.check_target("config.url", &url),
            None => Ok(()),
        }
    }
}
