//! Several stores on one database, as several nodes: each sees the others'
//! configuration changes through NOTIFY within 2 s, migrations race safely,
//! a schema newer than the binary knows is refused, and an unreachable
//! database is a connection-class error (the API's 503).

use std::time::{Duration, Instant};

use super::fixtures::{add_plugin, source, t};
use super::test_db::test_db;
use super::{PgStore, migrate};
use crate::domain::plugin::PluginWorld;
use crate::store::{ConfigChange, StoreError};

/// Waits up to `within` for `check`, polling; panics naming `what`.
async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_sees_another_nodes_changes_within_two_seconds() {
    let db = test_db!();
    let one = db.store().await;
    let two = db.store().await;
    let mut changes = two.config_changes();
    add_plugin(&one, "gupshup", PluginWorld::Mapper).await;
    add_plugin(&one, "json-renderer", PluginWorld::Renderer).await;
    let started = Instant::now();
    one.create_source(&source(&t(), "gs", "gupshup"))
        .await
        .unwrap();
    wait_for(
        "the source on node two",
        Duration::from_secs(2),
        async || two.source("gs").is_some(),
    )
    .await;
    let config = crate::domain::endpoint::EndpointConfig::new(
        "https://receiver.example/hook".parse().unwrap(),
    );
    let hook = crate::domain::endpoint::Endpoint::new(
        t(),
        config,
        crate::domain::endpoint::SigningSecret::generate(),
        1,
    );
    one.create_endpoint(&hook).await.unwrap();
    wait_for(
        "the endpoint on node two",
        Duration::from_secs(2),
        async || two.endpoint_snapshot().iter().any(|e| e.id == hook.id),
    )
    .await;
    let acme = super::fixtures::tenant(&one, "acme", Default::default()).await;
    wait_for(
        "the tenant on node two",
        Duration::from_secs(2),
        async || two.tenant(&acme).is_some(),
    )
    .await;
    // The registry learns of plugin changes the same way.
    let mut kinds = std::collections::HashSet::new();
    wait_for(
        "the change announcements",
        Duration::from_secs(2),
        async || {
            while let Ok(kind) = changes.try_recv() {
                kinds.insert(kind);
            }
            kinds.contains(&ConfigChange::Plugins) && kinds.contains(&ConfigChange::Sources)
        },
    )
    .await;
    // And back: node two deletes, node one sees it.
    two.delete_source(&t(), &"gs".parse().unwrap())
        .await
        .unwrap();
    wait_for(
        "the deletion on node one",
        Duration::from_secs(2),
        async || one.source("gs").is_none(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let db = test_db!();
    let stores = futures_join(&db.url).await;
    assert_eq!(stores.len(), 4, "every node started");
    let client = db.client().await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM wasmhook_schema ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known: Vec<i32> = (1..=super::migrate::known_version()).collect();
    assert_eq!(versions, known, "each migration applied once");
    let tenants: i64 = client
        .query_one("SELECT count(*) FROM tenants", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tenants, 1, "one default tenant");
}

/// Connects four stores at once.
async fn futures_join(url: &str) -> Vec<PgStore> {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap().expect("a racing node connects"));
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_known_is_refused() {
    let db = test_db!();
    drop(db.store().await);
    let client = db.client().await;
    let newer = migrate::known_version() + 1;
    client
        .execute(
            "INSERT INTO wasmhook_schema (version, name, applied_at) VALUES ($1, 'future', 0)",
            &[&newer],
        )
        .await
        .unwrap();
    match PgStore::connect(&db.url).await {
        Err(error @ StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (newer, migrate::known_version()));
            assert!(error.to_string().contains("newer than this wasmhook knows"));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_connection_error() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/none?connect_timeout=2");
    let error = PgStore::connect(&url).await.unwrap_err();
    assert!(error.is_io(), "{error:?} is taken as the database's state");
    let bad = PgStore::connect("postgres://[nope").await.unwrap_err();
    assert!(!bad.is_io(), "{bad:?} is the operator's to fix");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_is_ready_while_its_database_answers() {
    let db = test_db!();
    let store = db.store().await;
    assert!(store.is_ready().await);
    assert!(store.writable().is_ok());
    assert_eq!(store.write_problem(), None);
    assert!(store.needs_restart().is_none() && store.safe_to_drop());
    store.durable().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store
            .commit_events(vec![super::fixtures::alone(
                &t(),
                super::fixtures::event(1, "m")
            )])
            .await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_port_runs_on_postgres() {
    use crate::store::Store;
    let db = test_db!();
    let store = Store::connect_postgres(&db.url, 4, 30_000).await.unwrap();
    assert_eq!(format!("{store:?}"), "Store { backend: \"postgres\" }");
    let mut changes = store.config_changes().expect("postgres announces changes");
    add_plugin_through_port(&store).await;
    store
        .create_source(&source(&t(), "gs", "gupshup"))
        .await
        .unwrap();
    assert!(store.source("gs").is_some());
    let inserted = store
        .commit_events(vec![super::fixtures::alone(
            &t(),
            super::fixtures::event(1, "m1"),
        )])
        .await
        .unwrap();
    assert!(!inserted[0].duplicate);
    store.durable().await.unwrap();
    assert!(store.is_ready().await);
    let pool = store.pool_figures().expect("postgres has a pool");
    assert_eq!(pool.max, 4, "the pool size it was given");
    assert!(pool.open >= 1 && pool.idle <= pool.open, "{pool:?}");
    let mut kinds = std::collections::HashSet::new();
    wait_for(
        "the port's change announcements",
        Duration::from_secs(2),
        async || {
            while let Ok(kind) = changes.try_recv() {
                kinds.insert(kind);
            }
            kinds.contains(&ConfigChange::Sources)
        },
    )
    .await;
    store.close().await.unwrap();
}

async fn add_plugin_through_port(store: &crate::store::Store) {
    store
        .add_plugin_version(
            &"gupshup".parse().unwrap(),
            crate::store::NewVersion {
                bytes: b"wasm",
                sha256: "sha-gupshup".into(),
                world: PluginWorld::Mapper,
                now_ms: 1,
                activate: true,
                allowed_hosts: Vec::new(),
                uploader: crate::store::Uploader::Operator { owner: None },
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_to_two_nodes_at_once_is_stored_once() {
    let db = test_db!();
    let nodes = [db.store().await, db.store().await];
    // Each round, both nodes take the same callback at the same time.
    for round in 0..20u64 {
        let message = format!("m{round}");
        let [one, two] = [0, 1].map(|node| {
            let event = super::fixtures::event(100 + round * 2 + node, &message);
            nodes[node as usize].commit_events(vec![super::fixtures::alone(&t(), event)])
        });
        let (one, two) = tokio::join!(one, two);
        let (one, two) = (one.unwrap()[0], two.unwrap()[0]);
        assert_eq!(
            usize::from(one.duplicate) + usize::from(two.duplicate),
            1,
            "round {round}: exactly one is the resend ({one:?}, {two:?})"
        );
        assert_eq!(one.id, two.id, "both answer the stored event's id");
    }
    assert_eq!(nodes[0].event_count().await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_stored_on_one_node_wake_the_others() {
    let db = test_db!();
    let one = db.store().await;
    let two = db.store().await;
    let woken = two.new_deliveries();
    // Listening is set up with a wake of its own (for what was stored
    // before): wait for it, then for nothing more while nothing is stored.
    tokio::time::timeout(Duration::from_secs(10), woken.notified())
        .await
        .expect("the listener's first look");
    let event_only = super::fixtures::alone(&t(), super::fixtures::event(10, "m1"));
    one.commit_events(vec![event_only]).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), woken.notified())
            .await
            .is_err(),
        "an event without deliveries wakes nobody"
    );
    let event = super::fixtures::event(20, "m2");
    let delivery =
        crate::domain::delivery::Delivery::new(t(), crate::ids::EndpointId::new(1), event.id, 20);
    one.commit_events(vec![crate::store::NewEvent {
        tenant: t(),
        event,
        deliveries: vec![delivery],
    }])
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken.notified())
        .await
        .expect("node two woken for node one's delivery");
}
