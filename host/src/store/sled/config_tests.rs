//! Configuration writes on a temp-dir store: each refuses what would break
//! a reference or strand a dependent, and a refused write leaves the
//! records as they were.

use serde_json::json;

use super::*;
use crate::domain::block::{Block, BlockName};
use crate::domain::connector::{Connector, ConnectorAuth};
use crate::domain::endpoint::{Endpoint, EndpointConfig, SigningSecret};
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;
use crate::domain::tenant::default_tenant;
use crate::domain::{Name, Secret};
use crate::ids::{ConnectorId, EndpointId};
use crate::store::{ConfigRefusal, ConfigWriteError, NewVersion, Uploader};

fn store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    (dir, store)
}

fn name(text: &str) -> Name {
    text.parse().unwrap()
}

fn add_plugin(store: &SledStore, plugin: &str, world: PluginWorld) {
    let bytes = plugin.as_bytes();
    store
        .add_plugin_version(
            &name(plugin),
            NewVersion {
                bytes,
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

/// The default tenant, where these tests' records live.
fn t() -> Name {
    default_tenant()
}

fn source(source: &str, mapper: &str) -> Source {
    Source {
        tenant: t(),
        name: name(source),
        vendor: mapper.into(),
        mapper: name(mapper),
        channel: None,
        config: json!({}),
        ingest_token: Secret::new("a-token-of-sixteen-chars"),
        description: None,
        created_at: 1,
        updated_at: 1,
    }
}

fn connector(connector: &str, now: u64) -> Connector {
    Connector {
        tenant: t(),
        id: ConnectorId::new(now),
        name: name(connector),
        description: None,
        auth: ConnectorAuth::Bearer {
            token: Secret::new("t"),
        },
        created_at: now,
        updated_at: now,
    }
}

fn block(block: &str, plugin: &str, connector: &str) -> Block {
    Block {
        tenant: t(),
        name: block.parse().unwrap(),
        description: None,
        plugin: name(plugin),
        config: json!({"url": "https://crm.example/", "connector": connector}),
        created_at: 1,
        updated_at: 1,
        deleted_at: None,
    }
}

fn endpoint(connector: Option<ConnectorId>) -> Endpoint {
    let mut config = EndpointConfig::new("https://receiver.example/hook".parse().unwrap());
    config.connector = connector;
    Endpoint::new(t(), config, SigningSecret::generate(), 1)
}

fn refusal(result: Result<impl std::fmt::Debug, ConfigWriteError>) -> ConfigRefusal {
    match result {
        Err(ConfigWriteError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_source_needs_a_mapper_and_its_mapper_outlives_it() {
    let (_dir, store) = store();
    add_plugin(&store, "gupshup", PluginWorld::Mapper);
    add_plugin(&store, "json-renderer", PluginWorld::Renderer);

    let wrong = refusal(store.create_source(&source("gs", "json-renderer")));
    assert_eq!(
        wrong.to_string(),
        "mapper: plugin `json-renderer` is a renderer, not a mapper"
    );
    let missing = refusal(store.create_source(&source("gs", "nope")));
    assert_eq!(
        missing.to_string(),
        "mapper: no plugin named `nope`; upload it first"
    );
    assert!(
        store.source("gs").is_none(),
        "a refused source is not stored"
    );

    store.create_source(&source("gs", "gupshup")).unwrap();
    let taken = refusal(store.create_source(&source("gs", "gupshup")));
    assert!(matches!(taken, ConfigRefusal::SourceExists(_)), "{taken:?}");

    let in_use = refusal(store.delete_plugin(&name("gupshup")));
    assert_eq!(
        in_use.to_string(),
        "plugin `gupshup` is used by source `gs`; change or delete those first"
    );
    store.delete_source(&t(), &name("gs")).unwrap();
    store.delete_plugin(&name("gupshup")).unwrap();
    assert!(store.plugin(&name("gupshup")).unwrap().is_none());
    let gone = refusal(store.delete_source(&t(), &name("gs")));
    assert_eq!(gone.to_string(), "no source named `gs`");
}

#[test]
fn a_refused_update_leaves_the_record_as_it_was() {
    let (_dir, store) = store();
    add_plugin(&store, "gupshup", PluginWorld::Mapper);
    add_plugin(&store, "json-renderer", PluginWorld::Renderer);
    store.create_source(&source("gs", "gupshup")).unwrap();

    // Refused by the store: the changed source names a renderer.
    let result = store.update_source(&t(), "gs", |source| {
        source.mapper = name("json-renderer");
        source.description = Some("changed".into());
        Ok::<(), ConfigWriteError>(())
    });
    assert!(matches!(
        refusal(result),
        ConfigRefusal::WrongWorld {
            field: "mapper",
            ..
        }
    ));
    // Refused by the change itself.
    let result = store.update_source(&t(), "gs", |source| {
        source.description = Some("changed".into());
        Err(ConfigWriteError::from(ConfigRefusal::NoSource("x".into())))
    });
    assert!(result.is_err());
    let kept = store.source("gs").unwrap();
    assert_eq!(
        (kept.mapper.as_str(), &kept.description),
        ("gupshup", &None)
    );

    let changed = store
        .update_source(&t(), "gs", |source| {
            source.description = Some("changed".into());
            Ok::<(), ConfigWriteError>(())
        })
        .unwrap();
    assert_eq!(changed.description.as_deref(), Some("changed"));
    assert_eq!(
        store.source("gs").unwrap().description.as_deref(),
        Some("changed")
    );
    let missing = refusal(store.update_source(&t(), "nope", |_| Ok::<(), ConfigWriteError>(())));
    assert_eq!(missing.to_string(), "no source named `nope`");
}

#[test]
fn an_endpoint_needs_its_renderer_and_connector_which_then_stay() {
    let (_dir, store) = store();
    let crm = connector("crm", 1);
    let without_renderer = refusal(store.create_endpoint(&endpoint(None)));
    assert_eq!(
        without_renderer.to_string(),
        "renderer.plugin: no plugin named `json-renderer`; upload it first"
    );
    add_plugin(&store, "json-renderer", PluginWorld::Renderer);
    let without_connector = refusal(store.create_endpoint(&endpoint(Some(crm.id))));
    assert_eq!(
        without_connector.to_string(),
        format!("connector: no connector `{}`; create it first", crm.id)
    );
    assert!(store.endpoints(&t()).unwrap().is_empty());

    store.create_connector(&crm).unwrap();
    let hook = endpoint(Some(crm.id));
    store.create_endpoint(&hook).unwrap();
    assert_eq!(store.endpoint_snapshot().len(), 1);
    let in_use = refusal(store.delete_connector(&t(), crm.id));
    assert_eq!(
        in_use.to_string(),
        format!(
            "connector `crm` is used by endpoint `{}`; change or delete those first",
            hook.id
        )
    );
    assert!(matches!(
        refusal(store.delete_plugin(&name("json-renderer"))),
        ConfigRefusal::PluginInUse { .. }
    ));

    assert!(store.disable_endpoint(hook.id, 2).unwrap());
    assert!(
        !store
            .endpoint(&t(), hook.id)
            .unwrap()
            .unwrap()
            .config
            .enabled
    );
    store.delete_endpoint(&t(), hook.id, 3).unwrap();
    assert!(store.endpoint_snapshot().is_empty());
    assert!(!store.disable_endpoint(hook.id, 4).unwrap());
    let gone = refusal(store.delete_endpoint(&t(), hook.id, 5));
    assert!(matches!(gone, ConfigRefusal::NoEndpoint(_)));
    store.delete_connector(&t(), crm.id).unwrap();
    let unknown = EndpointId::new(9);
    assert!(matches!(
        refusal(store.update_endpoint(&t(), unknown, |_| Ok::<(), ConfigWriteError>(()))),
        ConfigRefusal::NoEndpoint(_)
    ));
}

#[test]
fn a_connector_blocks_name_is_neither_renamed_nor_deleted() {
    let (_dir, store) = store();
    add_plugin(&store, "http-block", PluginWorld::Block);
    add_plugin(&store, "gupshup", PluginWorld::Mapper);
    let crm = connector("crm", 1);
    let wh5 = block("WH5", "http-block", "crm");

    let missing = refusal(store.create_block(&wh5));
    assert_eq!(
        missing.to_string(),
        "config.connector: no connector named `crm`; create it first"
    );
    store.create_connector(&crm).unwrap();
    let wrong = refusal(store.create_block(&block("WH5", "gupshup", "crm")));
    assert_eq!(
        wrong.to_string(),
        "plugin: plugin `gupshup` is a mapper, not a block"
    );
    store.create_block(&wh5).unwrap();
    assert!(matches!(
        refusal(store.create_block(&wh5)),
        ConfigRefusal::BlockExists(_)
    ));

    let rename = refusal(store.update_connector(&t(), crm.id, |connector| {
        connector.name = name("crm2");
        Ok::<(), ConfigWriteError>(())
    }));
    assert_eq!(
        rename.to_string(),
        "connector `crm` cannot be renamed while blocks name it: `WH5`; change those blocks first"
    );
    let other = connector("other", 2);
    store.create_connector(&other).unwrap();
    let taken = refusal(store.update_connector(&t(), other.id, |connector| {
        connector.name = name("crm");
        Ok::<(), ConfigWriteError>(())
    }));
    assert!(
        matches!(taken, ConfigRefusal::ConnectorNameTaken { .. }),
        "{taken:?}"
    );

    // A soft-deleted block still holds its connector and plugin: restoring
    // it must find them.
    let wh5_name: BlockName = "WH5".parse().unwrap();
    store.soft_delete_block(&t(), &wh5_name, 5).unwrap();
    assert!(matches!(
        refusal(store.soft_delete_block(&t(), &wh5_name, 6)),
        ConfigRefusal::BlockAlreadyDeleted(_)
    ));
    assert!(matches!(
        refusal(store.create_block(&wh5)),
        ConfigRefusal::DeletedBlockExists(_)
    ));
    assert!(matches!(
        refusal(store.update_block(&t(), &wh5_name, |_| Ok::<(), ConfigWriteError>(()))),
        ConfigRefusal::BlockDeleted(_)
    ));
    let in_use = refusal(store.delete_connector(&t(), crm.id));
    assert_eq!(
        in_use.to_string(),
        "connector `crm` is used by block `WH5` (deleted); change or delete those first"
    );
    let restored = store.restore_block(&t(), &wh5_name, 7).unwrap();
    assert_eq!(restored.deleted_at, None);
    assert!(matches!(
        refusal(store.restore_block(&t(), &wh5_name, 8)),
        ConfigRefusal::BlockNotDeleted(_)
    ));

    // Once the block names another connector, `crm` may go.
    store
        .update_block(&t(), &wh5_name, |block| {
            block.config = json!({"url": "https://crm.example/", "connector": "other"});
            Ok::<(), ConfigWriteError>(())
        })
        .unwrap();
    store.delete_connector(&t(), crm.id).unwrap();
    assert!(matches!(
        refusal(store.delete_connector(&t(), crm.id)),
        ConfigRefusal::NoConnector(_)
    ));
}
