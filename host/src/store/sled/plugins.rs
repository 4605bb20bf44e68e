//! Plugin records, their immutable versions and the component bytes
//! (stored once per content hash). A plugin that sources, endpoints or
//! blocks use is not deleted.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::codec::{self, decode, encode};
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginVersion};
use crate::runtime::LimitsOverride;
use crate::store::{AddVersionError, AddedVersion, NewVersion, Uploader};
use crate::store::{ConfigRefusal, ConfigWriteError};

fn version_key(name: &Name, version: u32) -> Vec<u8> {
    let mut key = name.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn versions_prefix(name: &Name) -> Vec<u8> {
    let mut key = name.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

impl SledStore {
    /// A plugin's record.
    pub fn plugin(&self, name: &Name) -> Result<Option<PluginRecord>, StoreError> {
        codec::get(&self.plugins, name.as_str())
    }

    /// Every plugin, by name.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        codec::all(&self.plugins)
    }

    /// A plugin's versions, oldest first.
    pub fn plugin_versions(&self, name: &Name) -> Result<Vec<PluginVersion>, StoreError> {
        self.plugin_versions
            .scan_prefix(versions_prefix(name))
            .values()
            .map(|bytes| decode(&self.plugin_versions, &bytes?))
            .collect()
    }

    /// One version's record.
    pub fn plugin_version(
        &self,
        name: &Name,
        version: u32,
    ) -> Result<Option<PluginVersion>, StoreError> {
        codec::get(&self.plugin_versions, version_key(name, version))
    }

    /// The component bytes of a version.
    pub fn plugin_bytes(&self, name: &Name, version: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(meta) = self.plugin_version(name, version)? else {
            return Ok(None);
        };
        Ok(self.blobs.get(&meta.sha256)?.map(|bytes| bytes.to_vec()))
    }

    /// Adds the next version of `name` (creating the plugin on its first
    /// upload), atomically with its bytes and record.
    pub fn add_plugin_version(
        &self,
        name: &Name,
        new: NewVersion<'_>,
    ) -> Result<AddedVersion, AddVersionError> {
        self.writable()?;
        // Under the config lock, so two tenants racing to create the same
        // name cannot both pass the owner check.
        let _guard = self.config_lock();
        if let Some(existing) = self.plugin(name)? {
            if let Uploader::Tenant(tenant) = &new.uploader {
                match &existing.owner {
                    None => return Err(AddVersionError::Shared(name.clone())),
                    Some(owner) if owner != tenant => {
                        return Err(AddVersionError::NameTaken(name.clone()));
                    }
                    Some(_) => {}
                }
            }
            if existing.world != new.world {
                return Err(AddVersionError::WorldMismatch {
                    name: name.clone(),
                    existing: existing.world.as_str(),
                    uploaded: new.world.as_str(),
                });
            }
            let identical = self
                .plugin_versions(name)?
                .into_iter()
                .rfind(|version| version.sha256 == new.sha256);
            if let Some(version) = identical {
                let record = if new.activate && existing.active_version != version.version {
                    let record = PluginRecord {
                        active_version: version.version,
                        updated_at: new.now_ms,
                        ..existing
                    };
                    codec::put(&self.plugins, name.as_str(), &record)?;
                    record
                } else {
                    existing
                };
                return Ok(AddedVersion {
                    record,
                    version,
                    created: false,
                });
            }
        }
        let result = (&self.plugins, &self.plugin_versions, &self.blobs).transaction(
            |(plugins, versions, blobs)| {
                let abort = |error: StoreError| ConflictableTransactionError::Abort(error);
                let current: Option<PluginRecord> = plugins
                    .get(name.as_str())?
                    .map(|bytes| decode(&self.plugins, &bytes))
                    .transpose()
                    .map_err(abort)?;
                let number = current
                    .as_ref()
                    .map_or(1, |record| record.latest_version + 1);
                let version = PluginVersion {
                    version: number,
                    sha256: new.sha256.clone(),
                    world: new.world,
                    size_bytes: new.bytes.len() as u64,
                    created_at: new.now_ms,
                };
                let record = match current {
                    Some(record) => PluginRecord {
                        latest_version: number,
                        active_version: if new.activate {
                            number
                        } else {
                            record.active_version
                        },
                        updated_at: new.now_ms,
                        ..record
                    },
                    None => PluginRecord {
                        name: name.clone(),
                        world: new.world,
                        active_version: number,
                        latest_version: number,
                        created_at: new.now_ms,
                        updated_at: new.now_ms,
                        allowed_hosts: new.allowed_hosts.clone(),
                        limits: LimitsOverride::default(),
                        owner: new.uploader.owner_of_new(),
                    },
                };
                blobs.insert(new.sha256.as_bytes(), new.bytes)?;
                versions.insert(version_key(name, number), encode(&version).map_err(abort)?)?;
                plugins.insert(name.as_str(), encode(&record).map_err(abort)?)?;
                Ok((record, version))
            },
        );
        let (record, version) = result.map_err(StoreError::from)?;
        Ok(AddedVersion {
            record,
            version,
            created: true,
        })
    }

    /// Makes `version` the active one. `None` when the plugin or version
    /// does not exist.
    pub fn activate_plugin(
        &self,
        name: &Name,
        version: u32,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError> {
        self.writable()?;
        let _guard = self.config_lock();
        let Some(record) = self.plugin(name)? else {
            return Ok(None);
        };
        if self.plugin_version(name, version)?.is_none() {
            return Ok(None);
        }
        let record = PluginRecord {
            active_version: version,
            updated_at: now_ms,
            ..record
        };
        codec::put(&self.plugins, name.as_str(), &record)?;
        Ok(Some(record))
    }

    /// Replaces a plugin's allowed hosts and/or limits (`None` keeps
    /// what is set). `None` when there is no such plugin.
    pub fn set_plugin_settings(
        &self,
        name: &Name,
        allowed_hosts: Option<Vec<HostPattern>>,
        limits: Option<LimitsOverride>,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError> {
        self.writable()?;
        let _guard = self.config_lock();
        let Some(record) = self.plugin(name)? else {
            return Ok(None);
        };
        let record = PluginRecord {
            allowed_hosts: allowed_hosts.unwrap_or(record.allowed_hosts),
            limits: limits.unwrap_or(record.limits),
            updated_at: now_ms,
            ..record
        };
        codec::put(&self.plugins, name.as_str(), &record)?;
        Ok(Some(record))
    }

    /// Removes a plugin, its versions and the bytes no other version uses;
    /// refused while a source, endpoint or block uses it. Not durable
    /// until [`SledStore::durable`] returns.
    pub fn delete_plugin(&self, name: &Name) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        let users = self.plugin_dependents(name)?;
        if !users.is_empty() {
            return Err(ConfigRefusal::PluginInUse {
                plugin: name.clone(),
                users,
            }
            .into());
        }
        self.writable()?;
        let versions = self.plugin_versions(name)?;
        if self.plugins.remove(name.as_str())?.is_none() {
            return Err(ConfigRefusal::NoPlugin(name.clone()).into());
        }
        for version in &versions {
            self.plugin_versions
                .remove(version_key(name, version.version))?;
        }
        let still_used: std::collections::HashSet<String> = self
            .plugin_versions
            .iter()
            .values()
            .filter_map(|bytes| decode::<PluginVersion>(&self.plugin_versions, &bytes.ok()?).ok())
            .map(|version| version.sha256)
            .collect();
        for version in versions {
            if !still_used.contains(&version.sha256) {
                self.blobs.remove(version.sha256.as_bytes())?;
            }
        }
        Ok(())
    }
}
