//! Configuration writes on a fresh database: each refuses what would break
//! a reference or strand a dependent (the embedded store's refusals, word
//! for word), and a refused write leaves the records as they were.

use serde_json::json;

use super::fixtures::{add_plugin, block, connector, endpoint, name, source, t};
use super::test_db::test_db;
use crate::domain::block::BlockName;
use crate::domain::plugin::PluginWorld;
use crate::ids::EndpointId;
use crate::store::{ConfigRefusal, ConfigWriteError};

fn refusal(result: Result<impl std::fmt::Debug, ConfigWriteError>) -> ConfigRefusal {
    match result {
        Err(ConfigWriteError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_needs_a_mapper_and_its_mapper_outlives_it() {
    let db = test_db!();
    let store = db.store().await;
    add_plugin(&store, "gupshup", PluginWorld::Mapper).await;
    add_plugin(&store, "json-renderer", PluginWorld::Renderer).await;

    let wrong = refusal(
        store
            .create_source(&source(&t(), "gs", "json-renderer"))
            .await,
    );
    assert_eq!(
        wrong.to_string(),
        "mapper: plugin `json-renderer` is a renderer, not a mapper"
    );
    let missing = refusal(store.create_source(&source(&t(), "gs", "nope")).await);
    assert_eq!(
        missing.to_string(),
        "mapper: no plugin named `nope`; upload it first"
    );
    assert!(
        store.source("gs").is_none(),
        "a refused source is not stored"
    );

    store
        .create_source(&source(&t(), "gs", "gupshup"))
        .await
        .unwrap();
    assert!(
        store.source("gs").is_some(),
        "the writer reads its write at once"
    );
    let taken = refusal(store.create_source(&source(&t(), "gs", "gupshup")).await);
    assert!(matches!(taken, ConfigRefusal::SourceExists(_)), "{taken:?}");

    let in_use = refusal(store.delete_plugin(&name("gupshup")).await);
    assert_eq!(
        in_use.to_string(),
        "plugin `gupshup` is used by source `gs`; change or delete those first"
    );
    store.delete_source(&t(), &name("gs")).await.unwrap();
    store.delete_plugin(&name("gupshup")).await.unwrap();
    assert!(store.plugin(&name("gupshup")).await.unwrap().is_none());
    let gone = refusal(store.delete_source(&t(), &name("gs")).await);
    assert_eq!(gone.to_string(), "no source named `gs`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_update_leaves_the_record_as_it_was() {
    let db = test_db!();
    let store = db.store().await;
    add_plugin(&store, "gupshup", PluginWorld::Mapper).await;
    add_plugin(&store, "json-renderer", PluginWorld::Renderer).await;
    store
        .create_source(&source(&t(), "gs", "gupshup"))
        .await
        .unwrap();

    let result = store
        .update_source(&t(), "gs", |source| {
            source.mapper = name("json-renderer");
            source.description = Some("changed".into());
            Ok::<(), ConfigWriteError>(())
        })
        .await;
    assert!(matches!(
        refusal(result),
        ConfigRefusal::WrongWorld {
            field: "mapper",
            ..
        }
    ));
    let result = store
        .update_source(&t(), "gs", |source| {
            source.description = Some("changed".into());
            Err(ConfigWriteError::from(ConfigRefusal::NoSource("x".into())))
        })
        .await;
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
        .await
        .unwrap();
    assert_eq!(changed.description.as_deref(), Some("changed"));
    assert_eq!(
        store.source("gs").unwrap().description.as_deref(),
        Some("changed")
    );
    let missing = refusal(
        store
            .update_source(&t(), "nope", |_| Ok::<(), ConfigWriteError>(()))
            .await,
    );
    assert_eq!(missing.to_string(), "no source named `nope`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_needs_its_renderer_and_connector_which_then_stay() {
    let db = test_db!();
    let store = db.store().await;
    let crm = connector(&t(), "crm", 1);
    let without_renderer = refusal(store.create_endpoint(&endpoint(&t(), None)).await);
    assert_eq!(
        without_renderer.to_string(),
        "renderer.plugin: no plugin named `json-renderer`; upload it first"
    );
    add_plugin(&store, "json-renderer", PluginWorld::Renderer).await;
    let without_connector = refusal(store.create_endpoint(&endpoint(&t(), Some(crm.id))).await);
    assert_eq!(
        without_connector.to_string(),
        format!("connector: no connector `{}`; create it first", crm.id)
    );
    assert!(store.endpoints(&t()).await.unwrap().is_empty());

    store.create_connector(&crm).await.unwrap();
    assert_eq!(
        store
            .connector_by_key(&t(), "crm")
            .await
            .unwrap()
            .unwrap()
            .id,
        crm.id
    );
    let hook = endpoint(&t(), Some(crm.id));
    store.create_endpoint(&hook).await.unwrap();
    assert_eq!(store.endpoint_snapshot().len(), 1);
    let in_use = refusal(store.delete_connector(&t(), crm.id).await);
    assert_eq!(
        in_use.to_string(),
        format!(
            "connector `crm` is used by endpoint `{}`; change or delete those first",
            hook.id
        )
    );
    assert!(matches!(
        refusal(store.delete_plugin(&name("json-renderer")).await),
        ConfigRefusal::PluginInUse { .. }
    ));

    assert!(store.disable_endpoint(hook.id, 2).await.unwrap());
    assert!(
        !store
            .endpoint(&t(), hook.id)
            .await
            .unwrap()
            .unwrap()
            .config
            .enabled
    );
    assert!(!store.endpoint_snapshot()[0].config.enabled);
    store.delete_endpoint(&t(), hook.id, 3).await.unwrap();
    assert!(store.endpoint_snapshot().is_empty());
    assert!(!store.disable_endpoint(hook.id, 4).await.unwrap());
    let gone = refusal(store.delete_endpoint(&t(), hook.id, 5).await);
    assert!(matches!(gone, ConfigRefusal::NoEndpoint(_)));
    store.delete_connector(&t(), crm.id).await.unwrap();
    let unknown = EndpointId::new(9);
    assert!(matches!(
        refusal(
            store
                .update_endpoint(&t(), unknown, |_| Ok::<(), ConfigWriteError>(()))
                .await
        ),
        ConfigRefusal::NoEndpoint(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_blocks_name_is_neither_renamed_nor_deleted() {
    let db = test_db!();
    let store = db.store().await;
    add_plugin(&store, "http-block", PluginWorld::Block).await;
    add_plugin(&store, "gupshup", PluginWorld::Mapper).await;
    let crm = connector(&t(), "crm", 1);
    let wh5 = block(&t(), "WH5", "http-block", "crm");

    let missing = refusal(store.create_block(&wh5).await);
    assert_eq!(
        missing.to_string(),
        "config.connector: no connector named `crm`; create it first"
    );
    store.create_connector(&crm).await.unwrap();
    let wrong = refusal(
        store
            .create_block(&block(&t(), "WH5", "gupshup", "crm"))
            .await,
    );
    assert_eq!(
        wrong.to_string(),
        "plugin: plugin `gupshup` is a mapper, not a block"
    );
    store.create_block(&wh5).await.unwrap();
    assert!(matches!(
        refusal(store.create_block(&wh5).await),
        ConfigRefusal::BlockExists(_)
    ));

    let rename = refusal(
        store
            .update_connector(&t(), crm.id, |connector| {
                connector.name = name("crm2");
                Ok::<(), ConfigWriteError>(())
            })
            .await,
    );
    assert_eq!(
        rename.to_string(),
        "connector `crm` cannot be renamed while blocks name it: `WH5`; change those blocks first"
    );
    let other = connector(&t(), "other", 2);
    store.create_connector(&other).await.unwrap();
    let taken = refusal(
        store
            .update_connector(&t(), other.id, |connector| {
                connector.name = name("crm");
                Ok::<(), ConfigWriteError>(())
            })
            .await,
    );
    assert!(
        matches!(taken, ConfigRefusal::ConnectorNameTaken { .. }),
        "{taken:?}"
    );
    assert_eq!(store.connectors(&t()).await.unwrap().len(), 2);

    let wh5_name: BlockName = "WH5".parse().unwrap();
    store.soft_delete_block(&t(), &wh5_name, 5).await.unwrap();
    assert!(matches!(
        refusal(store.soft_delete_block(&t(), &wh5_name, 6).await),
        ConfigRefusal::BlockAlreadyDeleted(_)
    ));
    assert!(matches!(
        refusal(store.create_block(&wh5).await),
        ConfigRefusal::DeletedBlockExists(_)
    ));
    assert!(matches!(
        refusal(
            store
                .update_block(&t(), &wh5_name, |_| Ok::<(), ConfigWriteError>(()))
                .await
        ),
        ConfigRefusal::BlockDeleted(_)
    ));
    let in_use = refusal(store.delete_connector(&t(), crm.id).await);
    assert_eq!(
        in_use.to_string(),
        "connector `crm` is used by block `WH5` (deleted); change or delete those first"
    );
    let restored = store.restore_block(&t(), &wh5_name, 7).await.unwrap();
    assert_eq!(restored.deleted_at, None);
    assert!(matches!(
        refusal(store.restore_block(&t(), &wh5_name, 8).await),
        ConfigRefusal::BlockNotDeleted(_)
    ));
    assert_eq!(store.blocks(&t()).await.unwrap().len(), 1);

    store
        .update_block(&t(), &wh5_name, |block| {
            block.config = json!({"url": "https://crm.example/", "connector": "other"});
            Ok::<(), ConfigWriteError>(())
        })
        .await
        .unwrap();
    store.delete_connector(&t(), crm.id).await.unwrap();
    assert!(matches!(
        refusal(store.delete_connector(&t(), crm.id).await),
        ConfigRefusal::NoConnector(_)
    ));
}
