//! The PostgreSQL store on a fresh database: dedupe of resends (across a
//! batch too), listing order and cursors, plugin versions and private
//! plugins, tenants and keys, rejected callbacks, the audit log.

use std::sync::Arc;

use super::fixtures::{add_plugin, alone, event, name, source, t, tenant};
use super::test_db::test_db;
use crate::domain::event::EventFilter;
use crate::domain::plugin::PluginWorld;
use crate::domain::tenant::{ApiKey, Quotas, Scope, hash_key};
use crate::store::{AddVersionError, ConfigRefusal, ConfigWriteError, NewVersion, Uploader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_is_stored_once_and_points_at_the_first() {
    let db = test_db!();
    let store = db.store().await;
    let first = event(1, "m1");
    let again = event(2, "m1");
    let mut other_status = event(3, "m1");
    other_status.status = Some(wasmhook_sdk::StatusInfo::new(wasmhook_sdk::Status::Read));
    let inserted = store
        .insert_events(&[
            alone(&t(), first.clone()),
            alone(&t(), again),
            alone(&t(), other_status),
        ])
        .await
        .unwrap();
    assert!(!inserted[0].duplicate);
    assert!(inserted[1].duplicate);
    assert_eq!(inserted[1].id, first.id);
    assert!(!inserted[2].duplicate);
    assert_eq!(store.event_count().await, 2);
    // A later resend, in another batch, too.
    let later = store
        .commit_events(vec![alone(&t(), event(4, "m1"))])
        .await
        .unwrap();
    assert_eq!((later[0].id, later[0].duplicate), (first.id, true));
    // The same message from another tenant is its own event.
    let acme = tenant(&store, "acme", Quotas::default()).await;
    let theirs = store
        .commit_events(vec![alone(&acme, event(5, "m1"))])
        .await
        .unwrap();
    assert!(!theirs[0].duplicate);
    assert_eq!(
        store.event_json(first.id).await.unwrap().unwrap(),
        serde_json::to_string(&first).unwrap(),
        "the record is kept as its exact JSON"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_are_deduplicated_across_a_batch() {
    let db = test_db!();
    let store = Arc::new(db.store().await);
    // 32 requests resend one callback and 32 send their own, all at once:
    // they share batches, and resends within one batch must still collapse.
    let tasks: Vec<_> = (0..64u64)
        .map(|i| {
            let store = Arc::clone(&store);
            let message_id = if i % 2 == 0 {
                "same".to_owned()
            } else {
                format!("m{i}")
            };
            tokio::spawn(async move {
                store
                    .commit_events(vec![alone(&t(), event(10 + i, &message_id))])
                    .await
                    .unwrap()
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
    assert_eq!(store.event_count().await, 33);
    let first = *first_ids.iter().next().unwrap();
    assert!(store.event(&t(), first).await.unwrap().is_some());
    // Read back by a second store: committed, not cached.
    let other = db.store().await;
    assert_eq!(other.event_count().await, 33);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_newest_first_with_filters_and_cursor() {
    let db = test_db!();
    let store = db.store().await;
    let events: Vec<_> = (0..25)
        .map(|i| {
            let mut e = event(1_000 + i, &format!("m{i}"));
            if i % 2 == 1 {
                e.channel = wasmhook_sdk::Channel::Email;
            }
            e
        })
        .collect();
    let new: Vec<_> = events.iter().cloned().map(|e| alone(&t(), e)).collect();
    store.insert_events(&new).await.unwrap();
    let filter = EventFilter {
        channel: Some(wasmhook_sdk::Channel::Sms),
        ..EventFilter::default()
    };
    let first = store.list_events(&t(), &filter, 5).await.unwrap();
    assert_eq!(first.data.len(), 5);
    assert_eq!(first.data[0].id, events[24].id);
    assert!(
        first
            .data
            .iter()
            .all(|e| e.channel == wasmhook_sdk::Channel::Sms)
    );
    let mut seen = first.data.len();
    let mut cursor = first.next_cursor;
    let mut last = first.data.last().unwrap().id;
    while let Some(next) = cursor {
        let page = store
            .list_events(
                &t(),
                &EventFilter {
                    cursor: Some(next),
                    ..filter.clone()
                },
                5,
            )
            .await
            .unwrap();
        assert!(
            page.data.iter().all(|e| e.id < last),
            "pages go back in time"
        );
        if let Some(e) = page.data.last() {
            last = e.id;
        }
        seen += page.data.len();
        cursor = page.next_cursor;
    }
    assert_eq!(seen, 13);
    // Another tenant sees none of them.
    let acme = tenant(&store, "acme", Quotas::default()).await;
    let theirs = store
        .list_events(&acme, &EventFilter::default(), 100)
        .await
        .unwrap();
    assert!(theirs.data.is_empty());
    assert_eq!(store.event(&acme, events[0].id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_count_up_and_the_world_is_fixed() {
    let db = test_db!();
    let store = db.store().await;
    let upload = |bytes: &'static [u8], world, activate| NewVersion {
        bytes,
        sha256: format!("sha-{}", bytes.len()),
        world,
        now_ms: 1,
        activate,
        allowed_hosts: Vec::new(),
        uploader: Uploader::Operator { owner: None },
    };
    let plugin = name("gupshup");
    let v1 = store
        .add_plugin_version(&plugin, upload(b"one", PluginWorld::Mapper, true))
        .await
        .unwrap();
    assert_eq!((v1.record.active_version, v1.version.version), (1, 1));
    let v2 = store
        .add_plugin_version(&plugin, upload(b"second", PluginWorld::Mapper, false))
        .await
        .unwrap();
    assert_eq!(
        (
            v2.record.active_version,
            v2.record.latest_version,
            v2.version.version
        ),
        (1, 2, 2)
    );
    // The same bytes again add no version: they are version 2, made active
    // when asked.
    let again = store
        .add_plugin_version(&plugin, upload(b"second", PluginWorld::Mapper, true))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(
        (
            again.version.version,
            again.record.active_version,
            again.record.latest_version
        ),
        (2, 2, 2)
    );
    assert!(matches!(
        store
            .add_plugin_version(&plugin, upload(b"x", PluginWorld::Renderer, true))
            .await,
        Err(AddVersionError::WorldMismatch { .. })
    ));
    assert_eq!(
        store.plugin_bytes(&plugin, 2).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(store.plugin_versions(&plugin).await.unwrap().len(), 2);
    let active = store.activate_plugin(&plugin, 2, 5).await.unwrap().unwrap();
    assert_eq!((active.active_version, active.updated_at), (2, 5));
    assert!(
        store
            .activate_plugin(&plugin, 9, 5)
            .await
            .unwrap()
            .is_none()
    );
    let hosts = vec!["api.example.com".parse().unwrap()];
    let set = store
        .set_plugin_settings(&plugin, Some(hosts.clone()), None, 6)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.allowed_hosts, hosts);
    assert_eq!(store.plugin(&plugin).await.unwrap().unwrap(), set);
    assert_eq!(store.plugins().await.unwrap().len(), 1);
    store.delete_plugin(&plugin).await.unwrap();
    assert!(store.plugin(&plugin).await.unwrap().is_none());
    assert!(store.plugin_bytes(&plugin, 1).await.unwrap().is_none());
    assert!(matches!(
        store.delete_plugin(&plugin).await,
        Err(ConfigWriteError::Refused(ConfigRefusal::NoPlugin(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_plugin_is_its_tenants_alone() {
    let db = test_db!();
    let store = db.store().await;
    add_plugin(&store, "gupshup", PluginWorld::Mapper).await;
    let a = tenant(&store, "acme", Quotas::default()).await;
    let b = tenant(&store, "bolt", Quotas::default()).await;
    // Distinct bytes each time: identical ones add no version.
    let uploads = std::sync::atomic::AtomicU32::new(0);
    let upload = |plugin: &str, uploader: Uploader| {
        let plugin = name(plugin);
        let store = &store;
        let sha256 = format!(
            "sha-private-{}",
            uploads.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        async move {
            store
                .add_plugin_version(
                    &plugin,
                    NewVersion {
                        bytes: b"wasm",
                        sha256,
                        world: PluginWorld::Mapper,
                        now_ms: 2,
                        activate: true,
                        allowed_hosts: Vec::new(),
                        uploader,
                    },
                )
                .await
        }
    };
    let record = upload("acme-map", Uploader::Tenant(a.clone()))
        .await
        .unwrap()
        .record;
    assert_eq!(record.owner.as_ref(), Some(&a));
    let v2 = upload("acme-map", Uploader::Tenant(a.clone()))
        .await
        .unwrap();
    assert_eq!(v2.version.version, 2);
    assert!(matches!(
        upload("acme-map", Uploader::Tenant(b.clone())).await,
        Err(AddVersionError::NameTaken(_))
    ));
    assert!(matches!(
        upload("gupshup", Uploader::Tenant(a.clone())).await,
        Err(AddVersionError::Shared(_))
    ));
    let record = upload("acme-map", Uploader::Operator { owner: None })
        .await
        .unwrap()
        .record;
    assert_eq!(record.owner.as_ref(), Some(&a), "the owner stays");
    store
        .create_source(&source(&a, "acme-in", "acme-map"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_source(&source(&b, "bolt-in", "acme-map"))
            .await,
        Err(ConfigWriteError::Refused(
            ConfigRefusal::MissingPlugin { .. }
        ))
    ));
    store
        .create_source(&source(&b, "bolt-in", "gupshup"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_quotas_and_keys() {
    let db = test_db!();
    let store = db.store().await;
    assert!(store.tenant(&t()).is_some(), "the default tenant exists");
    add_plugin(&store, "gupshup", PluginWorld::Mapper).await;
    let quotas = Quotas {
        max_sources: Some(1),
        ..Quotas::default()
    };
    let acme = tenant(&store, "acme", quotas).await;
    assert!(matches!(
        store
            .create_tenant(&crate::domain::tenant::Tenant::new(acme.clone(), 2))
            .await,
        Err(ConfigWriteError::Refused(ConfigRefusal::TenantExists(_)))
    ));
    store
        .create_source(&source(&acme, "one", "gupshup"))
        .await
        .unwrap();
    assert_eq!(store.tenant_usage(&acme), (1, 0));
    assert!(matches!(
        store.create_source(&source(&acme, "two", "gupshup")).await,
        Err(ConfigWriteError::Refused(ConfigRefusal::QuotaExceeded {
            limit: 1,
            ..
        }))
    ));
    // Names are unique across tenants.
    assert!(matches!(
        store.create_source(&source(&t(), "one", "gupshup")).await,
        Err(ConfigWriteError::Refused(ConfigRefusal::SourceExists(_)))
    ));
    // Raising the quota lets one more in.
    let raised = store
        .update_tenant(&acme, |tenant| -> Result<(), ConfigWriteError> {
            tenant.quotas.max_sources = Some(2);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(raised.quotas.max_sources, Some(2));
    store
        .create_source(&source(&acme, "two", "gupshup"))
        .await
        .unwrap();
    assert_eq!(
        store
            .sources(&acme)
            .await
            .unwrap()
            .iter()
            .map(|s| s.name.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert!(store.tenant_source(&t(), "one").is_none());
    // Keys: found by hash until revoked.
    let (key, secret) = ApiKey::generate(acme.clone(), "ci".into(), vec![Scope::Read], 3);
    store.create_key(&key).await.unwrap();
    let (found, owner) = store.key_by_hash(&hash_key(secret.expose())).unwrap();
    assert_eq!((found.id, &owner.name), (key.id, &acme));
    let revoked = store.revoke_key(&acme, key.id, 4).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(4));
    assert!(store.key_by_hash(&key.hash).is_none());
    assert_eq!(store.keys(&acme).await.unwrap().len(), 1);
    assert!(matches!(
        store.revoke_key(&t(), key.id, 5).await,
        Err(ConfigWriteError::Refused(ConfigRefusal::NoKey(_)))
    ));
    // The source goes; its name is free again.
    store.delete_source(&acme, &name("one")).await.unwrap();
    assert!(store.source("one").is_none());
    assert!(matches!(
        store.delete_source(&acme, &name("one")).await,
        Err(ConfigWriteError::Refused(ConfigRefusal::NoSource(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_callbacks_and_the_audit_log_page_newest_first() {
    use crate::domain::rejected::{RejectedCallback, RejectedState};
    use crate::domain::tenant::{Actor, AuditEntry};
    use crate::ids::{AuditId, RejectedId};
    let db = test_db!();
    let store = db.store().await;
    let acme = tenant(&store, "acme", Quotas::default()).await;
    let rejected = |time: u64, state: RejectedState| {
        let mut record: RejectedCallback = serde_json::from_value(serde_json::json!({
            "id": RejectedId::new(time).to_string(),
            "tenant": acme.as_str(),
            "source": "gs",
            "received_at": time,
            "callback": {"method": "POST", "headers": [], "query": "", "content_type": null, "body_base64": ""},
            "error": {"code": "mapper_failed", "detail": "x", "plugin_version": 1},
            "attempts": 1,
            "state": "pending",
            "event_ids": []
        }))
        .unwrap();
        record.state = state;
        record
    };
    let records = [
        rejected(10, RejectedState::Pending),
        rejected(11, RejectedState::Resolved),
        rejected(12, RejectedState::Pending),
    ];
    for record in &records {
        store.put_rejected(record).await.unwrap();
    }
    let pending = store
        .rejected_of(&acme, "gs", Some(RejectedState::Pending), 10)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|r| r.id).collect::<Vec<_>>(),
        [records[2].id, records[0].id]
    );
    assert_eq!(
        store.rejected_of(&t(), "gs", None, 10).await.unwrap().len(),
        0
    );
    assert_eq!(
        store.rejected(records[1].id).await.unwrap().unwrap(),
        records[1]
    );

    for at in 1..=5u64 {
        let entry = AuditEntry {
            id: AuditId::new(at),
            tenant: acme.clone(),
            actor: Actor::Admin,
            action: "source.create".into(),
            target: format!("s{at}"),
            at,
        };
        store.record_audit(&entry).await.unwrap();
    }
    let page = store.audit_log(&acme, None, 2).await.unwrap();
    assert_eq!(page.data.iter().map(|e| e.at).collect::<Vec<_>>(), [5, 4]);
    let before: AuditId = page.next_cursor.unwrap().parse().unwrap();
    let rest = store.audit_log(&acme, Some(before), 10).await.unwrap();
    assert_eq!(
        rest.data.iter().map(|e| e.at).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert!(rest.next_cursor.is_none());
}
