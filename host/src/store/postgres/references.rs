//! What keeps the configuration whole across nodes: the checks that a
//! record names a plugin of the right world or a connector that exists,
//! that a tenant's quota allows one more, and who depends on a plugin or a
//! connector. Each runs inside a configuration write's transaction, under
//! the config lock, so nothing it read changes before the write commits.

use tokio_postgres::Transaction;

use super::rows::{record, records};
use crate::domain::Name;
use crate::domain::block::Block;
use crate::domain::connector::Connector;
use crate::domain::plugin::{PluginRecord, PluginWorld};
use crate::domain::tenant::{Tenant, is_default};
use crate::ids::ConnectorId;
use crate::store::{ConfigRefusal, ConfigWriteError, StoreError};

/// Refuses `plugin` (named by `field`) unless it is uploaded, of `world`,
/// and usable by `tenant` (shared, or private to it: another tenant's
/// private plugin is answered as missing).
pub(super) async fn plugin(
    tx: &Transaction<'_>,
    tenant: &Name,
    field: &'static str,
    plugin: &Name,
    world: PluginWorld,
) -> Result<(), ConfigWriteError> {
    let row = tx
        .query_opt(
            "SELECT record FROM plugins WHERE name = $1",
            &[&plugin.as_str()],
        )
        .await
        .map_err(StoreError::from)?;
    let usable = match row {
        Some(row) => Some(record::<PluginRecord>("a plugin record", &row, 0)?)
            .filter(|found| found.usable_by(tenant)),
        None => None,
    };
    match usable {
        None => Err(ConfigRefusal::MissingPlugin {
            field,
            plugin: plugin.clone(),
        }
        .into()),
        Some(found) if found.world != world => Err(ConfigRefusal::WrongWorld {
            field,
            plugin: plugin.clone(),
            world: found.world,
            expected: world,
        }
        .into()),
        Some(_) => Ok(()),
    }
}

/// Refuses the connector id `connector` (named by `field`) unless `tenant`
/// has it.
pub(super) async fn connector(
    tx: &Transaction<'_>,
    tenant: &Name,
    field: &'static str,
    connector: ConnectorId,
) -> Result<(), ConfigWriteError> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM connectors WHERE id = $1 AND tenant = $2",
            &[&&connector.to_bytes()[..], &tenant.as_str()],
        )
        .await
        .map_err(StoreError::from)?;
    match found {
        Some(_) => Ok(()),
        None => Err(ConfigRefusal::MissingConnector { field, connector }.into()),
    }
}

/// Refuses the connector name `connector` (named by `field`) unless a
/// connector of `tenant` has it.
pub(super) async fn connector_name(
    tx: &Transaction<'_>,
    tenant: &Name,
    field: &'static str,
    connector: &str,
) -> Result<(), ConfigWriteError> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM connectors WHERE tenant = $1 AND name = $2",
            &[&tenant.as_str(), &connector],
        )
        .await
        .map_err(StoreError::from)?;
    match found {
        Some(_) => Ok(()),
        None => Err(ConfigRefusal::MissingConnectorName {
            field,
            connector: connector.to_owned(),
        }
        .into()),
    }
}

/// Refuses one more source (or endpoint, `endpoints`) for `tenant` when it
/// has as many as its quota allows, counted in the database.
pub(super) async fn count_quota(
    tx: &Transaction<'_>,
    tenant: &Name,
    endpoints: bool,
) -> Result<(), ConfigWriteError> {
    let row = tx
        .query_opt(
            "SELECT record FROM tenants WHERE name = $1",
            &[&tenant.as_str()],
        )
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| ConfigRefusal::NoTenant(tenant.to_string()))?;
    let found: Tenant = record("a tenant record", &row, 0)?;
    let (what, limit, sql) = if endpoints {
        (
            "endpoints",
            found.quotas.max_endpoints,
            "SELECT count(*) FROM endpoints WHERE tenant = $1",
        )
    } else {
        (
            "sources",
            found.quotas.max_sources,
            "SELECT count(*) FROM sources WHERE tenant = $1",
        )
    };
    let Some(limit) = limit else {
        return Ok(());
    };
    let count: i64 = tx
        .query_one(sql, &[&tenant.as_str()])
        .await
        .map_err(StoreError::from)?
        .try_get(0)
        .map_err(StoreError::from)?;
    if count >= i64::from(limit) {
        return Err(ConfigRefusal::QuotaExceeded {
            tenant: tenant.clone(),
            what,
            limit,
        }
        .into());
    }
    Ok(())
}

/// Descriptions of everything that uses `plugin` (`source `gs``, …),
/// sorted; empty when nothing does.
pub(super) async fn plugin_dependents(
    tx: &Transaction<'_>,
    plugin: &Name,
) -> Result<Vec<String>, StoreError> {
    let name = plugin.as_str();
    let mut users: Vec<String> = Vec::new();
    for row in tx
        .query(
            "SELECT tenant, name FROM sources WHERE mapper = $1",
            &[&name],
        )
        .await?
    {
        let tenant: &str = row.try_get(0)?;
        let source: &str = row.try_get(1)?;
        users.push(format!("source `{source}`{}", of_tenant(tenant)));
    }
    for row in tx
        .query(
            "SELECT tenant, id FROM endpoints WHERE renderer = $1",
            &[&name],
        )
        .await?
    {
        let tenant: &str = row.try_get(0)?;
        let id = crate::ids::EndpointId::from_bytes(super::rows::id_at(&row, 1)?);
        users.push(format!("endpoint `{id}`{}", of_tenant(tenant)));
    }
    let blocks: Vec<Block> = records(
        "a block record",
        &tx.query("SELECT record FROM blocks WHERE plugin = $1", &[&name])
            .await?,
    )?;
    users.extend(blocks.iter().map(describe_block));
    users.sort();
    Ok(users)
}

/// Descriptions of everything whose requests carry `connector`'s
/// credentials (`endpoint `ep_…``, `block `WH5``), sorted.
pub(super) async fn connector_dependents(
    tx: &Transaction<'_>,
    connector: &Connector,
) -> Result<Vec<String>, StoreError> {
    let mut users: Vec<String> = Vec::new();
    for row in tx
        .query(
            "SELECT id FROM endpoints WHERE tenant = $1 AND connector = $2",
            &[&connector.tenant.as_str(), &&connector.id.to_bytes()[..]],
        )
        .await?
    {
        let id = crate::ids::EndpointId::from_bytes(super::rows::id_at(&row, 0)?);
        users.push(format!("endpoint `{id}`"));
    }
    let blocks = blocks_naming(tx, &connector.tenant, &connector.name).await?;
    users.extend(blocks.iter().map(describe_block));
    users.sort();
    Ok(users)
}

/// `tenant`'s blocks (live or soft-deleted) whose config names the
/// connector called `connector`.
pub(super) async fn blocks_naming(
    tx: &Transaction<'_>,
    tenant: &Name,
    connector: &Name,
) -> Result<Vec<Block>, StoreError> {
    records(
        "a block record",
        &tx.query(
            "SELECT record FROM blocks WHERE tenant = $1 AND connector_name = $2 ORDER BY name",
            &[&tenant.as_str(), &connector.as_str()],
        )
        .await?,
    )
}

/// " (tenant `acme`)" for records outside the default tenant.
fn of_tenant(tenant: &str) -> String {
    match tenant.parse::<Name>() {
        Ok(name) if is_default(&name) => String::new(),
        _ => format!(" (tenant `{tenant}`)"),
    }
}

/// "block `WH5`", or "block `WH5` (deleted)".
fn describe_block(block: &Block) -> String {
    let tenant = of_tenant(block.tenant.as_str());
    if block.is_deleted() {
        format!("block `{}` (deleted){tenant}", block.name)
    } else {
        format!("block `{}`{tenant}", block.name)
    }
}
