//! Plugin changes: upload a version, activate one (also a rollback), change
//! the settings every version runs with, delete a plugin nothing uses.
//! Loading and compiling run on blocking threads. Every change goes to the
//! audit log of the plugin's tenant (its owner's, or the caller's for a
//! shared plugin).

use super::{Admin, AdminError};
use crate::domain::Name;
use crate::domain::endpoint::FieldError;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginWorld};
use crate::domain::tenant::Principal;
use crate::runtime::LimitsOverride;
use crate::store::ConfigRefusal;
use crate::store::{AddedVersion, Uploader};

/// The most allowed-hosts entries a plugin may have.
const MAX_ALLOWED_HOSTS: usize = 100;

impl Admin {
    /// Validates (compiling) and stores `bytes` as the next version of
    /// `name`, active at once when `activate` or when it is the first.
    pub async fn upload_plugin(
        &self,
        by: &Principal,
        uploader: Uploader,
        name: Name,
        bytes: bytes::Bytes,
        activate: bool,
    ) -> Result<AddedVersion, AdminError> {
        let registry = self.registry.clone();
        let upload_name = name.clone();
        let added = tokio::task::spawn_blocking(move || {
            registry.upload(&upload_name, &bytes, activate, uploader)
        })
        .await??;
        let (plugin, version) = (&added.record, &added.version);
        // Identical bytes add no version; asked to activate, they may
        // have switched the active one.
        let action = match (added.created, activate) {
            (true, _) => Some("plugin.upload"),
            (false, true) => Some("plugin.activate"),
            (false, false) => None,
        };
        if let Some(action) = action {
            self.audit_plugin(by, plugin, action, Some(version.version))
                .await?;
        }
        self.store.durable().await?;
        tracing::info!(plugin = %name, version = version.version, world = version.world.as_str(), created = added.created, "plugin uploaded");
        Ok(added)
    }

    /// Makes `version` of `name` active. Calls in flight finish on the old
    /// version; none fails during the swap.
    pub async fn activate_plugin(
        &self,
        by: &Principal,
        name: &Name,
        version: u32,
    ) -> Result<PluginRecord, AdminError> {
        self.plugin(name).await?;
        let (registry, name) = (self.registry.clone(), name.clone());
        let record =
            tokio::task::spawn_blocking(move || registry.activate(&name, version)).await??;
        self.audit_plugin(by, &record, "plugin.activate", Some(version))
            .await?;
        self.store.durable().await?;
        Ok(record)
    }

    /// Sets a plugin's allowed hosts (block plugins only) and/or limits
    /// (`None` keeps what is set); both apply to every version from the
    /// next call on.
    pub async fn set_plugin_settings(
        &self,
        by: &Principal,
        name: &Name,
        allowed_hosts: Option<Vec<HostPattern>>,
        limits: Option<LimitsOverride>,
    ) -> Result<PluginRecord, AdminError> {
        let record = self.plugin(name).await?;
        if allowed_hosts.is_none() && limits.is_none() {
            return Err(
                FieldError::new("settings", "give `allowed_hosts`, `limits` or both").into(),
            );
        }
        if let Some(hosts) = &allowed_hosts {
            check_allowed_hosts(&record, hosts)?;
        }
        if let Some(limits) = &limits {
            check_limits(&record, limits)?;
        }
        let (registry, name) = (self.registry.clone(), name.clone());
        let record = tokio::task::spawn_blocking(move || {
            registry.set_settings(&name, allowed_hosts, limits)
        })
        .await??;
        self.audit_plugin(by, &record, "plugin.settings", None)
            .await?;
        self.store.durable().await?;
        tracing::info!(
            plugin = %record.name,
            allowed_hosts = ?record.allowed_hosts,
            limits = ?record.limits,
            "plugin settings changed"
        );
        Ok(record)
    }

    /// Deletes a plugin and all its versions, refused while a source,
    /// endpoint or block uses it.
    pub async fn delete_plugin(&self, by: &Principal, name: &Name) -> Result<(), AdminError> {
        let record = self.plugin(name).await?;
        self.store.delete_plugin(name).await?;
        self.audit_plugin(by, &record, "plugin.delete", None)
            .await?;
        self.registry.forget(name);
        self.store.durable().await?;
        Ok(())
    }

    /// Records a change to `plugin` in its owner's audit log, or the
    /// caller's tenant's for a shared plugin.
    async fn audit_plugin(
        &self,
        by: &Principal,
        plugin: &PluginRecord,
        action: &str,
        version: Option<u32>,
    ) -> Result<(), AdminError> {
        let logged_in = Principal {
            tenant: plugin.owner.clone().unwrap_or_else(|| by.tenant.clone()),
            actor: by.actor.clone(),
        };
        let target = match version {
            Some(version) => format!("{} v{version}", plugin.name),
            None => plugin.name.to_string(),
        };
        self.audit(&logged_in, action, target).await
    }

    async fn plugin(&self, name: &Name) -> Result<PluginRecord, AdminError> {
        self.store
            .plugin(name)
            .await?
            .ok_or_else(|| ConfigRefusal::NoPlugin(name.clone()).into())
    }
}

/// Only block plugins make outbound requests, so only they have allowed
/// hosts, and at most [`MAX_ALLOWED_HOSTS`].
fn check_allowed_hosts(record: &PluginRecord, hosts: &[HostPattern]) -> Result<(), FieldError> {
    if record.world != PluginWorld::Block {
        return Err(FieldError::new(
            "allowed_hosts",
            format!(
                "plugin `{}` is a {}; only block plugins make outbound requests",
                record.name,
                record.world.as_str()
            ),
        ));
    }
    if hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(FieldError::new(
            "allowed_hosts",
            format!("at most {MAX_ALLOWED_HOSTS} entries"),
        ));
    }
    Ok(())
}

/// A limit override is in range and fits the plugin's world: only mappers
/// return events, only blocks make requests.
fn check_limits(record: &PluginRecord, limits: &LimitsOverride) -> Result<(), FieldError> {
    limits
        .validate()
        .map_err(|error| FieldError::new(format!("limits.{}", error.field), error.detail))?;
    let misplaced = match record.world {
        PluginWorld::Mapper => limits.max_http_requests.map(|_| "max_http_requests"),
        PluginWorld::Block => limits.max_events.map(|_| "max_events"),
        PluginWorld::Renderer => limits
            .max_events
            .map(|_| "max_events")
            .or(limits.max_http_requests.map(|_| "max_http_requests")),
    };
    match misplaced {
        Some(field) => Err(FieldError::new(
            format!("limits.{field}"),
            format!(
                "plugin `{}` is a {}, which {}",
                record.name,
                record.world.as_str(),
                if field == "max_events" {
                    "returns no events"
                } else {
                    "makes no HTTP requests"
                }
            ),
        )),
        None => Ok(()),
    }
}
