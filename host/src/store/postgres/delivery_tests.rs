//! Deliveries on a fresh database: an event is committed with its
//! deliveries and a resend adds none, only each key's head is due (by event
//! order), the strict head, attempts, listing and paging, an endpoint's
//! deletion failing what waits, and retention expiry.

use std::collections::HashMap;

use super::PgStore;
use super::fixtures::{add_plugin, event, name};
use super::test_db::test_db;
use crate::domain::Name;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, EndpointConfig, SigningSecret};
use crate::domain::plugin::PluginWorld;
use crate::domain::tenant::{Tenant, default_tenant};
use crate::ids::{DeliveryId, EndpointId, EventId};
use crate::store::{NewEvent, Sweep, SweepCursor};

const DAY_MS: u64 = 86_400_000;

fn keyed(endpoint: EndpointId, time_ms: u64, key: &str) -> Delivery {
    Delivery::new(default_tenant(), endpoint, EventId::new(time_ms), time_ms)
        .keyed(Some(key.to_owned()))
}

async fn due(store: &PgStore, endpoint: EndpointId) -> Vec<DeliveryId> {
    let mut ids: Vec<_> = store
        .due_deliveries(endpoint, u64::MAX / 4, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<DeliveryId>) -> Vec<DeliveryId> {
    ids.sort();
    ids
}

/// Records `delivery` as done in `state` (held or not).
async fn finish(
    store: &PgStore,
    delivery: &Delivery,
    state: DeliveryState,
    held: bool,
) -> Delivery {
    let mut done = store.delivery(delivery.id).await.unwrap().unwrap();
    let previous_due = done.next_attempt_at;
    done.state = state;
    done.next_attempt_at = None;
    done.held = held;
    store.update_delivery(&done, previous_due).await.unwrap();
    done
}

fn attempt(number: u32, status: u16) -> Attempt {
    Attempt {
        number,
        started_at: 1,
        duration_ms: 1,
        request: None,
        status: Some(status),
        response_excerpt: None,
        error_kind: None,
        error: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_committed_with_its_deliveries_and_a_resend_adds_none() {
    let db = test_db!();
    let store = db.store().await;
    let endpoint = EndpointId::new(1);
    let with_delivery = |e: crate::domain::event::CanonicalEvent| NewEvent {
        tenant: default_tenant(),
        deliveries: vec![Delivery::new(default_tenant(), endpoint, e.id, 100)],
        event: e,
    };
    let first = with_delivery(event(10, "m1"));
    let resend = with_delivery(event(20, "m1"));
    let delivery = first.deliveries[0].id;
    let inserted = store.commit_events(vec![first, resend]).await.unwrap();
    assert!(inserted[1].duplicate);
    assert_eq!(
        store.pending_count().await,
        1,
        "the resend made no delivery"
    );
    let stored = store.delivery(delivery).await.unwrap().unwrap();
    assert_eq!(stored.endpoint, endpoint);
    assert_eq!(stored.next_attempt_at, Some(100));
    assert!(store.unfanned_events(10).await.unwrap().is_empty());
    // A second resend later still adds none.
    store
        .commit_events(vec![with_delivery(event(30, "m1"))])
        .await
        .unwrap();
    assert_eq!(store.pending_count().await, 1);
    assert_eq!(store.next_due_at(endpoint).await.unwrap(), Some(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_heads_are_due_and_the_next_follows_its_head() {
    let db = test_db!();
    let endpoint = EndpointId::new(1);
    let [a1, b1, a2, a3, b2] = [(10, "a"), (11, "b"), (12, "a"), (13, "a"), (14, "b")]
        .map(|(time, key)| keyed(endpoint, time, key));
    {
        let store = db.store().await;
        store
            .record_fanout(&[a1.clone(), b1.clone(), a2.clone()], &[])
            .await
            .unwrap();
        store
            .record_fanout(&[a3.clone(), b2.clone()], &[])
            .await
            .unwrap();
        assert_eq!(due(&store, endpoint).await, sorted(vec![a1.id, b1.id]));
        assert_eq!(
            store.pending_count().await,
            5,
            "the waiting ones count as queued"
        );

        finish(&store, &a1, DeliveryState::Succeeded, false).await;
        assert_eq!(due(&store, endpoint).await, sorted(vec![a2.id, b1.id]));
        finish(&store, &a2, DeliveryState::Failed, true).await;
        finish(&store, &b1, DeliveryState::Succeeded, false).await;
        assert_eq!(due(&store, endpoint).await, vec![b2.id]);
        assert_eq!(store.endpoint_head(endpoint).await.unwrap(), Some(a2.id));
        store.close().await.unwrap();
    }
    // Another node (or this one restarted): the same queues.
    let store = db.store().await;
    assert_eq!(due(&store, endpoint).await, vec![b2.id]);
    finish(&store, &a2, DeliveryState::Failed, false).await;
    assert_eq!(due(&store, endpoint).await, sorted(vec![a3.id, b2.id]));
    assert_eq!(
        store.delivery(a2.id).await.unwrap().unwrap().state,
        DeliveryState::Failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_delivery_takes_its_events_place_and_done_ones_are_skipped() {
    let db = test_db!();
    let store = db.store().await;
    let endpoint = EndpointId::new(1);
    let [a1, a2, a3] = [10, 11, 12].map(|time| keyed(endpoint, time, "a"));
    store
        .record_fanout(&[a1.clone(), a2.clone(), a3.clone()], &[])
        .await
        .unwrap();
    finish(&store, &a2, DeliveryState::Failed, false).await;
    assert_eq!(due(&store, endpoint).await, vec![a1.id]);
    let done = finish(&store, &a1, DeliveryState::Succeeded, false).await;
    assert_eq!(due(&store, endpoint).await, vec![a3.id], "a2 skipped");
    // a1 sent again (a replay): the key's order is its events' order, so
    // it goes first and a3 waits behind it.
    let mut again = done;
    again.state = DeliveryState::Pending;
    again.next_attempt_at = Some(20);
    store.update_delivery(&again, None).await.unwrap();
    assert_eq!(due(&store, endpoint).await, vec![a1.id]);
    finish(&store, &a1, DeliveryState::Succeeded, false).await;
    assert_eq!(due(&store, endpoint).await, vec![a3.id]);
    finish(&store, &a3, DeliveryState::Succeeded, false).await;
    assert!(due(&store, endpoint).await.is_empty());
    assert_eq!(store.next_due_at(endpoint).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_update_their_delivery_and_listings_page_newest_first() {
    let db = test_db!();
    let store = db.store().await;
    let endpoint = EndpointId::new(1);
    let deliveries: Vec<Delivery> = (0..5)
        .map(|i| Delivery::new(default_tenant(), endpoint, EventId::new(100 + i), 100 + i))
        .collect();
    store.record_fanout(&deliveries, &[]).await.unwrap();
    // The strict head is the earliest event's, whatever is due when.
    assert_eq!(
        store.endpoint_head(endpoint).await.unwrap(),
        Some(deliveries[0].id)
    );
    let later = store.due_deliveries(endpoint, 102, 10).await.unwrap();
    assert_eq!(later.len(), 3, "due at or before 102: {later:?}");
    assert_eq!(later[0].at_ms, 100);

    // A failed attempt reschedules; a second succeeds.
    let mut first = deliveries[0].clone();
    first.attempts = 1;
    first.next_attempt_at = Some(500);
    first.last_status = Some(503);
    store
        .commit_attempt(&first, &attempt(1, 503), Some(100))
        .await
        .unwrap();
    assert_eq!(store.next_due_at(endpoint).await.unwrap(), Some(101));
    first.attempts = 2;
    first.state = DeliveryState::Succeeded;
    first.next_attempt_at = None;
    first.last_status = Some(200);
    store
        .commit_attempt(&first, &attempt(2, 200), Some(500))
        .await
        .unwrap();
    let attempts = store.attempts(first.id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.number, a.status))
            .collect::<Vec<_>>(),
        [(1, Some(503)), (2, Some(200))]
    );
    assert_eq!(store.delivery(first.id).await.unwrap().unwrap(), first);
    assert_eq!(
        store.endpoint_head(endpoint).await.unwrap(),
        Some(deliveries[1].id)
    );
    assert_eq!(store.pending_count().await, 4);

    let page = store.deliveries_of(endpoint, None, None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|d| d.id).collect::<Vec<_>>(),
        [deliveries[4].id, deliveries[3].id]
    );
    let rest = store
        .deliveries_of(endpoint, None, Some(page[1].id), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 3);
    let succeeded = store
        .deliveries_of(endpoint, Some(DeliveryState::Succeeded), None, 10)
        .await
        .unwrap();
    assert_eq!(
        succeeded.iter().map(|d| d.id).collect::<Vec<_>>(),
        [first.id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_endpoint_fails_what_waits_on_it_visibly() {
    let db = test_db!();
    let store = db.store().await;
    add_plugin(&store, "json-renderer", PluginWorld::Renderer).await;
    let config = EndpointConfig::new("https://receiver.example/hook".parse().unwrap());
    let hook = Endpoint::new(default_tenant(), config, SigningSecret::generate(), 1);
    store.create_endpoint(&hook).await.unwrap();
    let pending = Delivery::new(default_tenant(), hook.id, EventId::new(10), 10);
    store
        .record_fanout(std::slice::from_ref(&pending), &[])
        .await
        .unwrap();
    store
        .delete_endpoint(&default_tenant(), hook.id, 20)
        .await
        .unwrap();
    let failed = store.delivery(pending.id).await.unwrap().unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    assert!(failed.last_error.unwrap().starts_with("endpoint_deleted"));
    assert_eq!(store.pending_count().await, 0);
}

struct Fixture {
    store: PgStore,
    brief: Name,
    keep: Name,
    endpoints: HashMap<Name, Endpoint>,
}

async fn fixture(store: PgStore) -> Fixture {
    add_plugin(&store, "json-renderer", PluginWorld::Renderer).await;
    let mut endpoints = HashMap::new();
    for tenant in ["brief", "keep"] {
        store
            .create_tenant(&Tenant::new(name(tenant), 1))
            .await
            .unwrap();
        let config = EndpointConfig::new("https://receiver.example/hook".parse().unwrap());
        let endpoint = Endpoint::new(name(tenant), config, SigningSecret::generate(), 1);
        store.create_endpoint(&endpoint).await.unwrap();
        endpoints.insert(name(tenant), endpoint);
    }
    Fixture {
        store,
        brief: name("brief"),
        keep: name("keep"),
        endpoints,
    }
}

impl Fixture {
    /// Stores `tenant`'s event at `time_ms` with one delivery, finished in
    /// `state` (with one attempt) unless `Pending`.
    async fn stored(
        &self,
        tenant: &Name,
        time_ms: u64,
        message: &str,
        state: DeliveryState,
    ) -> Delivery {
        let event = event(time_ms, message);
        let mut delivery =
            Delivery::new(tenant.clone(), self.endpoints[tenant].id, event.id, time_ms);
        self.store
            .commit_events(vec![NewEvent {
                tenant: tenant.clone(),
                event,
                deliveries: vec![delivery.clone()],
            }])
            .await
            .unwrap();
        if state != DeliveryState::Pending {
            delivery.state = state;
            delivery.next_attempt_at = None;
            self.store
                .commit_attempt(&delivery, &attempt(1, 200), Some(time_ms))
                .await
                .unwrap();
        }
        delivery
    }

    async fn sweep_at(&self, now_ms: u64, budget: usize) -> Sweep {
        let cutoffs = HashMap::from([(self.brief.clone(), now_ms - DAY_MS)]);
        let mut cursor = SweepCursor::default();
        let mut total = Sweep::default();
        loop {
            let batch = self
                .store
                .expire(&cutoffs, &mut cursor, budget)
                .await
                .unwrap();
            for (tenant, expired) in batch.expired {
                let sum = total.expired.entry(tenant).or_default();
                sum.events += expired.events;
                sum.deliveries += expired.deliveries;
                sum.rejected += expired.rejected;
            }
            if !batch.more {
                return total;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_finished_records_go_and_what_waits_or_is_kept_stays() {
    let db = test_db!();
    let f = fixture(db.store().await).await;
    let now = 100 * DAY_MS;
    let old = now - 3 * DAY_MS;
    let done = f
        .stored(&f.brief, old, "old-done", DeliveryState::Succeeded)
        .await;
    let waiting = f
        .stored(&f.brief, old + 1, "old-waiting", DeliveryState::Pending)
        .await;
    let recent = f
        .stored(&f.brief, now - 1_000, "recent", DeliveryState::Succeeded)
        .await;
    let other = f
        .stored(&f.keep, old, "other-old", DeliveryState::Succeeded)
        .await;
    assert_eq!(f.store.attempts(done.id).await.unwrap().len(), 1);

    // A budget of one record per call still gets through everything.
    let sweep = f.sweep_at(now, 1).await;
    let brief = sweep.expired[&f.brief];
    assert_eq!((brief.events, brief.deliveries), (1, 1), "{sweep:?}");
    assert!(!sweep.expired.contains_key(&f.keep), "{sweep:?}");

    assert_eq!(f.store.delivery(done.id).await.unwrap(), None);
    assert!(f.store.attempts(done.id).await.unwrap().is_empty());
    assert_eq!(f.store.event(&f.brief, done.event).await.unwrap(), None);
    // Still waited on, too recent, another tenant's: all there.
    assert!(
        f.store
            .event(&f.brief, waiting.event)
            .await
            .unwrap()
            .is_some()
    );
    assert!(f.store.delivery(waiting.id).await.unwrap().is_some());
    assert!(
        f.store
            .event(&f.brief, recent.event)
            .await
            .unwrap()
            .is_some()
    );
    assert!(f.store.event(&f.keep, other.event).await.unwrap().is_some());
    assert!(f.store.delivery(other.id).await.unwrap().is_some());

    // The expired event's dedupe entry went with it: the resend is new.
    let resent = f
        .store
        .commit_events(vec![NewEvent {
            tenant: f.brief.clone(),
            event: event(now, "old-done"),
            deliveries: Vec::new(),
        }])
        .await
        .unwrap();
    assert!(!resent[0].duplicate, "{resent:?}");

    // Once the waiting delivery is finished, the next sweep takes both.
    let mut finished = f.store.delivery(waiting.id).await.unwrap().unwrap();
    let previous_due = finished.next_attempt_at;
    finished.state = DeliveryState::Failed;
    finished.next_attempt_at = None;
    f.store
        .update_delivery(&finished, previous_due)
        .await
        .unwrap();
    let sweep = f.sweep_at(now, 1_000).await;
    assert_eq!(sweep.expired[&f.brief].events, 1, "{sweep:?}");
    assert_eq!(f.store.event(&f.brief, waiting.event).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rejected_callbacks_go_with_their_tenants_retention() {
    use crate::domain::rejected::RejectedCallback;
    use crate::ids::RejectedId;
    let db = test_db!();
    let f = fixture(db.store().await).await;
    let now = 100 * DAY_MS;
    let rejected = |tenant: &Name, time: u64| -> RejectedCallback {
        serde_json::from_value(serde_json::json!({
            "id": RejectedId::new(time).to_string(),
            "tenant": tenant.as_str(),
            "source": "gs",
            "received_at": time,
            "callback": {"method": "POST", "headers": [], "query": "", "content_type": null, "body_base64": ""},
            "error": {"code": "mapper_failed", "detail": "x", "plugin_version": 1},
            "attempts": 1,
            "state": "pending",
            "event_ids": []
        }))
        .unwrap()
    };
    let old = rejected(&f.brief, now - 3 * DAY_MS);
    let recent = rejected(&f.brief, now - 1_000);
    let kept = rejected(&f.keep, now - 3 * DAY_MS);
    for record in [&old, &recent, &kept] {
        f.store.put_rejected(record).await.unwrap();
    }
    let sweep = f.sweep_at(now, 1).await;
    assert_eq!(sweep.expired[&f.brief].rejected, 1, "{sweep:?}");
    assert_eq!(f.store.rejected(old.id).await.unwrap(), None);
    assert!(f.store.rejected(recent.id).await.unwrap().is_some());
    assert!(f.store.rejected(kept.id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_removed_when_no_tenant_has_a_retention() {
    let db = test_db!();
    let f = fixture(db.store().await).await;
    f.stored(&f.brief, 1, "ancient", DeliveryState::Succeeded)
        .await;
    let sweep = f
        .store
        .expire(&HashMap::new(), &mut SweepCursor::default(), 10)
        .await
        .unwrap();
    assert!(sweep.expired.is_empty() && !sweep.more);
    assert_eq!(f.store.event_count().await, 1);
    let _ = &f.keep;
}
