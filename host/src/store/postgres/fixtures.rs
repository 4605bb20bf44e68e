//! Records the PostgreSQL store's tests build: the same shapes the embedded
//! store's tests use.

use serde_json::json;

use super::PgStore;
use crate::domain::block::Block;
use crate::domain::connector::{Connector, ConnectorAuth};
use crate::domain::endpoint::{Endpoint, EndpointConfig, SigningSecret};
use crate::domain::event::CanonicalEvent;
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;
use crate::domain::tenant::{Quotas, Tenant, default_tenant};
use crate::domain::{Name, Secret};
use crate::ids::{ConnectorId, EventId};
use crate::store::{NewEvent, NewVersion, Uploader};

pub(super) fn name(text: &str) -> Name {
    text.parse().unwrap()
}

/// The default tenant.
pub(super) fn t() -> Name {
    default_tenant()
}

/// Uploads a shared plugin `plugin` of `world`.
pub(super) async fn add_plugin(store: &PgStore, plugin: &str, world: PluginWorld) {
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
        .await
        .unwrap();
}

/// Creates tenant `tenant` with `quotas`.
pub(super) async fn tenant(store: &PgStore, tenant: &str, quotas: Quotas) -> Name {
    let mut record = Tenant::new(name(tenant), 1);
    record.quotas = quotas;
    store.create_tenant(&record).await.unwrap();
    record.name
}

pub(super) fn source(tenant: &Name, source: &str, mapper: &str) -> Source {
    Source {
        tenant: tenant.clone(),
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

pub(super) fn connector(tenant: &Name, connector: &str, now: u64) -> Connector {
    Connector {
        tenant: tenant.clone(),
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

pub(super) fn block(tenant: &Name, block: &str, plugin: &str, connector: &str) -> Block {
    Block {
        tenant: tenant.clone(),
        name: block.parse().unwrap(),
        description: None,
        plugin: name(plugin),
        config: json!({"url": "https://crm.example/", "connector": connector}),
        created_at: 1,
        updated_at: 1,
        deleted_at: None,
    }
}

pub(super) fn endpoint(tenant: &Name, connector: Option<ConnectorId>) -> Endpoint {
    let mut config = EndpointConfig::new("https://receiver.example/hook".parse().unwrap());
    config.connector = connector;
    Endpoint::new(tenant.clone(), config, SigningSecret::generate(), 1)
}

/// A status event at `time_ms` (its id's time) with vendor message id
/// `message_id`.
pub(super) fn event(time_ms: u64, message_id: &str) -> CanonicalEvent {
    crate::domain::endpoint::tests::event(EventId::new(time_ms), message_id)
}

/// `event` of `tenant`, fanned out to nothing.
pub(super) fn alone(tenant: &Name, event: CanonicalEvent) -> NewEvent {
    NewEvent {
        tenant: tenant.clone(),
        event,
        deliveries: Vec::new(),
    }
}
