//! Expiry by tenant retention on a real store: old finished deliveries
//! and their attempts go, then their events with the dedupe entries (a
//! vendor's resend after that is a new event); an event a delivery still
//! waits on stays; other tenants keep everything.

use std::collections::HashMap;

use super::*;
use crate::domain::Name;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, EndpointConfig, SigningSecret};
use crate::domain::event::CanonicalEvent;
use crate::domain::plugin::PluginWorld;
use crate::domain::tenant::Tenant;
use crate::ids::EventId;
use crate::store::{NewEvent, NewVersion, Sweep, SweepCursor, Uploader};

const DAY_MS: u64 = 86_400_000;

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

/// A status event stored at `time_ms` (its id's time).
fn event(time_ms: u64, message_id: &str) -> CanonicalEvent {
    crate::domain::endpoint::tests::event(EventId::new(time_ms), message_id)
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: SledStore,
    brief: Name,
    keep: Name,
    endpoints: HashMap<Name, Endpoint>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    store
        .add_plugin_version(
            &name("json-renderer"),
            NewVersion {
                bytes: b"renderer",
                sha256: "sha-renderer".into(),
                world: PluginWorld::Renderer,
                now_ms: 1,
                activate: true,
                allowed_hosts: Vec::new(),
                uploader: Uploader::Operator { owner: None },
            },
        )
        .unwrap();
    let mut endpoints = HashMap::new();
    for tenant in ["brief", "keep"] {
        store.create_tenant(&Tenant::new(name(tenant), 1)).unwrap();
        let config = EndpointConfig::new("https://receiver.example/hook".parse().unwrap());
        let endpoint = Endpoint::new(name(tenant), config, SigningSecret::generate(), 1);
        store.create_endpoint(&endpoint).unwrap();
        endpoints.insert(name(tenant), endpoint);
    }
    Fixture {
        _dir: dir,
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
            .insert_events(&[NewEvent {
                tenant: tenant.clone(),
                event,
                deliveries: vec![delivery.clone()],
            }])
            .unwrap();
        if state != DeliveryState::Pending {
            let previous_due = delivery.next_attempt_at;
            delivery.state = state;
            delivery.next_attempt_at = None;
            self.store.update_delivery(&delivery, previous_due).unwrap();
            let attempt = Attempt {
                number: 1,
                started_at: time_ms,
                duration_ms: 1,
                request: None,
                status: Some(200),
                response_excerpt: None,
                error_kind: None,
                error: None,
            };
            self.store
                .commit_attempt(&delivery, &attempt, None)
                .await
                .unwrap();
        }
        delivery
    }

    fn sweep_at(&self, now_ms: u64, budget: usize) -> Sweep {
        let cutoffs = HashMap::from([(self.brief.clone(), now_ms - DAY_MS)]);
        let mut cursor = SweepCursor::default();
        let mut total = Sweep::default();
        loop {
            let batch = self.store.expire(&cutoffs, &mut cursor, budget).unwrap();
            for (tenant, expired) in batch.expired {
                let sum = total.expired.entry(tenant).or_default();
                sum.events += expired.events;
                sum.deliveries += expired.deliveries;
            }
            if !batch.more {
                return total;
            }
        }
    }
}

#[tokio::test]
async fn old_finished_records_go_and_what_waits_or_is_kept_stays() {
    let f = fixture();
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
    assert_eq!(f.store.attempts(done.id).unwrap().len(), 1);

    // A budget of one record per call still gets through everything.
    let sweep = f.sweep_at(now, 1);
    let brief = sweep.expired[&f.brief];
    assert_eq!((brief.events, brief.deliveries), (1, 1), "{sweep:?}");
    assert!(!sweep.expired.contains_key(&f.keep), "{sweep:?}");

    assert_eq!(f.store.delivery(done.id).unwrap(), None);
    assert!(f.store.attempts(done.id).unwrap().is_empty());
    assert_eq!(f.store.event(&f.brief, done.event).unwrap(), None);
    let listed = f
        .store
        .deliveries_of(f.endpoints[&f.brief].id, None, None, 10)
        .unwrap();
    assert!(listed.iter().all(|d| d.id != done.id), "{listed:?}");
    // Still waited on, too recent, another tenant's: all there.
    assert!(f.store.event(&f.brief, waiting.event).unwrap().is_some());
    assert!(f.store.delivery(waiting.id).unwrap().is_some());
    assert!(f.store.event(&f.brief, recent.event).unwrap().is_some());
    assert!(f.store.event(&f.keep, other.event).unwrap().is_some());
    assert!(f.store.delivery(other.id).unwrap().is_some());

    // The expired event's dedupe entry went with it: the vendor's resend
    // is stored anew, not answered as a duplicate of nothing.
    let resent = f
        .store
        .insert_events(&[NewEvent {
            tenant: f.brief.clone(),
            event: event(now, "old-done"),
            deliveries: Vec::new(),
        }])
        .unwrap();
    assert!(!resent[0].duplicate, "{resent:?}");

    // Once the waiting delivery is finished, the next sweep takes both.
    let mut finished = f.store.delivery(waiting.id).unwrap().unwrap();
    let previous_due = finished.next_attempt_at;
    finished.state = DeliveryState::Failed;
    finished.next_attempt_at = None;
    f.store.update_delivery(&finished, previous_due).unwrap();
    let sweep = f.sweep_at(now, 1_000);
    assert_eq!(sweep.expired[&f.brief].events, 1, "{sweep:?}");
    assert_eq!(f.store.event(&f.brief, waiting.event).unwrap(), None);
}

#[tokio::test]
async fn nothing_is_read_when_no_tenant_has_a_retention() {
    let f = fixture();
    f.stored(&f.brief, 1, "ancient", DeliveryState::Succeeded)
        .await;
    let sweep = f
        .store
        .expire(&HashMap::new(), &mut SweepCursor::default(), 10)
        .unwrap();
    assert!(sweep.expired.is_empty() && !sweep.more);
    assert_eq!(f.store.event_count(), 1);
}
