//! What the operator changes through `/v1`, one method per change: plugins
//! (upload, activate, settings, delete), sources, endpoints, connectors
//! and blocks (create, change, delete), and a delivery's retry, release or
//! replay. Each method checks what only the server knows beyond the store
//! (the plugin registry, the outbound address rules, a mapper's view of its
//! config), hands the write to the store — which checks references and
//! dependents under its config lock — and returns once the write is
//! durable. The HTTP handlers only extract, call one method and answer.

mod blocks;
mod connectors;
mod deliveries;
mod endpoints;
mod plugins;
mod sources;
mod tenants;

use std::sync::Arc;

use crate::delivery::DeliveryEngine;
use crate::domain::endpoint::FieldError;
use crate::domain::tenant::{AuditEntry, Principal};
use crate::ids::{AuditId, DeliveryId, now_ms};
use crate::ingest::{ConfigRefused, IngestService};
use crate::outbound::address_policy::Refusal;
use crate::registry::{Registry, RegistryError};
use crate::store::{ConfigRefusal, ConfigWriteError, Store, StoreError};

/// Why an operator's change was not made.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The store refused it: a record missing or in the way, a reference to
    /// a missing plugin or connector, dependents still there.
    #[error(transparent)]
    Refused(ConfigRefusal),
    /// A field is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A URL's target is one the outbound address rules always refuse.
    #[error(
        "{field}: {refusal}: every request to it would be refused (the operator can allow it \
         with `--outbound-allowlist`)"
    )]
    TargetRefused {
        /// The field holding the URL.
        field: &'static str,
        /// Why its address is refused.
        refusal: Refusal,
    },
    /// The source's mapper says it cannot use the config.
    #[error(transparent)]
    MapperRefusedConfig(#[from] ConfigRefused),
    /// No delivery with that id.
    #[error("no delivery `{0}`")]
    NoDelivery(DeliveryId),
    /// The delivery to retry succeeded.
    #[error("delivery `{0}` succeeded; replay the endpoint to send it again")]
    DeliverySucceeded(DeliveryId),
    /// The delivery to release holds nothing.
    #[error(
        "delivery `{delivery}` is not held (it is {state}); only a delivery that failed for good \
         under `after_final_failure: hold` holds others"
    )]
    DeliveryNotHeld {
        /// The delivery.
        delivery: DeliveryId,
        /// Its state.
        state: &'static str,
    },
    /// A tenant is not in the state the change needs (deleting a deleted
    /// one, restoring a live one).
    #[error("{0}")]
    TenantState(String),
    /// The plugin registry refused or failed (an upload, an activation).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task (loading, compiling a plugin) panicked or was
    /// cancelled.
    #[error("a plugin task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<ConfigRefusal> for AdminError {
    fn from(refusal: ConfigRefusal) -> Self {
        AdminError::Refused(refusal)
    }
}

impl From<ConfigWriteError> for AdminError {
    fn from(error: ConfigWriteError) -> Self {
        match error {
            ConfigWriteError::Refused(refusal) => AdminError::Refused(refusal),
            ConfigWriteError::Store(error) => AdminError::Store(error),
        }
    }
}

/// The operator's changes, over the store, the plugin registry and the
/// delivery engine.
pub struct Admin {
    store: Arc<Store>,
    registry: Arc<Registry>,
    /// Shows a source's config to its mapper before the source is saved.
    ingest: Arc<IngestService>,
    /// Woken when a change may let deliveries go; its address rules refuse
    /// targets no request could reach.
    engine: Arc<DeliveryEngine>,
    /// Whether a block's URL may be plain `http://`.
    allow_plain_http_blocks: bool,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    /// The operator's changes to `store`, with `registry`'s plugins and
    /// `engine`'s deliveries.
    pub fn new(
        store: Arc<Store>,
        registry: Arc<Registry>,
        ingest: Arc<IngestService>,
        engine: Arc<DeliveryEngine>,
        allow_plain_http_blocks: bool,
    ) -> Self {
        Admin {
            store,
            registry,
            ingest,
            engine,
            allow_plain_http_blocks,
        }
    }

    /// Records in `by`'s tenant's audit log that `by` did `action` to
    /// `target`. Written before the change's durability wait, so the two
    /// are on disk together.
    async fn audit(
        &self,
        by: &Principal,
        action: &str,
        target: impl std::fmt::Display,
    ) -> Result<(), AdminError> {
        let now = now_ms();
        self.store
            .record_audit(&AuditEntry {
                id: AuditId::new(now),
                tenant: by.tenant.clone(),
                actor: by.actor.clone(),
                action: action.to_owned(),
                target: target.to_string(),
                at: now,
            })
            .await?;
        Ok(())
    }

    /// Refuses `url` (in `field`) when the outbound address rules refuse
    /// every request to it (a private or loopback IP literal, `localhost`),
    /// instead of accepting it and failing every request later.
    fn check_target(&self, field: &'static str, url: &url::Url) -> Result<(), AdminError> {
        self.engine
            .address_policy()
            .check_url(url)
            .map_err(|refusal| AdminError::TargetRefused { field, refusal })
    }
}
