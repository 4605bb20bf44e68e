//! Endpoint changes: create, change, delete, rotate the signing secret. An
//! endpoint is checked whole before it is stored: its fields, its URL
//! against the outbound address rules, and (by the store) the renderer and
//! connector it names.

use super::{Admin, AdminError};
use crate::domain::endpoint::{
    DEFAULT_GRACE_SECS, Endpoint, EndpointConfig, FieldError, MAX_GRACE_SECS, SigningSecret,
    UpdateEndpoint,
};
use crate::domain::tenant::Principal;
use crate::ids::{EndpointId, now_ms};

impl Admin {
    /// Creates an endpoint with `secret`, or a generated one.
    pub async fn create_endpoint(
        &self,
        by: &Principal,
        config: EndpointConfig,
        secret: Option<SigningSecret>,
    ) -> Result<Endpoint, AdminError> {
        let endpoint = Endpoint::new(
            by.tenant.clone(),
            config,
            secret.unwrap_or_else(SigningSecret::generate),
            now_ms(),
        );
        self.check_endpoint_config(&endpoint.config)?;
        self.store.create_endpoint(&endpoint).await?;
        self.audit(by, "endpoint.create", endpoint.id).await?;
        self.store.durable().await?;
        tracing::info!(endpoint = %endpoint.id, url = %endpoint.config.url, "endpoint created");
        Ok(endpoint)
    }

    /// Changes the fields of endpoint `id` that `update` gives.
    pub async fn update_endpoint(
        &self,
        by: &Principal,
        id: EndpointId,
        update: UpdateEndpoint,
    ) -> Result<Endpoint, AdminError> {
        let endpoint = self
            .store
            .update_endpoint(&by.tenant, id, |endpoint| {
                endpoint.config.apply(update);
                self.check_endpoint_config(&endpoint.config)?;
                endpoint.updated_at = now_ms();
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(by, "endpoint.update", id).await?;
        self.store.durable().await?;
        // Re-enabled, or paced differently: waiting deliveries may go now.
        self.engine.wake();
        Ok(endpoint)
    }

    /// Deletes endpoint `id`; its pending deliveries fail, visibly.
    pub async fn delete_endpoint(&self, by: &Principal, id: EndpointId) -> Result<(), AdminError> {
        self.store.delete_endpoint(&by.tenant, id, now_ms()).await?;
        self.audit(by, "endpoint.delete", id).await?;
        self.store.durable().await?;
        Ok(())
    }

    /// Makes `secret` (or a generated one) endpoint `id`'s signing secret;
    /// deliveries stay signed with the old one too for
    /// `grace_period_secs` (default a day), so receivers can switch over.
    pub async fn rotate_endpoint_secret(
        &self,
        by: &Principal,
        id: EndpointId,
        grace_period_secs: Option<u64>,
        secret: Option<SigningSecret>,
    ) -> Result<Endpoint, AdminError> {
        let grace_secs = grace_period_secs.unwrap_or(DEFAULT_GRACE_SECS);
        if grace_secs > MAX_GRACE_SECS {
            return Err(FieldError::new(
                "grace_period_secs",
                format!("at most {MAX_GRACE_SECS} seconds (7 days)"),
            )
            .into());
        }
        let next = secret.unwrap_or_else(SigningSecret::generate);
        let endpoint = self
            .store
            .update_endpoint(&by.tenant, id, |endpoint| {
                endpoint.rotate_secret(next, grace_secs, now_ms());
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(by, "endpoint.rotate_secret", id).await?;
        self.store.durable().await?;
        tracing::info!(endpoint = %endpoint.id, grace_secs, "endpoint secret rotated");
        Ok(endpoint)
    }

    /// What an endpoint's config must be beyond what the store checks: valid
    /// fields, and a URL some request could reach.
    fn check_endpoint_config(&self, config: &EndpointConfig) -> Result<(), AdminError> {
        config.validate()?;
        self.check_target("url", config.url.as_url())
    }
}
