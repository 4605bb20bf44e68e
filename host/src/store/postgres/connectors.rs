//! Connector records by their time-ordered id, names unique within a
//! tenant, and their writes. Another tenant's connector is "no connector".
//! A connector in use is not deleted, and one that blocks name (by name) is
//! not renamed.

use tokio_postgres::Transaction;

use super::rows::{encode, record, records};
use super::tenants::settle;
use super::{PgStore, config, references};
use crate::domain::Name;
use crate::domain::connector::Connector;
use crate::ids::ConnectorId;
use crate::store::{ConfigChange, ConfigRefusal, ConfigWriteError, StoreError};

impl PgStore {
    /// Connector `id` of `tenant`.
    pub async fn connector(
        &self,
        tenant: &Name,
        id: ConnectorId,
    ) -> Result<Option<Connector>, StoreError> {
        self.one_connector(
            "SELECT record FROM connectors WHERE tenant = $1 AND id = $2",
            tenant,
            &&id.to_bytes()[..],
        )
        .await
    }

    /// `tenant`'s connector named `name`.
    pub async fn connector_by_name(
        &self,
        tenant: &Name,
        name: &Name,
    ) -> Result<Option<Connector>, StoreError> {
        self.one_connector(
            "SELECT record FROM connectors WHERE tenant = $1 AND name = $2",
            tenant,
            &name.as_str(),
        )
        .await
    }

    async fn one_connector(
        &self,
        sql: &str,
        tenant: &Name,
        key: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> Result<Option<Connector>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client.query_opt(sql, &[&tenant.as_str(), key]).await?;
                row.map(|row| record("a connector record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// `tenant`'s connector `key` names: an id (`conn_…`) or a name.
    pub async fn connector_by_key(
        &self,
        tenant: &Name,
        key: &str,
    ) -> Result<Option<Connector>, StoreError> {
        if let Ok(id) = key.parse::<ConnectorId>() {
            self.connector(tenant, id).await
        } else if let Ok(name) = key.parse::<Name>() {
            self.connector_by_name(tenant, &name).await
        } else {
            Ok(None)
        }
    }

    /// `tenant`'s connectors, oldest first.
    pub async fn connectors(&self, tenant: &Name) -> Result<Vec<Connector>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM connectors WHERE tenant = $1 ORDER BY id",
                        &[&tenant.as_str()],
                    )
                    .await?;
                records("a connector record", &rows)
            }
            .await,
        )
    }

    /// Stores a new connector, refused when its name is taken.
    pub async fn create_connector(&self, connector: &Connector) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                name_free(&tx, &connector.tenant, &connector.name, None).await?;
                self.writable()?;
                put(&tx, connector).await?;
                config::commit(tx, ConfigChange::Connectors).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }

    /// Changes connector `id` with `change` and stores it, refused when
    /// there is no such connector, when `change` refuses, or when it renames
    /// the connector to a taken name or while blocks name it. `change` must
    /// not write.
    pub async fn update_connector<E>(
        &self,
        tenant: &Name,
        id: ConnectorId,
        change: impl FnOnce(&mut Connector) -> Result<(), E> + Send,
    ) -> Result<Connector, E>
    where
        E: From<ConfigWriteError> + Send,
    {
        let shared = &self.shared;
        let result = async {
            let mut client = shared.client().await?;
            let tx = config::begin(&mut client).await?;
            let row = tx
                .query_opt(
                    "SELECT record FROM connectors WHERE tenant = $1 AND id = $2",
                    &[&tenant.as_str(), &&id.to_bytes()[..]],
                )
                .await
                .map_err(StoreError::from)?
                .ok_or_else(|| ConfigRefusal::NoConnector(id.to_string()))?;
            let mut connector: Connector = record("a connector record", &row, 0)?;
            let name = connector.name.clone();
            if let Err(refused) = change(&mut connector) {
                return Ok(Err(refused));
            }
            connector.tenant = tenant.clone();
            if connector.name != name {
                name_free(&tx, tenant, &connector.name, Some(connector.id)).await?;
                let blocks = references::blocks_naming(&tx, tenant, &name).await?;
                if !blocks.is_empty() {
                    return Err(ConfigRefusal::ConnectorNamedByBlocks {
                        connector: name,
                        blocks: blocks.into_iter().map(|block| block.name).collect(),
                    }
                    .into());
                }
            }
            self.writable()?;
            put(&tx, &connector).await?;
            config::commit(tx, ConfigChange::Connectors).await?;
            Ok::<_, ConfigWriteError>(Ok(connector))
        }
        .await;
        settle(shared.track(result))
    }

    /// Removes connector `id`, refused while endpoints or blocks use it.
    pub async fn delete_connector(
        &self,
        tenant: &Name,
        id: ConnectorId,
    ) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let row = tx
                    .query_opt(
                        "SELECT record FROM connectors WHERE tenant = $1 AND id = $2",
                        &[&tenant.as_str(), &&id.to_bytes()[..]],
                    )
                    .await
                    .map_err(StoreError::from)?
                    .ok_or_else(|| ConfigRefusal::NoConnector(id.to_string()))?;
                let connector: Connector = record("a connector record", &row, 0)?;
                let users = references::connector_dependents(&tx, &connector).await?;
                if !users.is_empty() {
                    return Err(ConfigRefusal::ConnectorInUse {
                        connector: connector.name,
                        users,
                    }
                    .into());
                }
                self.writable()?;
                tx.execute(
                    "DELETE FROM connectors WHERE id = $1",
                    &[&&id.to_bytes()[..]],
                )
                .await
                .map_err(StoreError::from)?;
                config::commit(tx, ConfigChange::Connectors).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }
}

/// Refuses `name` when a connector of `tenant` other than `own` has it.
async fn name_free(
    tx: &Transaction<'_>,
    tenant: &Name,
    name: &Name,
    own: Option<ConnectorId>,
) -> Result<(), ConfigWriteError> {
    let row = tx
        .query_opt(
            "SELECT id FROM connectors WHERE tenant = $1 AND name = $2",
            &[&tenant.as_str(), &name.as_str()],
        )
        .await
        .map_err(StoreError::from)?;
    if let Some(row) = row {
        let holder = ConnectorId::from_bytes(super::rows::id_at(&row, 0)?);
        if Some(holder) != own {
            return Err(ConfigRefusal::ConnectorNameTaken {
                name: name.clone(),
                holder,
            }
            .into());
        }
    }
    Ok(())
}

/// Inserts or replaces `connector`.
pub(super) async fn put(tx: &Transaction<'_>, connector: &Connector) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO connectors (id, tenant, name, record) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, name = EXCLUDED.name,
             record = EXCLUDED.record",
        &[
            &&connector.id.to_bytes()[..],
            &connector.tenant.as_str(),
            &connector.name.as_str(),
            &encode(connector)?,
        ],
    )
    .await?;
    Ok(())
}
