//! Accepted callbacks kept for replays, on both backends through the port:
//! listed per tenant and source newest first from a time and a cursor, and
//! expired past the callback window or their tenant's shorter retention.

use std::collections::HashMap;

use super::{Backend, Store};
use crate::domain::Name;
use crate::domain::rejected::{KeptCallback, StoredCallback};
use crate::ids::{CallbackId, EventId};

const HOUR: u64 = 3_600_000;

fn kept(tenant: &str, source: &str, at_ms: u64) -> KeptCallback {
    KeptCallback {
        tenant: tenant.parse().unwrap(),
        id: CallbackId::new(at_ms),
        source: source.parse().unwrap(),
        received_at: at_ms,
        plugin_version: 1,
        callback: StoredCallback {
            method: "POST".into(),
            headers: vec![("x-vendor".into(), "1".into())],
            query: String::new(),
            content_type: Some("application/json".into()),
            body_base64: "e30=".into(),
        },
        event_ids: vec![EventId::new(at_ms)],
    }
}

async fn keeps_lists_and_expires(store: &Store) {
    let now = crate::ids::now_ms();
    let (old, mid, new) = (now - 10 * HOUR, now - 3 * HOUR, now - HOUR);
    let all = [
        kept("acme", "sms", old),
        kept("acme", "sms", mid),
        kept("acme", "sms", new),
        kept("acme", "mail", new),
        kept("brief", "sms", mid),
    ];
    store.keep_callbacks(&all).await.unwrap();
    let acme: Name = "acme".parse().unwrap();
    let ids = |found: Vec<KeptCallback>| found.iter().map(|k| k.id).collect::<Vec<_>>();

    // One source of one tenant, newest first; from a time; by pages.
    let listed = store
        .kept_callbacks_of(&acme, "sms", 0, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(listed.clone()), vec![all[2].id, all[1].id, all[0].id]);
    assert_eq!(listed[0], all[2], "a kept callback reads back whole");
    let since = store
        .kept_callbacks_of(&acme, "sms", mid, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(since), vec![all[2].id, all[1].id]);
    let page = store
        .kept_callbacks_of(&acme, "sms", 0, Some(all[1].id), 10)
        .await
        .unwrap();
    assert_eq!(ids(page), vec![all[0].id]);
    let brief: Name = "brief".parse().unwrap();
    assert!(
        store
            .kept_callbacks_of(&brief, "mail", 0, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A 5-hour window takes acme's oldest; brief's 2-hour retention its own.
    let cutoffs = HashMap::from([(brief.clone(), now - 2 * HOUR)]);
    let mut cursor = None;
    let (removed, more) = store
        .expire_kept_callbacks(&cutoffs, now - 5 * HOUR, &mut cursor, 100)
        .await
        .unwrap();
    assert!(!more);
    assert_eq!(
        removed,
        HashMap::from([(acme.clone(), 1), (brief.clone(), 1)])
    );
    let left = store
        .kept_callbacks_of(&acme, "sms", 0, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(left), vec![all[2].id, all[1].id]);
    assert!(
        store
            .kept_callbacks_of(&brief, "sms", 0, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_keeps_lists_and_expires_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    keeps_lists_and_expires(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_lists_and_expires_callbacks() {
    let Some(db) = super::postgres::test_db::TestDb::create().await else {
        return;
    };
    let store = Store {
        backend: Backend::Postgres(db.store().await),
    };
    keeps_lists_and_expires(&store).await;
}
