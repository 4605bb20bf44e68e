//! Copying an embedded data dir into PostgreSQL, on a real sled store and a
//! real database: every kind of record reads back through the store port
//! as it was (same ids, secrets, bytes, states), the delivery engine claims
//! the same deliveries from either, resends are still recognised, and the
//! copy refuses a database with records, a dir that is no data dir, one a
//! server holds, and events an earlier version left unfanned.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;
use crate::domain::Name;
use crate::domain::Secret;
use crate::domain::block::Block;
use crate::domain::connector::{Connector, ConnectorAuth};
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, EndpointConfig, OrderingMode, SigningSecret};
use crate::domain::event::{CanonicalEvent, EventFilter};
use crate::domain::plugin::PluginWorld;
use crate::domain::rejected::{RejectedCallback, RejectedState, RejectionError, StoredCallback};
use crate::domain::source::Source;
use crate::domain::tenant::{Actor, ApiKey, AuditEntry, Scope, Tenant, default_tenant};
use crate::ids::{AuditId, ConnectorId, DeliveryId, EventId, RejectedId};
use crate::store::postgres::test_db::TestDb;
use crate::store::{NewEvent, NewVersion, Store, Uploader};

/// When the fixture's deliveries fall due, and when the engine looks.
const CREATED: u64 = 1_000_000;
const LOOK_AT: u64 = 2_000_000;
/// A retry due after `LOOK_AT`.
const LATER: u64 = 5_000_000;

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The test's database, or return when none is configured.
macro_rules! test_db {
    () => {
        match TestDb::create().await {
            Some(db) => db,
            None => return,
        }
    };
}

/// What the fixture made, for the checks that need ids.
struct Fixture {
    keyed: Endpoint,
    strict: Endpoint,
    deliveries: Vec<DeliveryId>,
    /// The first event, whose vendor message id a resend repeats.
    first: CanonicalEvent,
}

async fn add_plugin(
    store: &Store,
    plugin: &str,
    bytes: &[u8],
    world: PluginWorld,
    owner: Uploader,
) {
    store
        .add_plugin_version(
            &name(plugin),
            NewVersion {
                bytes,
                sha256: sha256_hex(bytes),
                world,
                now_ms: CREATED,
                activate: true,
                allowed_hosts: Vec::new(),
                uploader: owner,
            },
        )
        .await
        .unwrap();
}

fn source(tenant: &Name, source: &str) -> Source {
    Source {
        tenant: tenant.clone(),
        name: name(source),
        vendor: "gupshup".into(),
        mapper: name("mapper"),
        channel: None,
        config: json!({"account": source}),
        ingest_token: Secret::new(format!("{source}-token-0123456789")),
        description: Some("a source".into()),
        created_at: CREATED,
        updated_at: CREATED,
    }
}

fn attempt(number: u32, status: u16) -> Attempt {
    Attempt {
        number,
        started_at: CREATED + u64::from(number),
        duration_ms: 12,
        request: None,
        status: Some(status),
        response_excerpt: Some(format!("answer {number}")),
        error_kind: (status >= 300).then(|| "http_status".to_owned()),
        error: (status >= 300).then(|| format!("status {status}")),
    }
}

/// Every kind of record in `store`, with deliveries in every state the
/// engine acts on differently.
async fn fill(store: &Store) -> Fixture {
    let acme = name("acme");
    let mut tenant = Tenant::new(acme.clone(), CREATED);
    tenant.display_name = Some("Acme".into());
    tenant.allow_private_plugins = true;
    store.create_tenant(&tenant).await.unwrap();
    let (key, _) = ApiKey::generate(acme.clone(), "ci".into(), vec![Scope::Read], CREATED);
    store.create_key(&key).await.unwrap();
    let (revoked, _) = ApiKey::generate(acme.clone(), "old".into(), vec![Scope::Write], CREATED);
    store.create_key(&revoked).await.unwrap();
    store
        .revoke_key(&acme, revoked.id, CREATED + 1)
        .await
        .unwrap();
    for (offset, action) in ["key.create", "key.create", "key.revoke"]
        .iter()
        .enumerate()
    {
        store
            .record_audit(&AuditEntry {
                id: AuditId::new(CREATED + offset as u64),
                tenant: acme.clone(),
                actor: Actor::Admin,
                action: (*action).to_owned(),
                target: "ci".into(),
                at: CREATED + offset as u64,
            })
            .await
            .unwrap();
    }

    let operator = Uploader::Operator { owner: None };
    add_plugin(
        store,
        "mapper",
        b"mapper v1",
        PluginWorld::Mapper,
        operator.clone(),
    )
    .await;
    add_plugin(
        store,
        "mapper",
        b"mapper v2",
        PluginWorld::Mapper,
        operator.clone(),
    )
    .await;
    add_plugin(
        store,
        "renderer",
        b"renderer",
        PluginWorld::Renderer,
        operator.clone(),
    )
    .await;
    add_plugin(store, "blockp", b"block", PluginWorld::Block, operator).await;
    // A private plugin whose bytes are another plugin's: stored once.
    add_plugin(
        store,
        "acme-renderer",
        b"renderer",
        PluginWorld::Renderer,
        Uploader::Tenant(acme.clone()),
    )
    .await;

    let connector = Connector {
        tenant: acme.clone(),
        id: ConnectorId::new(CREATED),
        name: name("crm"),
        description: None,
        auth: ConnectorAuth::Bearer {
            token: Secret::new("crm-token"),
        },
        created_at: CREATED,
        updated_at: CREATED,
    };
    store.create_connector(&connector).await.unwrap();
    store
        .create_source(&source(&default_tenant(), "src-default"))
        .await
        .unwrap();
    store
        .create_source(&source(&acme, "src-acme"))
        .await
        .unwrap();

    let mut config = EndpointConfig::new("https://receiver.example/keyed".parse().unwrap());
    config.renderer.plugin = name("renderer");
    config.ordering.mode = OrderingMode::Key;
    config.rate_limit = Some(5);
    let keyed = Endpoint::new(default_tenant(), config, SigningSecret::generate(), CREATED);
    store.create_endpoint(&keyed).await.unwrap();
    let mut config = EndpointConfig::new("https://receiver.example/strict".parse().unwrap());
    config.renderer.plugin = name("acme-renderer");
    config.ordering.mode = OrderingMode::Endpoint;
    config.connector = Some(connector.id);
    let strict = Endpoint::new(acme.clone(), config, SigningSecret::generate(), CREATED + 1);
    store.create_endpoint(&strict).await.unwrap();
    let mut config = EndpointConfig::new("https://receiver.example/gone".parse().unwrap());
    config.renderer.plugin = name("renderer");
    let doomed = Endpoint::new(
        default_tenant(),
        config,
        SigningSecret::generate(),
        CREATED + 2,
    );
    store.create_endpoint(&doomed).await.unwrap();

    let block = |block: &str| Block {
        tenant: acme.clone(),
        name: block.parse().unwrap(),
        description: None,
        plugin: name("blockp"),
        config: json!({"url": "https://crm.example/", "connector": "crm"}),
        created_at: CREATED,
        updated_at: CREATED,
        deleted_at: None,
    };
    store.create_block(&block("notify")).await.unwrap();
    store.create_block(&block("old")).await.unwrap();
    store
        .soft_delete_block(&acme, &"old".parse().unwrap(), CREATED + 5)
        .await
        .unwrap();

    // Events, each fanned out as the engine would.
    let event = |time: u64, message: &str, tenant: &Name| {
        let mut event = crate::domain::endpoint::tests::event(EventId::new(time), message);
        event.source = if tenant == &acme {
            "src-acme"
        } else {
            "src-default"
        }
        .into();
        event
    };
    let keyed_delivery = |event: &CanonicalEvent, key: &str| {
        Delivery::new(default_tenant(), keyed.id, event.id, CREATED).keyed(Some(key.to_owned()))
    };
    let e1 = event(10, "m1", &default_tenant());
    let e2 = event(11, "m2", &default_tenant());
    let e3 = event(12, "m3", &default_tenant());
    let e4 = event(13, "m4", &acme);
    let e5 = event(14, "m5", &acme);
    let e6 = event(15, "m6", &default_tenant());
    let e7 = event(16, "m7", &default_tenant());
    let e8 = event(17, "m8", &default_tenant());
    let [d1, d2, d3, d7] = [(&e1, "a"), (&e2, "b"), (&e3, "a"), (&e7, "a")]
        .map(|(event, key)| keyed_delivery(event, key));
    let s4 = Delivery::new(acme.clone(), strict.id, e4.id, CREATED);
    let s5 = Delivery::new(acme.clone(), strict.id, e5.id, CREATED);
    let gone = Delivery::new(default_tenant(), doomed.id, e8.id, CREATED);
    let new = |tenant: &Name, event: &CanonicalEvent, deliveries: Vec<Delivery>| NewEvent {
        tenant: tenant.clone(),
        event: event.clone(),
        deliveries,
    };
    store
        .insert_events(&[
            new(&default_tenant(), &e1, vec![d1.clone()]),
            new(&default_tenant(), &e2, vec![d2.clone()]),
            new(&default_tenant(), &e3, vec![d3.clone()]),
            new(&acme, &e4, vec![s4.clone()]),
            new(&acme, &e5, vec![s5.clone()]),
            new(&default_tenant(), &e6, Vec::new()),
            new(&default_tenant(), &e7, vec![d7.clone()]),
            new(&default_tenant(), &e8, vec![gone.clone()]),
        ])
        .await
        .unwrap();
    // d1 delivered (its key's next, d3, becomes the head); d2 failed once
    // and retries later; s4 failed for good and holds s5 behind it.
    let mut done = d1.clone();
    done.state = DeliveryState::Succeeded;
    done.attempts = 1;
    done.next_attempt_at = None;
    done.last_status = Some(200);
    store
        .commit_attempt(&done, &attempt(1, 200), Some(CREATED))
        .await
        .unwrap();
    let mut retry = d2.clone();
    retry.attempts = 1;
    retry.next_attempt_at = Some(LATER);
    retry.last_status = Some(503);
    retry.last_error = Some("status 503".into());
    store
        .commit_attempt(&retry, &attempt(1, 503), Some(CREATED))
        .await
        .unwrap();
    let mut held = s4.clone();
    held.state = DeliveryState::Failed;
    held.held = true;
    held.attempts = 2;
    held.next_attempt_at = None;
    store
        .commit_attempt(&held, &attempt(1, 500), Some(CREATED))
        .await
        .unwrap();
    store
        .commit_attempt(&held, &attempt(2, 500), None)
        .await
        .unwrap();
    // Its endpoint deleted: the pending delivery failed, still readable.
    store
        .delete_endpoint(&default_tenant(), doomed.id, CREATED + 9)
        .await
        .unwrap();

    store
        .put_rejected(&RejectedCallback {
            tenant: acme.clone(),
            id: RejectedId::new(CREATED),
            source: name("src-acme"),
            received_at: CREATED,
            callback: StoredCallback {
                method: "POST".into(),
                headers: vec![("content-type".into(), "application/json".into())],
                query: String::new(),
                content_type: Some("application/json".into()),
                body_base64: "e30=".into(),
            },
            error: RejectionError {
                code: "mapper_rejected".into(),
                detail: "no".into(),
                plugin_version: 2,
            },
            attempts: 1,
            state: RejectedState::Pending,
            event_ids: Vec::new(),
        })
        .await
        .unwrap();
    store.durable().await.unwrap();
    Fixture {
        keyed,
        strict,
        deliveries: [&d1, &d2, &d3, &d7, &s4, &s5, &gone].map(|d| d.id).to_vec(),
        first: e1,
    }
}

fn to_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// Everything `store` answers, through the port, as one JSON value.
async fn everything(store: &Store, fixture: &Fixture) -> Value {
    let mut tenants = serde_json::Map::new();
    for tenant in store.tenants() {
        let t = &tenant.name;
        let keys = store.keys(t).await.unwrap();
        let found_by_hash: Vec<Value> = keys
            .iter()
            .map(|key| to_json(store.key_by_hash(&key.hash).map(|(key, _)| key.id)))
            .collect();
        let sources = store.sources(t).await.unwrap();
        let mut rejected = Vec::new();
        let mut by_name = Vec::new();
        for source in &sources {
            rejected.push(to_json(
                store
                    .rejected_of(t, source.name.as_str(), None, 100)
                    .await
                    .unwrap(),
            ));
            by_name.push(to_json(store.source(source.name.as_str()).as_deref()));
        }
        let endpoints = store.endpoints(t).await.unwrap();
        let mut deliveries = Vec::new();
        for endpoint in &endpoints {
            deliveries.push(to_json(
                store
                    .deliveries_of(endpoint.id, None, None, 100)
                    .await
                    .unwrap(),
            ));
        }
        let events = store
            .list_events(t, &EventFilter::default(), 100)
            .await
            .unwrap()
            .data;
        let mut event_texts = Vec::new();
        for event in &events {
            event_texts.push(to_json(store.event_json(event.id).await.unwrap()));
        }
        tenants.insert(
            t.to_string(),
            json!({
                "tenant": to_json(&tenant),
                "usage": to_json(store.tenant_usage(t)),
                "keys": to_json(&keys),
                "keys_by_hash": found_by_hash,
                "audit": to_json(store.audit_log(t, None, 100).await.unwrap().data),
                "sources": to_json(&sources),
                "sources_by_name": by_name,
                "rejected": rejected,
                "endpoints": to_json(&endpoints),
                "deliveries_by_endpoint": deliveries,
                "connectors": to_json(store.connectors(t).await.unwrap()),
                "blocks": to_json(store.blocks(t).await.unwrap()),
                "events": to_json(&events),
                "event_texts": event_texts,
            }),
        );
    }
    let mut plugins = Vec::new();
    for plugin in store.plugins().await.unwrap() {
        let versions = store.plugin_versions(&plugin.name).await.unwrap();
        let mut bytes = Vec::new();
        for version in &versions {
            let stored = store
                .plugin_bytes(&plugin.name, version.version)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                sha256_hex(&stored),
                version.sha256,
                "{} v{}",
                plugin.name,
                version.version
            );
            bytes.push(hex::encode(stored));
        }
        plugins.push(
            json!({"record": to_json(&plugin), "versions": to_json(&versions), "bytes": bytes}),
        );
    }
    let mut deliveries = Vec::new();
    for id in &fixture.deliveries {
        deliveries.push(json!({
            "delivery": to_json(store.delivery(*id).await.unwrap()),
            "attempts": to_json(store.attempts(*id).await.unwrap()),
        }));
    }
    json!({
        "tenants": tenants,
        "plugins": plugins,
        "deliveries": deliveries,
        "waiting": store.pending_count().await,
        "endpoint_snapshot": to_json(&*store.endpoint_snapshot()),
    })
}

/// The ids `store` hands out to attempt at `now_ms`, sorted.
async fn claimable(store: &Store, endpoint: &Endpoint, now_ms: u64) -> Vec<DeliveryId> {
    let mut ids: Vec<DeliveryId> = store
        .claim_due(endpoint, now_ms, 100, 100)
        .await
        .unwrap()
        .due
        .into_iter()
        .map(|due| due.id)
        .collect();
    ids.sort();
    ids
}

fn new_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join(STORE_DIR);
    (dir, store_dir)
}

async fn migrate(data_dir: &Path, url: &str) -> Result<Copied, MigrateError> {
    migrate_sled(data_dir, url, |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_data_dir_copies_every_record_as_it_is() {
    let db = test_db!();
    let (data_dir, store_dir) = new_data_dir();
    let sled = Store::open(&store_dir).unwrap();
    let fixture = fill(&sled).await;
    let before = everything(&sled, &fixture).await;
    let keyed_due = claimable(&sled, &fixture.keyed, LOOK_AT).await;
    let strict_due = claimable(&sled, &fixture.strict, LOOK_AT).await;
    let keyed_next = sled.next_due_at(fixture.keyed.id).await.unwrap();
    sled.close().await.unwrap();
    drop(sled);

    let copied = migrate(data_dir.path(), &db.url).await.unwrap();
    assert_eq!(
        copied,
        Copied {
            tenants: 2,
            api_keys: 2,
            audit_entries: 3,
            plugins: 4,
            plugin_versions: 5,
            plugin_blobs: 4,
            sources: 2,
            endpoints: 2,
            connectors: 1,
            blocks: 2,
            events: 8,
            // Every event has a vendor message id.
            resend_keys: 8,
            deliveries_pending: 4,
            deliveries_succeeded: 1,
            deliveries_failed: 2,
            attempts: 4,
            rejected_callbacks: 1,
        }
    );

    let pg = Store::connect_postgres(&db.url, 4, 30_000).await.unwrap();
    let after = everything(&pg, &fixture).await;
    assert_eq!(after, before, "the database answers as the data dir did");
    // What that compared is the fixture, not empty answers.
    assert_eq!(
        before["tenants"]["acme"]["events"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        before["tenants"]["acme"]["rejected"][0]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        before["waiting"], 5,
        "d2, d3, d7, s5 pending; s4 failed and holding"
    );
    let secret = pg
        .endpoint(&default_tenant(), fixture.keyed.id)
        .await
        .unwrap()
        .unwrap()
        .signing_secret;
    assert_eq!(secret.expose(), fixture.keyed.signing_secret.expose());
    assert_eq!(
        pg.source("src-acme").unwrap().ingest_token.expose(),
        "src-acme-token-0123456789"
    );
    assert_eq!(pg.next_due_at(fixture.keyed.id).await.unwrap(), keyed_next);
    // The engine finds the same work: the keys' heads that are due (not
    // the delivery waiting behind its key's head, not the retry due
    // later), and nothing behind a delivery that failed and holds.
    assert_eq!(keyed_due.len(), 1);
    assert_eq!(claimable(&pg, &fixture.keyed, LOOK_AT).await, keyed_due);
    assert!(strict_due.is_empty());
    assert_eq!(claimable(&pg, &fixture.strict, LOOK_AT).await, strict_due);
    // A resend of a copied event is still recognised as one.
    let mut resend = fixture.first.clone();
    resend.id = EventId::new(99);
    let inserted = pg
        .commit_events(vec![NewEvent {
            tenant: default_tenant(),
            event: resend,
            deliveries: Vec::new(),
        }])
        .await
        .unwrap();
    assert!(inserted[0].duplicate);
    assert_eq!(inserted[0].id, fixture.first.id);
    pg.close().await.unwrap();

    // Copying again into a database with records is refused, naming them.
    let error = migrate(data_dir.path(), &db.url).await.unwrap_err();
    assert!(matches!(error, MigrateError::NotEmpty { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("already holds wasmhook records")
            && message.contains("events")
            && message.contains("nothing was copied"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_replaces_only_the_default_tenant_a_server_start_left() {
    let db = test_db!();
    // A server started on the database: its default tenant, nothing else.
    let started = Store::connect_postgres(&db.url, 4, 30_000).await.unwrap();
    started.close().await.unwrap();
    drop(started);
    let (data_dir, store_dir) = new_data_dir();
    let sled = Store::open(&store_dir).unwrap();
    sled.update_tenant(&default_tenant(), |tenant| {
        tenant.display_name = Some("the first customer".into());
        Ok::<_, crate::store::ConfigWriteError>(())
    })
    .await
    .unwrap();
    let expected = sled.tenants();
    sled.close().await.unwrap();
    drop(sled);
    migrate(data_dir.path(), &db.url).await.unwrap();
    let pg = Store::connect_postgres(&db.url, 4, 30_000).await.unwrap();
    assert_eq!(to_json(pg.tenants()), to_json(expected));
    pg.close().await.unwrap();
    // A database a server started on and changed since (here, a plugin
    // upload) holds records: refused.
    let db2 = test_db!();
    let other = Store::connect_postgres(&db2.url, 4, 30_000).await.unwrap();
    add_plugin(
        &other,
        "mapper",
        b"m",
        PluginWorld::Mapper,
        Uploader::Operator { owner: None },
    )
    .await;
    other.close().await.unwrap();
    let error = migrate(data_dir.path(), &db2.url).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("(plugins, plugin versions, plugin bytes)"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_refuses_a_dir_that_is_missing_foreign_or_held_by_a_server() {
    // None of these reach the database.
    let url = "postgres://nobody:hunter2@127.0.0.1:1/none";
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("nope");
    let error = migrate(&missing, url).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}: no such directory", missing.display())
    );

    let error = migrate(parent.path(), url).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not a wasmhook data dir: it has no `store` folder"),
        "{error}"
    );
    std::fs::create_dir(parent.path().join(STORE_DIR)).unwrap();
    let error = migrate(parent.path(), url).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("it holds no store (no `conf` file"),
        "{error}"
    );
    assert!(
        !parent.path().join(STORE_DIR).join("db").exists(),
        "nothing is created in a folder that is no store"
    );

    let (data_dir, store_dir) = new_data_dir();
    let server = Store::open(&store_dir).unwrap();
    let error = migrate(data_dir.path(), url).await.unwrap_err();
    assert!(matches!(error, MigrateError::Locked { .. }), "{error}");
    assert!(
        error.to_string().ends_with("stop the server first"),
        "{error}"
    );
    server.close().await.unwrap();
    drop(server);

    // The store folder itself is taken too; the database is reached (and
    // named without its password) once the dir is good.
    let error = migrate(&store_dir, url).await.unwrap_err();
    assert!(matches!(error, MigrateError::Database { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("postgres://nobody:***@127.0.0.1:1/none"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_refuses_events_an_earlier_version_left_unfanned() {
    let (data_dir, store_dir) = new_data_dir();
    {
        let sled = crate::store::sled::SledStore::open(&store_dir).unwrap();
        let event = crate::domain::endpoint::tests::event(EventId::new(10), "m1");
        sled.insert_events(&[NewEvent {
            tenant: default_tenant(),
            event: event.clone(),
            deliveries: Vec::new(),
        }])
        .unwrap();
        sled.mark_unfanned(event.id).unwrap();
        sled.close().unwrap();
    }
    let error = migrate(data_dir.path(), "postgres://nobody@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrateError::Unfanned { count: 1, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("run `wasmhook serve --data-dir"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_fails_whole_when_the_database_refuses_a_row() {
    let db = test_db!();
    let (data_dir, store_dir) = new_data_dir();
    let sled = Store::open(&store_dir).unwrap();
    fill(&sled).await;
    sled.close().await.unwrap();
    drop(sled);
    // Applied by a first connection; then a trigger refuses the last
    // kind copied, after everything else went in.
    let started = Store::connect_postgres(&db.url, 4, 30_000).await.unwrap();
    started.close().await.unwrap();
    drop(started);
    db.client()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON rejected
                 FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await
        .unwrap();
    let error = migrate(data_dir.path(), &db.url).await.unwrap_err();
    assert!(matches!(error, MigrateError::Write { .. }), "{error}");
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert!(error.to_string().contains("nothing was copied"), "{error}");
    let client = db.client().await;
    for table in ["events", "deliveries", "plugins", "api_keys"] {
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(count, 0, "{table}: nothing of a failed copy stays");
    }
}
