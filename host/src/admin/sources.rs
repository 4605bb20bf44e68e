//! Source changes: create, change, delete. A source's config is first shown
//! to its mapper, which may refuse it, so a source is never saved with a
//! config that would make every callback a rejection.

use serde_json::Value;

use super::{Admin, AdminError};
use crate::domain::endpoint::FieldError;
use crate::domain::source::{CreateSource, MIN_TOKEN_LEN, Source, UpdateSource};
use crate::domain::tenant::Principal;
use crate::domain::{Name, Secret};
use crate::ids::now_ms;
use crate::store::ConfigRefusal;

impl Admin {
    /// Connects a vendor: a source with its mapper, config and ingest token
    /// (generated unless given).
    pub async fn create_source(
        &self,
        by: &Principal,
        body: CreateSource,
    ) -> Result<Source, AdminError> {
        let config = body.config.unwrap_or_else(|| serde_json::json!({}));
        check_config(&config)?;
        self.ingest
            .check_source_config(&by.tenant, &body.mapper, &config)
            .await?;
        let ingest_token = match &body.ingest_token {
            Some(token) => check_token(token)?,
            None => Secret::generate("whk_"),
        };
        let now = now_ms();
        let source = Source {
            tenant: by.tenant.clone(),
            vendor: body.vendor.unwrap_or_else(|| body.mapper.to_string()),
            name: body.name,
            mapper: body.mapper,
            channel: body.channel,
            config,
            ingest_token,
            description: body.description,
            created_at: now,
            updated_at: now,
        };
        self.store.create_source(&source).await?;
        self.audit(by, "source.create", &source.name).await?;
        self.store.durable().await?;
        Ok(source)
    }

    /// Changes the fields of source `name` that `body` gives.
    pub async fn update_source(
        &self,
        by: &Principal,
        name: &str,
        body: UpdateSource,
    ) -> Result<Source, AdminError> {
        if body.mapper.is_some() || body.config.is_some() {
            // The mapper is asked before the store's lock (a plugin call may
            // take a while); the source it was asked about is the one saved.
            let current = self
                .store
                .tenant_source(&by.tenant, name)
                .ok_or_else(|| ConfigRefusal::NoSource(name.to_owned()))?;
            let mapper = body.mapper.as_ref().unwrap_or(&current.mapper);
            let config = body.config.as_ref().unwrap_or(&current.config);
            check_config(config)?;
            self.ingest
                .check_source_config(&by.tenant, mapper, config)
                .await?;
        }
        let source = self
            .store
            .update_source(&by.tenant, name, |source| {
                if let Some(token) = &body.ingest_token {
                    source.ingest_token = check_token(token)?;
                }
                if let Some(mapper) = body.mapper {
                    source.mapper = mapper;
                }
                if let Some(config) = body.config {
                    source.config = config;
                }
                if let Some(vendor) = body.vendor {
                    source.vendor = vendor;
                }
                if body.channel.is_some() {
                    source.channel = body.channel;
                }
                if body.description.is_some() {
                    source.description = body.description;
                }
                source.updated_at = now_ms();
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(by, "source.update", name).await?;
        self.store.durable().await?;
        Ok(source)
    }

    /// Deletes a source. Its events stay.
    pub async fn delete_source(&self, by: &Principal, name: &Name) -> Result<(), AdminError> {
        self.store.delete_source(&by.tenant, name).await?;
        self.audit(by, "source.delete", name).await?;
        self.store.durable().await?;
        Ok(())
    }
}

fn check_config(config: &Value) -> Result<(), FieldError> {
    if config.is_object() {
        Ok(())
    } else {
        Err(FieldError::new("config", "must be a JSON object"))
    }
}

fn check_token(token: &str) -> Result<Secret, FieldError> {
    if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            "ingest_token",
            format!("must be at least {MIN_TOKEN_LEN} characters without spaces"),
        ));
    }
    Ok(Secret::new(token))
}
