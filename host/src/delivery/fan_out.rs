//! Fan-out: which deliveries a newly stored event makes. One per endpoint
//! of the event's tenant whose filters want it, enabled or not (a disabled endpoint's deliveries
//! wait until it is enabled again, so none is lost), queued under the
//! endpoint's ordering key when it orders by key. A pure function: the
//! ingest service calls it before handing an event to the store, which
//! writes the event and these deliveries in one transaction.

use crate::domain::Name;
use crate::domain::delivery::Delivery;
use crate::domain::endpoint::Endpoint;
use crate::domain::event::CanonicalEvent;

/// The deliveries `tenant`'s `event` makes to `endpoints` (of any tenant:
/// only `tenant`'s are candidates), due at `now_ms`, in the endpoints'
/// order.
pub fn deliveries_for(
    tenant: &Name,
    event: &CanonicalEvent,
    endpoints: &[Endpoint],
    now_ms: u64,
) -> Vec<Delivery> {
    endpoints
        .iter()
        .filter(|endpoint| &endpoint.tenant == tenant && endpoint.matches(event))
        .map(|endpoint| {
            Delivery::new(tenant.clone(), endpoint.id, event.id, now_ms)
                .keyed(endpoint.config.ordering.key_of(event))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use wasmhook_sdk::Status;

    use super::*;
    use crate::domain::endpoint::OrderingMode;
    use crate::domain::endpoint::tests::{endpoint, event};
    use crate::domain::tenant::default_tenant;
    use crate::ids::EventId;

    #[test]
    fn one_delivery_per_matching_endpoint_disabled_ones_included() {
        let event = event(EventId::new(5), "m-5");
        let wanted = endpoint();
        let mut disabled = endpoint();
        disabled.config.enabled = false;
        let mut read_only = endpoint();
        read_only.config.filters.statuses = vec![Status::Read];
        let endpoints = [wanted.clone(), read_only, disabled.clone()];
        let deliveries = deliveries_for(&default_tenant(), &event, &endpoints, 42);
        let targets: Vec<_> = deliveries.iter().map(|d| d.endpoint).collect();
        assert_eq!(targets, [wanted.id, disabled.id]);
        for delivery in &deliveries {
            assert_eq!(delivery.event, event.id);
            assert_eq!(delivery.next_attempt_at, Some(42));
            assert_eq!(delivery.ordering_key, None);
            // The same event fanned out again makes the same `webhook-id`.
            assert_eq!(
                delivery.id,
                Delivery::new(default_tenant(), delivery.endpoint, event.id, 7).id
            );
        }
    }

    #[test]
    fn an_endpoint_ordered_by_key_queues_under_the_events_key() {
        let event = event(EventId::new(5), "m-5");
        let mut keyed = endpoint();
        keyed.config.ordering.mode = OrderingMode::Key;
        let deliveries = deliveries_for(&default_tenant(), &event, &[keyed], 1);
        assert_eq!(deliveries[0].ordering_key.as_deref(), Some("+15555550100"));
    }
}
