//! The operator's changes to deliveries: retry one now, release one that
//! holds those ordered behind it, replay an endpoint's deliveries since a
//! time. Each wakes the delivery engine once its change is durable.

use super::{Admin, AdminError};
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::tenant::Principal;
use crate::ids::{DeliveryId, EndpointId, now_ms};
use crate::store::ConfigRefusal;

/// How many deliveries a replay reads at a time.
const REPLAY_PAGE: usize = 1000;

impl Admin {
    /// Queues delivery `id` for an attempt now (a failed one, or a pending
    /// one waiting for its next attempt); it keeps its `webhook-id`. A
    /// delivery that succeeded is replayed instead.
    pub async fn retry_delivery(
        &self,
        by: &Principal,
        id: DeliveryId,
    ) -> Result<Delivery, AdminError> {
        let mut delivery = self.delivery(by, id).await?;
        if delivery.state == DeliveryState::Succeeded {
            return Err(AdminError::DeliverySucceeded(id));
        }
        self.requeue(&mut delivery).await?;
        self.audit(by, "delivery.retry", id).await?;
        self.store.durable().await?;
        self.engine.wake();
        Ok(delivery)
    }

    /// Lets the deliveries ordered behind held delivery `id` go. It stays
    /// failed, and can still be retried.
    pub async fn release_delivery(
        &self,
        by: &Principal,
        id: DeliveryId,
    ) -> Result<Delivery, AdminError> {
        let mut delivery = self.delivery(by, id).await?;
        if !delivery.held {
            return Err(AdminError::DeliveryNotHeld {
                delivery: id,
                state: state_name(delivery.state),
            });
        }
        delivery.held = false;
        delivery.updated_at = now_ms();
        self.store.update_delivery(&delivery, None).await?;
        self.audit(by, "delivery.release", id).await?;
        self.store.durable().await?;
        self.engine.wake();
        tracing::info!(delivery = %delivery.id, endpoint = %delivery.endpoint, "held delivery released");
        Ok(delivery)
    }

    /// Queues again every delivery of `endpoint` whose event came at or
    /// after `since` (epoch ms), optionally only those in `state`; pending
    /// ones are left alone. Returns how many were queued.
    pub async fn replay_deliveries(
        &self,
        by: &Principal,
        endpoint: EndpointId,
        since: u64,
        state: Option<DeliveryState>,
    ) -> Result<usize, AdminError> {
        if self.store.endpoint(&by.tenant, endpoint).await?.is_none() {
            return Err(ConfigRefusal::NoEndpoint(endpoint.to_string()).into());
        }
        // Collected newest first (the listing order), queued again oldest
        // first: with ordering, they go in event order.
        let mut ids = Vec::new();
        let mut before = None;
        'pages: loop {
            let page = self
                .store
                .deliveries_of(endpoint, state, before, REPLAY_PAGE)
                .await?;
            let Some(last) = page.last().map(|d| d.id) else {
                break;
            };
            for delivery in page {
                if delivery.event.time_ms() < since {
                    break 'pages;
                }
                if delivery.state != DeliveryState::Pending {
                    ids.push(delivery.id);
                }
            }
            before = Some(last);
        }
        let mut queued = 0;
        for id in ids.into_iter().rev() {
            // Read again: it may have changed since it was listed.
            if let Some(mut delivery) = self.store.delivery(id).await?
                && delivery.state != DeliveryState::Pending
            {
                self.requeue(&mut delivery).await?;
                queued += 1;
            }
        }
        self.audit(by, "endpoint.replay", endpoint).await?;
        self.store.durable().await?;
        self.engine.wake();
        Ok(queued)
    }

    async fn delivery(&self, by: &Principal, id: DeliveryId) -> Result<Delivery, AdminError> {
        self.store
            .delivery(id)
            .await?
            .filter(|delivery| delivery.tenant == by.tenant)
            .ok_or_else(|| AdminError::NoDelivery(id))
    }

    /// Makes `delivery` pending and due now, releasing what it held.
    async fn requeue(&self, delivery: &mut Delivery) -> Result<(), AdminError> {
        let now = now_ms();
        let previous_due = delivery.next_attempt_at;
        delivery.state = DeliveryState::Pending;
        delivery.held = false;
        delivery.next_attempt_at = Some(now);
        delivery.updated_at = now;
        self.store.update_delivery(delivery, previous_due).await?;
        Ok(())
    }
}

fn state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Succeeded => "succeeded",
        DeliveryState::Failed => "failed",
    }
}
