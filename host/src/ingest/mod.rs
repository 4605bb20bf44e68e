//! Events in, as a service that knows no HTTP: vendor callbacks (let in by
//! their source's token, mapped by its mapper, stored; or kept as a
//! rejected callback, which can be retried later), the check that a mapper
//! can use a source's config, and events published directly. Every event
//! is stored with the deliveries it fans out to (see
//! [`crate::delivery::fan_out`]), in the store's group commit, and the
//! delivery engine is woken for them. The API turns what this returns into
//! answers.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::delivery::fan_out::deliveries_for;
use crate::delivery::{Clock, DeliveryEngine};
use crate::domain::Name;
use crate::domain::event::CanonicalEvent;
use crate::registry::Registry;
use crate::store::{Inserted, NewEvent, Store, StoreError};

mod accept;
pub mod callback;
mod config_check;
pub mod encoding;
mod keep;
mod publish;
pub mod quota;
mod retry;

pub use accept::{CallbackOutcome, Fault, IngestError};
pub use callback::{check_content_type, receive};
pub use config_check::ConfigRefused;
pub use publish::PublishError;
pub use retry::RetryError;

/// The ingest service of one server.
pub struct IngestService {
    store: Arc<Store>,
    registry: Arc<Registry>,
    /// Woken when new events (and so deliveries) are stored.
    engine: Arc<DeliveryEngine>,
    /// The delivery engine's clock: new deliveries are due at its now.
    clock: Arc<dyn Clock>,
    /// Each tenant's callbacks-a-second quota.
    quotas: quota::IngestQuotas,
    /// Accepted callbacks on their way to be kept for replays.
    keeper: keep::CallbackKeeper,
}

impl std::fmt::Debug for IngestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestService").finish_non_exhaustive()
    }
}

impl IngestService {
    /// A service storing into `store`, mapping with `registry`'s plugins,
    /// and handing new deliveries (due at `clock`'s now) to `engine`;
    /// `keep_callbacks` says whether accepted callbacks are kept for
    /// replays (once [`IngestService::keep_callbacks`] runs).
    pub fn new(
        store: Arc<Store>,
        registry: Arc<Registry>,
        engine: Arc<DeliveryEngine>,
        clock: Arc<dyn Clock>,
        keep_callbacks: bool,
    ) -> Self {
        IngestService {
            store,
            registry,
            engine,
            clock,
            quotas: quota::IngestQuotas::default(),
            keeper: keep::CallbackKeeper::new(keep_callbacks),
        }
    }

    /// Stores accepted callbacks for replays until `shutdown`, then the
    /// ones still queued.
    pub async fn keep_callbacks(&self, shutdown: CancellationToken) {
        self.keeper.run(Arc::clone(&self.store), shutdown).await;
    }

    /// Stores `events` with their deliveries through the group commit
    /// (deduplicating resends: a resend adds no deliveries) and returns once
    /// they are on disk, one result per event in order.
    async fn store_events(
        &self,
        tenant: &Name,
        events: Vec<CanonicalEvent>,
    ) -> Result<Vec<Inserted>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let endpoints = self.store.endpoint_snapshot();
        let now = self.clock.now_ms();
        let new = events
            .into_iter()
            .map(|event| NewEvent {
                tenant: tenant.clone(),
                deliveries: deliveries_for(tenant, &event, &endpoints, now),
                event,
            })
            .collect();
        let inserted = self.store.commit_events(new).await?;
        if inserted.iter().any(|inserted| !inserted.duplicate) {
            self.engine.wake();
        }
        Ok(inserted)
    }
}
