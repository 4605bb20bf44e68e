//! The store on a temp dir: dedupe of resends, listing order and cursors,
//! plugin versions, and group flushes under concurrency.

use serde_json::json;
use wasmhook_sdk::{Channel, EventType, Reference, Status, StatusInfo};

use super::*;
use crate::domain::event::{CanonicalEvent, EVENT_VERSION, EventFilter};
use crate::domain::plugin::PluginWorld;
use crate::domain::tenant::default_tenant;
use crate::ids::EventId;
use crate::store::{NewEvent, NewVersion, Uploader};

fn store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    (dir, store)
}

/// `event` to store without deliveries (no endpoint wants it).
fn alone(event: CanonicalEvent) -> NewEvent {
    NewEvent {
        tenant: default_tenant(),
        event,
        deliveries: Vec::new(),
    }
}

fn event(time_ms: u64, message_id: &str, status: Status, channel: Channel) -> CanonicalEvent {
    CanonicalEvent {
        id: EventId::new(time_ms),
        version: EVENT_VERSION.into(),
        event_type: EventType::Status,
        channel,
        channel_value: Some("+15555555555".into()),
        distinct_id: None,
        status: Some(StatusInfo {
            status,
            vendor_status: Some("X".into()),
            timestamp: Some(1_000),
            ..StatusInfo::new(status)
        }),
        inbound_message: None,
        reference: Reference {
            vendor_message_id: Some(message_id.into()),
            idempotency_key: None,
        },
        vendor_name: "test".into(),
        source: "src".into(),
        received_at: time_ms,
        vendor_response: json!({"test": {}}),
    }
}

#[test]
fn a_resend_is_stored_once_and_points_at_the_first() {
    let (_dir, store) = store();
    let first = event(1, "m1", Status::Delivered, Channel::Sms);
    let again = event(2, "m1", Status::Delivered, Channel::Sms);
    let other_status = event(3, "m1", Status::Read, Channel::Sms);
    let inserted = store
        .insert_events(&[alone(first.clone()), alone(again), alone(other_status)])
        .unwrap();
    assert!(!inserted[0].duplicate);
    assert!(inserted[1].duplicate);
    assert_eq!(inserted[1].id, first.id);
    assert!(!inserted[2].duplicate);
    assert_eq!(store.event_count(), 2);
}

#[test]
fn listing_is_newest_first_with_filters_and_cursor() {
    let (_dir, store) = store();
    let events: Vec<_> = (0..25)
        .map(|i| {
            let channel = if i % 2 == 0 {
                Channel::Sms
            } else {
                Channel::Email
            };
            event(1_000 + i, &format!("m{i}"), Status::Delivered, channel)
        })
        .collect();
    let new: Vec<_> = events.iter().cloned().map(alone).collect();
    store.insert_events(&new).unwrap();
    let filter = EventFilter {
        channel: Some(Channel::Sms),
        ..EventFilter::default()
    };
    let first = store.list_events(&default_tenant(), &filter, 5).unwrap();
    assert_eq!(first.data.len(), 5);
    assert_eq!(first.data[0].id, events[24].id);
    assert!(first.data.iter().all(|e| e.channel == Channel::Sms));
    let mut seen = first.data.len();
    let mut cursor = first.next_cursor;
    while let Some(next) = cursor {
        let page = store
            .list_events(
                &default_tenant(),
                &EventFilter {
                    cursor: Some(next),
                    ..filter.clone()
                },
                5,
            )
            .unwrap();
        seen += page.data.len();
        cursor = page.next_cursor;
    }
    assert_eq!(seen, 13);
    let window = store
        .list_events(
            &default_tenant(),
            &EventFilter {
                since: Some(1_010),
                until: Some(1_015),
                ..EventFilter::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(window.data.len(), 5);
}

#[test]
fn versions_count_up_and_the_world_is_fixed() {
    let (_dir, store) = store();
    let name: crate::domain::Name = "p".parse().unwrap();
    let new = |bytes: &'static [u8], activate| NewVersion {
        bytes,
        sha256: format!("{:x}", bytes.len()),
        world: PluginWorld::Mapper,
        now_ms: 1,
        activate,
        allowed_hosts: Vec::new(),
        uploader: Uploader::Operator { owner: None },
    };
    let v1 = store.add_plugin_version(&name, new(b"a", false)).unwrap();
    assert_eq!((v1.record.active_version, v1.version.version), (1, 1));
    let v2 = store.add_plugin_version(&name, new(b"bb", false)).unwrap();
    assert_eq!((v2.record.active_version, v2.version.version), (1, 2));
    assert!(v1.created && v2.created);
    assert_eq!(store.plugin_bytes(&name, 2).unwrap().unwrap(), b"bb");
    // The same bytes again add no version: they are version 1, made active
    // when asked.
    let again = store.add_plugin_version(&name, new(b"a", false)).unwrap();
    assert_eq!((again.created, again.version.version), (false, 1));
    assert_eq!(again.record.latest_version, 2);
    let again = store.add_plugin_version(&name, new(b"a", true)).unwrap();
    assert_eq!((again.created, again.record.active_version), (false, 1));
    assert_eq!(store.plugin_versions(&name).unwrap().len(), 2);
    let renderer = NewVersion {
        world: PluginWorld::Renderer,
        ..new(b"ccc", true)
    };
    assert!(store.add_plugin_version(&name, renderer).is_err());
    assert_eq!(
        store
            .activate_plugin(&name, 2, 5)
            .unwrap()
            .unwrap()
            .active_version,
        2
    );
    assert!(store.activate_plugin(&name, 9, 5).unwrap().is_none());
    store.delete_plugin(&name).unwrap();
    assert!(store.plugin_versions(&name).unwrap().is_empty());
}

#[test]
fn plugin_settings_change_only_what_is_given_and_outlive_versions() {
    use crate::runtime::LimitsOverride;
    let (_dir, store) = store();
    let name: crate::domain::Name = "p".parse().unwrap();
    let new = |bytes: &'static [u8]| NewVersion {
        bytes,
        sha256: format!("{:x}", bytes.len()),
        world: PluginWorld::Block,
        now_ms: 1,
        activate: true,
        allowed_hosts: Vec::new(),
        uploader: Uploader::Operator { owner: None },
    };
    let record = store.add_plugin_version(&name, new(b"a")).unwrap().record;
    assert_eq!(record.limits, LimitsOverride::default());
    let limits = LimitsOverride {
        max_http_requests: Some(3),
        ..LimitsOverride::default()
    };
    let record = store
        .set_plugin_settings(&name, None, Some(limits), 2)
        .unwrap()
        .unwrap();
    assert_eq!(record.limits, limits);
    assert!(record.allowed_hosts.is_empty());
    let hosts = vec!["x.example".parse().unwrap()];
    let record = store
        .set_plugin_settings(&name, Some(hosts.clone()), None, 3)
        .unwrap()
        .unwrap();
    assert_eq!((record.allowed_hosts, record.limits), (hosts, limits));
    let record = store.add_plugin_version(&name, new(b"bb")).unwrap().record;
    assert_eq!(record.limits, limits, "a new version keeps the settings");
    let unknown: crate::domain::Name = "q".parse().unwrap();
    assert!(
        store
            .set_plugin_settings(&unknown, None, Some(limits), 4)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_plugin_record_kept_before_limits_existed_still_reads() {
    let old = json!({
        "name": "p", "world": "mapper", "active_version": 1, "latest_version": 1,
        "created_at": 1, "updated_at": 1, "allowed_hosts": []
    });
    let record: crate::domain::plugin::PluginRecord = serde_json::from_value(old).unwrap();
    assert_eq!(record.limits, crate::runtime::LimitsOverride::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_flushes_and_all_become_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                let e = event(10 + i, &format!("m{i}"), Status::Sent, Channel::Sms);
                store.insert_events(&[alone(e)]).unwrap();
                store.durable().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    store.close().unwrap();
    drop(store);
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.event_count(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_are_deduplicated_across_a_batch_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
    // 32 requests resend one callback and 32 send their own, all at once:
    // they share batches, and resends within one batch must still collapse.
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = std::sync::Arc::clone(&store);
            let message_id = if i % 2 == 0 {
                "same".to_owned()
            } else {
                format!("m{i}")
            };
            tokio::spawn(async move {
                let e = event(10 + i, &message_id, Status::Delivered, Channel::Whatsapp);
                store.commit_events(vec![alone(e)]).await.unwrap()
            })
        })
        .collect();
    let mut first_ids = std::collections::HashSet::new();
    let mut new_events = 0;
    for task in tasks {
        let inserted = task.await.unwrap();
        assert_eq!(inserted.len(), 1);
        new_events += usize::from(!inserted[0].duplicate);
        if inserted[0].duplicate {
            first_ids.insert(inserted[0].id);
        }
    }
    assert_eq!(
        new_events, 33,
        "32 distinct callbacks and one of the resends"
    );
    assert_eq!(first_ids.len(), 1, "every resend points at the one stored");
    store.close().unwrap();
    drop(store);
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.event_count(), 33);
    let first = *first_ids.iter().next().unwrap();
    assert!(reopened.event(&default_tenant(), first).unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_committed_with_its_deliveries_and_a_resend_adds_none() {
    use crate::domain::delivery::Delivery;
    use crate::ids::EndpointId;
    let dir = tempfile::tempdir().unwrap();
    let endpoint = EndpointId::new(1);
    let with_delivery = |e: CanonicalEvent| NewEvent {
        tenant: default_tenant(),
        deliveries: vec![Delivery::new(default_tenant(), endpoint, e.id, 100)],
        event: e,
    };
    let first = with_delivery(event(10, "m1", Status::Sent, Channel::Sms));
    let resend = with_delivery(event(20, "m1", Status::Sent, Channel::Sms));
    let delivery = first.deliveries[0].id;
    {
        let store = SledStore::open(dir.path()).unwrap();
        let inserted = store.commit_events(vec![first, resend]).await.unwrap();
        assert!(inserted[1].duplicate);
        assert_eq!(store.pending_count(), 1, "the resend made no delivery");
        store.close().unwrap();
    }
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.event_count(), 1);
    let stored = reopened.delivery(delivery).unwrap().unwrap();
    assert_eq!(stored.endpoint, endpoint);
    assert_eq!(stored.next_attempt_at, Some(100));
}

#[test]
fn an_event_an_earlier_version_left_with_a_marker_is_fanned_out_once() {
    use crate::delivery::fan_out::deliveries_for;
    use crate::domain::endpoint::tests::endpoint;
    let (_dir, store) = store();
    let old = event(10, "m1", Status::Sent, Channel::Sms);
    // What an earlier version wrote for an event stored before the engine
    // ran: the event and a marker, no deliveries.
    store.insert_events(&[alone(old.clone())]).unwrap();
    store
        .deliveries
        .unfanned
        .insert(old.id.to_bytes(), &[])
        .unwrap();
    let marked = store.unfanned_events(512).unwrap();
    assert_eq!(
        marked.iter().map(|(_, e)| e.id).collect::<Vec<_>>(),
        [old.id]
    );
    let (tenant, event) = &marked[0];
    assert_eq!(tenant, &default_tenant());
    let deliveries = deliveries_for(tenant, event, &[endpoint()], 50);
    store.record_fanout(&deliveries, &[old.id]).unwrap();
    assert!(store.unfanned_events(512).unwrap().is_empty());
    assert_eq!(store.pending_count(), 1);
}

mod key_queues {
    //! Ordering by key in the store: only each key's head is due, the next
    //! becomes due when the head is done (not when it fails and holds),
    //! and the queues survive a reopen.

    use super::*;
    use crate::domain::delivery::{Delivery, DeliveryState};
    use crate::ids::EndpointId;

    fn keyed(endpoint: EndpointId, time_ms: u64, key: &str) -> Delivery {
        Delivery::new(default_tenant(), endpoint, EventId::new(time_ms), time_ms)
            .keyed(Some(key.to_owned()))
    }

    fn due(store: &SledStore, endpoint: EndpointId) -> Vec<crate::ids::DeliveryId> {
        let mut ids: Vec<_> = store
            .due_deliveries(endpoint, u64::MAX / 2, 100)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        ids.sort();
        ids
    }

    fn sorted(mut ids: Vec<crate::ids::DeliveryId>) -> Vec<crate::ids::DeliveryId> {
        ids.sort();
        ids
    }

    /// Records `delivery` as done in `state` (held or not).
    fn finish(
        store: &SledStore,
        delivery: &Delivery,
        state: DeliveryState,
        held: bool,
    ) -> Delivery {
        let mut done = store.delivery(delivery.id).unwrap().unwrap();
        let previous_due = done.next_attempt_at;
        done.state = state;
        done.next_attempt_at = None;
        done.held = held;
        store.update_delivery(&done, previous_due).unwrap();
        done
    }

    #[test]
    fn only_heads_are_due_and_the_next_follows_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = EndpointId::new(1);
        let [a1, b1, a2, a3, b2] = [(10, "a"), (11, "b"), (12, "a"), (13, "a"), (14, "b")]
            .map(|(time, key)| keyed(endpoint, time, key));
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .record_fanout(&[a1.clone(), b1.clone(), a2.clone()], &[])
                .unwrap();
            store.record_fanout(&[a3.clone(), b2.clone()], &[]).unwrap();
            assert_eq!(due(&store, endpoint), sorted(vec![a1.id, b1.id]));
            assert_eq!(store.pending_count(), 5, "the waiting ones count as queued");

            finish(&store, &a1, DeliveryState::Succeeded, false);
            assert_eq!(due(&store, endpoint), sorted(vec![a2.id, b1.id]));
            // Failed and holding: the key stays held, the other key goes on.
            finish(&store, &a2, DeliveryState::Failed, true);
            finish(&store, &b1, DeliveryState::Succeeded, false);
            assert_eq!(due(&store, endpoint), vec![b2.id]);
            assert_eq!(store.endpoint_head(endpoint).unwrap(), Some(a2.id));
            store.flush_now().unwrap();
            store.close().unwrap();
        }
        // Reopened (as after a crash): the same queues.
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(due(&store, endpoint), vec![b2.id]);
        // Released: the held delivery stays failed, the next of its key goes.
        finish(&store, &a2, DeliveryState::Failed, false);
        assert_eq!(due(&store, endpoint), sorted(vec![a3.id, b2.id]));
        assert_eq!(
            store.delivery(a2.id).unwrap().unwrap().state,
            DeliveryState::Failed
        );
    }

    #[test]
    fn a_retried_delivery_joins_the_end_of_its_key_and_done_waiters_are_skipped() {
        let (_dir, store) = store();
        let endpoint = EndpointId::new(1);
        let [a1, a2, a3] = [10, 11, 12].map(|time| keyed(endpoint, time, "a"));
        store
            .record_fanout(&[a1.clone(), a2.clone(), a3.clone()], &[])
            .unwrap();
        // a2 is failed while waiting (as an endpoint deletion does).
        finish(&store, &a2, DeliveryState::Failed, false);
        assert_eq!(due(&store, endpoint), vec![a1.id]);
        let done = finish(&store, &a1, DeliveryState::Succeeded, false);
        assert_eq!(due(&store, endpoint), vec![a3.id], "a2 skipped");
        // a1 sent again (a replay): it waits behind a3.
        let mut again = done;
        again.state = DeliveryState::Pending;
        again.next_attempt_at = Some(20);
        store.update_delivery(&again, None).unwrap();
        assert_eq!(due(&store, endpoint), vec![a3.id]);
        finish(&store, &a3, DeliveryState::Succeeded, false);
        assert_eq!(due(&store, endpoint), vec![a1.id]);
        finish(&store, &a1, DeliveryState::Succeeded, false);
        assert!(due(&store, endpoint).is_empty());
        assert_eq!(store.pending_count(), 0);
    }
}
