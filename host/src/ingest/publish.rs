//! Events published directly (not from a vendor callback) into the
//! publisher's tenant: checked all together, then stored with their deliveries through the same group
//! commit as mapped callbacks.

use super::IngestService;
use crate::domain::Name;
use crate::domain::event::{EventInvalid, PublishEvent};
use crate::ids::{EventId, now_ms};
use crate::store::{Inserted, StoreError};

/// Why a publish stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event at `index` (0-based, in the order given) is not a valid
    /// canonical event.
    #[error("event {index}: {error}")]
    Invalid {
        /// Which one.
        index: usize,
        /// What is wrong with it.
        error: EventInvalid,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestService {
    /// Stores `events`, all or none: each is checked first and the first
    /// invalid one refuses them all. Returns once they are on disk, one
    /// result per event in order (a resend of a stored event is reported as
    /// a duplicate of it).
    pub async fn publish(
        &self,
        tenant: &Name,
        events: Vec<PublishEvent>,
    ) -> Result<Vec<Inserted>, PublishError> {
        let now = now_ms();
        let events = events
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                event
                    .into_event(EventId::new(now), now)
                    .map_err(|error| PublishError::Invalid { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.store_events(tenant, events).await?)
    }
}
