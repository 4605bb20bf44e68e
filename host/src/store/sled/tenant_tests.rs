//! Tenants in the store: each tenant's records are its own (names may
//! repeat across tenants, reads by id of another's record find nothing),
//! events keep their tenant beside the canonical shape, quotas refuse the
//! record too many, keys are found by hash until revoked, and a data dir
//! from before tenants opens with everything in `default`.

use serde_json::json;
use wasmhook_sdk::{Channel, EventType, Reference, Status, StatusInfo};

use super::*;
use crate::domain::block::Block;
use crate::domain::connector::{Connector, ConnectorAuth};
use crate::domain::event::{CanonicalEvent, EVENT_VERSION, EventFilter};
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;
use crate::domain::tenant::{ApiKey, Quotas, Scope, Tenant, default_tenant, hash_key};
use crate::domain::{Name, Secret};
use crate::ids::{ConnectorId, EventId};
use crate::store::{
    AddVersionError, ConfigRefusal, ConfigWriteError, NewEvent, NewVersion, Uploader,
};

fn store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    (dir, store)
}

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

fn tenant(store: &SledStore, tenant: &str, quotas: Quotas) -> Name {
    let mut record = Tenant::new(name(tenant), 1);
    record.quotas = quotas;
    store.create_tenant(&record).unwrap();
    record.name
}

fn connector(tenant: &Name, connector: &str) -> Connector {
    Connector {
        tenant: tenant.clone(),
        id: ConnectorId::new(1),
        name: name(connector),
        description: None,
        auth: ConnectorAuth::Bearer {
            token: Secret::new("t"),
        },
        created_at: 1,
        updated_at: 1,
    }
}

fn source(tenant: &Name, source: &str) -> Source {
    Source {
        tenant: tenant.clone(),
        name: name(source),
        vendor: "gupshup".into(),
        mapper: name("gupshup"),
        channel: None,
        config: json!({}),
        ingest_token: Secret::new("a-token-of-sixteen-chars"),
        description: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn event(time_ms: u64, message_id: &str) -> CanonicalEvent {
    CanonicalEvent {
        id: EventId::new(time_ms),
        version: EVENT_VERSION.into(),
        event_type: EventType::Status,
        channel: Channel::Whatsapp,
        channel_value: None,
        distinct_id: None,
        status: Some(StatusInfo::new(Status::Delivered)),
        inbound_message: None,
        reference: Reference {
            vendor_message_id: Some(message_id.into()),
            idempotency_key: None,
        },
        vendor_name: "acme".into(),
        source: "api".into(),
        received_at: time_ms,
        vendor_response: json!(null),
    }
}

fn add_plugin(store: &SledStore, plugin: &str, world: PluginWorld) {
    store
        .add_plugin_version(
            &name(plugin),
            NewVersion {
                bytes: plugin.as_bytes(),
                sha256: format!("sha-{plugin}"),
                world,
                now_ms: 1,
                activate: true,
                allowed_hosts: Vec::new(),
                uploader: Uploader::Operator { owner: None },
            },
        )
        .unwrap();
}

#[test]
fn names_repeat_across_tenants_and_reads_stay_inside_one() {
    let (_dir, store) = store();
    add_plugin(&store, "http-block", PluginWorld::Block);
    let (a, b) = (
        tenant(&store, "acme", Quotas::default()),
        tenant(&store, "bolt", Quotas::default()),
    );
    let crm_a = connector(&a, "crm");
    let mut crm_b = connector(&b, "crm");
    crm_b.id = ConnectorId::new(2);
    store.create_connector(&crm_a).unwrap();
    store.create_connector(&crm_b).unwrap();
    assert_eq!(store.connectors(&a).unwrap(), std::slice::from_ref(&crm_a));
    assert_eq!(store.connector(&b, crm_a.id).unwrap(), None);
    assert_eq!(
        store.connector_by_key(&b, "crm").unwrap().unwrap().id,
        crm_b.id
    );

    let block = |tenant: &Name| Block {
        tenant: tenant.clone(),
        name: "WH5".parse().unwrap(),
        description: None,
        plugin: name("http-block"),
        config: json!({"url": "https://crm.example/", "connector": "crm"}),
        created_at: 1,
        updated_at: 1,
        deleted_at: None,
    };
    store.create_block(&block(&a)).unwrap();
    store.create_block(&block(&b)).unwrap();
    let wh5 = "WH5".parse().unwrap();
    store.soft_delete_block(&a, &wh5, 2).unwrap();
    assert!(store.block(&a, &wh5).unwrap().unwrap().is_deleted());
    assert!(!store.block(&b, &wh5).unwrap().unwrap().is_deleted());
    assert_eq!(store.blocks(&b).unwrap().len(), 1);
    assert!(store.blocks(&default_tenant()).unwrap().is_empty());
    // B cannot delete A's connector (nor learn that it exists).
    assert!(matches!(
        store.delete_connector(&b, crm_a.id),
        Err(ConfigWriteError::Refused(ConfigRefusal::NoConnector(_)))
    ));
}

#[test]
fn events_keep_their_tenant_beside_the_canonical_shape() {
    let (_dir, store) = store();
    let acme = tenant(&store, "acme", Quotas::default());
    let default = default_tenant();
    // The same published event in two tenants: neither is the other's resend.
    let inserted = store
        .insert_events(&[
            NewEvent {
                tenant: acme.clone(),
                event: event(10, "m-1"),
                deliveries: Vec::new(),
            },
            NewEvent {
                tenant: default.clone(),
                event: event(11, "m-1"),
                deliveries: Vec::new(),
            },
        ])
        .unwrap();
    assert!(inserted.iter().all(|inserted| !inserted.duplicate));
    let (ours, theirs) = (inserted[0].id, inserted[1].id);
    assert!(store.event(&acme, ours).unwrap().is_some());
    assert!(store.event(&default, ours).unwrap().is_none());
    assert!(store.event(&acme, theirs).unwrap().is_none());
    let listed = store
        .list_events(&acme, &EventFilter::default(), 10)
        .unwrap();
    assert_eq!(listed.data.iter().map(|e| e.id).collect::<Vec<_>>(), [ours]);
    // What renderers and subscribers see is the canonical event, unwrapped.
    let json: serde_json::Value =
        serde_json::from_str(&store.event_json(ours).unwrap().unwrap()).unwrap();
    assert_eq!(json["id"], ours.to_string());
    assert!(json.get("tenant").is_none());
    // A resend within the tenant is still recognised.
    let resend = store
        .insert_events(&[NewEvent {
            tenant: acme.clone(),
            event: event(12, "m-1"),
            deliveries: Vec::new(),
        }])
        .unwrap();
    assert_eq!(resend[0].id, ours);
    assert!(resend[0].duplicate);
}

#[test]
fn a_tenant_at_its_quota_gets_no_more_sources() {
    let (_dir, store) = store();
    add_plugin(&store, "gupshup", PluginWorld::Mapper);
    let small = tenant(
        &store,
        "small",
        Quotas {
            max_sources: Some(1),
            ..Quotas::default()
        },
    );
    store.create_source(&source(&small, "one")).unwrap();
    let refused = store.create_source(&source(&small, "two"));
    let Err(ConfigWriteError::Refused(refusal)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert!(
        refusal.to_string().contains("at most 1 sources"),
        "{refusal}"
    );
    // Another tenant is not held to it.
    store
        .create_source(&source(&default_tenant(), "two"))
        .unwrap();
    assert_eq!(store.tenant_usage(&small), (1, 0));
}

#[test]
fn keys_are_found_by_hash_until_revoked() {
    let (_dir, store) = store();
    let acme = tenant(&store, "acme", Quotas::default());
    let (key, secret) = ApiKey::generate(acme.clone(), "ci".into(), vec![Scope::Read], 5);
    store.create_key(&key).unwrap();
    let (found, owner) = store.key_by_hash(&hash_key(secret.expose())).unwrap();
    assert_eq!((found.id, &owner.name), (key.id, &acme));
    assert!(store.key_by_hash(&hash_key("whk_other")).is_none());
    // Another tenant cannot revoke it.
    assert!(store.revoke_key(&default_tenant(), key.id, 6).is_err());
    store.revoke_key(&acme, key.id, 6).unwrap();
    assert!(store.key_by_hash(&hash_key(secret.expose())).is_none());
    assert_eq!(store.keys(&acme).unwrap()[0].revoked_at, Some(6));
}

#[test]
fn a_data_dir_from_before_tenants_opens_with_everything_in_default() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Records as an earlier version wrote them: no `tenant` field, and
        // blocks keyed by their name alone.
        let db = sled::open(dir.path()).unwrap();
        let record = |tree: &str, key: &[u8], value: serde_json::Value| {
            db.open_tree(tree)
                .unwrap()
                .insert(key, serde_json::to_vec(&value).unwrap())
                .unwrap();
        };
        record(
            "blocks",
            b"WH5",
            json!({"name": "WH5", "description": null, "plugin": "http-block",
                   "config": {}, "created_at": 1, "updated_at": 1, "deleted_at": null}),
        );
        record(
            "sources",
            b"gs",
            json!({"name": "gs", "vendor": "gupshup", "mapper": "gupshup", "channel": null,
                   "config": {}, "ingest_token": "a-token-of-sixteen-chars",
                   "description": null, "created_at": 1, "updated_at": 1}),
        );
        let old = event(10, "m-1");
        record(
            "events",
            &old.id.to_bytes(),
            serde_json::to_value(&old).unwrap(),
        );
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let default = default_tenant();
    assert!(
        store.tenant(&default).is_some(),
        "the default tenant exists"
    );
    let wh5 = "WH5".parse().unwrap();
    assert_eq!(
        store.block(&default, &wh5).unwrap().unwrap().tenant,
        default
    );
    assert_eq!(store.blocks(&default).unwrap().len(), 1);
    assert_eq!(store.tenant_source(&default, "gs").unwrap().tenant, default);
    let listed = store
        .list_events(&default, &EventFilter::default(), 10)
        .unwrap();
    assert_eq!(listed.data.len(), 1);
    store.close().unwrap();
    drop(store);
    // The migration ran once; opening again changes nothing.
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.blocks(&default).unwrap().len(), 1);
}

#[test]
fn a_private_plugin_is_its_tenants_alone() {
    let (_dir, store) = store();
    add_plugin(&store, "gupshup", PluginWorld::Mapper);
    let (a, b) = (
        tenant(&store, "acme", Quotas::default()),
        tenant(&store, "bolt", Quotas::default()),
    );
    let uploads = std::cell::Cell::new(0);
    let upload = |plugin: &str, uploader: Uploader| {
        uploads.set(uploads.get() + 1);
        store.add_plugin_version(
            &name(plugin),
            NewVersion {
                bytes: b"wasm",
                // Distinct bytes each time: identical ones add no version.
                sha256: format!("sha-private-{}", uploads.get()),
                world: PluginWorld::Mapper,
                now_ms: 2,
                activate: true,
                allowed_hosts: Vec::new(),
                uploader,
            },
        )
    };
    let record = upload("acme-map", Uploader::Tenant(a.clone()))
        .unwrap()
        .record;
    assert_eq!(record.owner.as_ref(), Some(&a));
    // Its tenant adds versions; another tenant cannot, nor touch a shared one.
    assert_eq!(
        upload("acme-map", Uploader::Tenant(a.clone()))
            .unwrap()
            .version
            .version,
        2
    );
    assert!(matches!(
        upload("acme-map", Uploader::Tenant(b.clone())),
        Err(AddVersionError::NameTaken(_))
    ));
    assert!(matches!(
        upload("gupshup", Uploader::Tenant(a.clone())),
        Err(AddVersionError::Shared(_))
    ));
    // The operator may add a version; the owner stays.
    let record = upload("acme-map", Uploader::Operator { owner: None })
        .unwrap()
        .record;
    assert_eq!(record.owner.as_ref(), Some(&a));

    // Only its tenant's sources may name it.
    let mut own = source(&a, "acme-in");
    own.mapper = name("acme-map");
    store.create_source(&own).unwrap();
    let mut foreign = source(&b, "bolt-in");
    foreign.mapper = name("acme-map");
    assert!(matches!(
        store.create_source(&foreign),
        Err(ConfigWriteError::Refused(
            ConfigRefusal::MissingPlugin { .. }
        ))
    ));
    // Shared plugins stay usable by everyone.
    store.create_source(&source(&b, "bolt-gs")).unwrap();
}
