//! Connector changes: create, change, delete. A connector is named by its
//! id (`conn_…`) or its name; its secret goes in and never comes out.

use super::{Admin, AdminError};
use crate::domain::connector::{self, Connector, CreateConnector, UpdateConnector};
use crate::domain::tenant::Principal;
use crate::ids::{ConnectorId, now_ms};
use crate::store::ConfigRefusal;

impl Admin {
    /// Stores new credentials under a free name.
    pub async fn create_connector(
        &self,
        by: &Principal,
        body: CreateConnector,
    ) -> Result<Connector, AdminError> {
        let now = now_ms();
        let connector = Connector {
            tenant: by.tenant.clone(),
            id: ConnectorId::new(now),
            name: body.name,
            description: body.description,
            auth: body.auth,
            created_at: now,
            updated_at: now,
        };
        connector::validate(connector.description.as_deref(), &connector.auth)?;
        self.store.create_connector(&connector).await?;
        self.audit(by, "connector.create", connector.id).await?;
        self.store.durable().await?;
        tracing::info!(connector = %connector.id, name = %connector.name, kind = ?connector.auth.kind(), "connector created");
        Ok(connector)
    }

    /// Changes the fields of connector `key` (id or name) that `body`
    /// gives; `auth` is replaced whole.
    pub async fn update_connector(
        &self,
        by: &Principal,
        key: &str,
        body: UpdateConnector,
    ) -> Result<Connector, AdminError> {
        let id = self.connector_id(by, key).await?;
        let connector = self
            .store
            .update_connector(&by.tenant, id, |connector| {
                if let Some(name) = body.name {
                    connector.name = name;
                }
                if let Some(auth) = body.auth {
                    connector.auth = auth;
                }
                if body.description.is_some() {
                    connector.description = body.description;
                }
                connector::validate(connector.description.as_deref(), &connector.auth)?;
                connector.updated_at = now_ms();
                Ok::<(), AdminError>(())
            })
            .await?;
        self.audit(by, "connector.update", id).await?;
        self.store.durable().await?;
        Ok(connector)
    }

    /// Deletes connector `key` (id or name), refused while endpoints or
    /// blocks use it.
    pub async fn delete_connector(&self, by: &Principal, key: &str) -> Result<(), AdminError> {
        let id = self.connector_id(by, key).await?;
        self.store.delete_connector(&by.tenant, id).await?;
        self.audit(by, "connector.delete", id).await?;
        self.store.durable().await?;
        Ok(())
    }

    async fn connector_id(&self, by: &Principal, key: &str) -> Result<ConnectorId, AdminError> {
        match self.store.connector_by_key(&by.tenant, key).await? {
            Some(connector) => Ok(connector.id),
            None => Err(ConfigRefusal::NoConnector(key.to_owned()).into()),
        }
    }
}
