//! Endpoint records by their time-ordered id, the in-memory snapshot of all
//! of them the delivery engine reads on every event, and their writes, each
//! checking under the config lock that the renderer is an uploaded renderer
//! and the connector one of the tenant's. Another tenant's endpoint is "no
//! endpoint".

use std::sync::Arc;

use tokio_postgres::Transaction;

use super::rows::{encode, record, records};
use super::tenants::settle;
use super::{PgStore, Shared, config, references};
use crate::domain::Name;
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, EndpointConfig};
use crate::domain::plugin::PluginWorld;
use crate::ids::EndpointId;
use crate::store::{ConfigChange, ConfigRefusal, ConfigWriteError, StoreError};

/// Why the deliveries of a deleted endpoint failed.
const ENDPOINT_DELETED: &str = "endpoint_deleted: the endpoint was deleted before delivery";

impl PgStore {
    /// Endpoint `id` of `tenant`.
    pub async fn endpoint(
        &self,
        tenant: &Name,
        id: EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT record FROM endpoints WHERE id = $1 AND tenant = $2",
                        &[&&id.to_bytes()[..], &tenant.as_str()],
                    )
                    .await?;
                row.map(|row| record("an endpoint record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// `tenant`'s endpoints, oldest first, from the snapshot.
    pub async fn endpoints(&self, tenant: &Name) -> Result<Vec<Endpoint>, StoreError> {
        Ok(self
            .shared
            .endpoints
            .load()
            .iter()
            .filter(|endpoint| &endpoint.tenant == tenant)
            .cloned()
            .collect())
    }

    /// Every endpoint as of the last refresh, oldest first.
    pub fn endpoint_snapshot(&self) -> Arc<Vec<Endpoint>> {
        self.shared.endpoints.load()
    }

    /// Stores a new endpoint, refused when its tenant is at its quota or its
    /// connector or renderer is missing.
    pub async fn create_endpoint(&self, endpoint: &Endpoint) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                references::count_quota(&tx, &endpoint.tenant, true).await?;
                check_references(&tx, &endpoint.tenant, &endpoint.config).await?;
                self.writable()?;
                put(&tx, endpoint).await?;
                config::commit(tx, ConfigChange::Endpoints).await?;
                // Back to the pool before the refresh takes one.
                drop(client);
                shared.after_write(ConfigChange::Endpoints).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }

    /// Changes endpoint `id` with `change` and stores it, refused when
    /// there is no such endpoint, when `change` refuses, or when the
    /// changed endpoint's connector or renderer is missing. `change` must
    /// not write.
    pub async fn update_endpoint<E>(
        &self,
        tenant: &Name,
        id: EndpointId,
        change: impl FnOnce(&mut Endpoint) -> Result<(), E> + Send,
    ) -> Result<Endpoint, E>
    where
        E: From<ConfigWriteError> + Send,
    {
        let shared = &self.shared;
        let result = async {
            let mut client = shared.client().await?;
            let tx = config::begin(&mut client).await?;
            let row = tx
                .query_opt(
                    "SELECT record FROM endpoints WHERE id = $1 AND tenant = $2 FOR UPDATE",
                    &[&&id.to_bytes()[..], &tenant.as_str()],
                )
                .await
                .map_err(StoreError::from)?
                .ok_or_else(|| ConfigRefusal::NoEndpoint(id.to_string()))?;
            let mut endpoint: Endpoint = record("an endpoint record", &row, 0)?;
            if let Err(refused) = change(&mut endpoint) {
                return Ok(Err(refused));
            }
            endpoint.tenant = tenant.clone();
            check_references(&tx, tenant, &endpoint.config).await?;
            self.writable()?;
            put(&tx, &endpoint).await?;
            config::commit(tx, ConfigChange::Endpoints).await?;
            drop(client);
            shared.after_write(ConfigChange::Endpoints).await?;
            Ok::<_, ConfigWriteError>(Ok(endpoint))
        }
        .await;
        settle(shared.track(result))
    }

    /// Disables endpoint `id` (its receiver answered 410 Gone); `false`
    /// when it is gone.
    pub async fn disable_endpoint(&self, id: EndpointId, now_ms: u64) -> Result<bool, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let Some(row) = tx
                    .query_opt(
                        "SELECT record FROM endpoints WHERE id = $1 FOR UPDATE",
                        &[&&id.to_bytes()[..]],
                    )
                    .await?
                else {
                    return Ok(false);
                };
                let mut endpoint: Endpoint = record("an endpoint record", &row, 0)?;
                endpoint.config.enabled = false;
                endpoint.updated_at = now_ms;
                put(&tx, &endpoint).await?;
                config::commit(tx, ConfigChange::Endpoints).await?;
                drop(client);
                shared.after_write(ConfigChange::Endpoints).await?;
                Ok(true)
            }
            .await,
        )
    }

    /// Removes an endpoint and fails its waiting deliveries visibly (nothing
    /// would ever attempt them), in one transaction; they stay readable.
    pub async fn delete_endpoint(
        &self,
        tenant: &Name,
        id: EndpointId,
        now_ms: u64,
    ) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                self.writable()?;
                let deleted = tx
                    .execute(
                        "DELETE FROM endpoints WHERE id = $1 AND tenant = $2",
                        &[&&id.to_bytes()[..], &tenant.as_str()],
                    )
                    .await
                    .map_err(StoreError::from)?;
                if deleted == 0 {
                    return Err(ConfigRefusal::NoEndpoint(id.to_string()).into());
                }
                fail_waiting(&tx, id, ENDPOINT_DELETED, now_ms).await?;
                config::commit(tx, ConfigChange::Endpoints).await?;
                drop(client);
                shared.after_write(ConfigChange::Endpoints).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }
}

/// Refuses `config` unless the connector (of `tenant`) and the renderer it
/// names exist, the renderer as a renderer.
async fn check_references(
    tx: &Transaction<'_>,
    tenant: &Name,
    config: &EndpointConfig,
) -> Result<(), ConfigWriteError> {
    if let Some(connector) = config.connector {
        references::connector(tx, tenant, "connector", connector).await?;
    }
    references::plugin(
        tx,
        tenant,
        "renderer.plugin",
        &config.renderer.plugin,
        PluginWorld::Renderer,
    )
    .await
}

/// Inserts or replaces `endpoint`.
pub(super) async fn put(tx: &Transaction<'_>, endpoint: &Endpoint) -> Result<(), StoreError> {
    let connector = endpoint.config.connector.map(|id| id.to_bytes().to_vec());
    tx.execute(
        "INSERT INTO endpoints (id, tenant, renderer, connector, record) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, renderer = EXCLUDED.renderer,
             connector = EXCLUDED.connector, record = EXCLUDED.record",
        &[
            &&endpoint.id.to_bytes()[..],
            &endpoint.tenant.as_str(),
            &endpoint.config.renderer.plugin.as_str(),
            &connector,
            &encode(endpoint)?,
        ],
    )
    .await?;
    Ok(())
}

/// Fails every waiting delivery of `endpoint` with `reason`. Returns how
/// many.
async fn fail_waiting(
    tx: &Transaction<'_>,
    endpoint: EndpointId,
    reason: &str,
    now_ms: u64,
) -> Result<usize, StoreError> {
    let rows = tx
        .query(
            "SELECT record FROM deliveries WHERE endpoint = $1 AND waiting FOR UPDATE",
            &[&&endpoint.to_bytes()[..]],
        )
        .await?;
    let waiting: Vec<Delivery> = records("a delivery record", &rows)?;
    for mut delivery in waiting.iter().cloned() {
        delivery.state = DeliveryState::Failed;
        delivery.next_attempt_at = None;
        delivery.held = false;
        delivery.last_error = Some(reason.to_owned());
        delivery.updated_at = now_ms;
        super::deliveries::update(tx, &delivery).await?;
    }
    Ok(waiting.len())
}

impl Shared {
    /// Re-reads every endpoint into the snapshot, oldest first.
    pub(super) async fn refresh_endpoints(&self) -> Result<(), StoreError> {
        self.endpoints
            .refresh(async {
                let client = self.client().await?;
                let rows = client
                    .query("SELECT record FROM endpoints ORDER BY id", &[])
                    .await?;
                records("an endpoint record", &rows)
            })
            .await
    }
}
