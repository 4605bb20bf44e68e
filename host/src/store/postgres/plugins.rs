//! Plugin records, their immutable versions and the component bytes
//! (stored once per content hash). Every write runs under the config lock
//! and notifies the other nodes, whose registries reload what changed. A
//! plugin that sources, endpoints or blocks use is not deleted.

use super::rows::{encode, record, records};
use super::{PgStore, config, references};
use crate::domain::Name;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginVersion};
use crate::runtime::LimitsOverride;
use crate::store::{
    AddVersionError, AddedVersion, ConfigChange, ConfigRefusal, ConfigWriteError, NewVersion,
    StoreError, Uploader,
};

impl PgStore {
    /// A plugin's record.
    pub async fn plugin(&self, name: &Name) -> Result<Option<PluginRecord>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT record FROM plugins WHERE name = $1",
                        &[&name.as_str()],
                    )
                    .await?;
                row.map(|row| record("a plugin record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// Every plugin, by name.
    pub async fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query("SELECT record FROM plugins ORDER BY name", &[])
                    .await?;
                records("a plugin record", &rows)
            }
            .await,
        )
    }

    /// A plugin's versions, oldest first.
    pub async fn plugin_versions(&self, name: &Name) -> Result<Vec<PluginVersion>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM plugin_versions WHERE name = $1 ORDER BY version",
                        &[&name.as_str()],
                    )
                    .await?;
                records("a plugin version record", &rows)
            }
            .await,
        )
    }

    /// The component bytes of a version.
    pub async fn plugin_bytes(
        &self,
        name: &Name,
        version: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT b.bytes FROM plugin_versions v
                         JOIN plugin_blobs b ON b.sha256 = v.sha256
                         WHERE v.name = $1 AND v.version = $2",
                        &[&name.as_str(), &version_number(version)],
                    )
                    .await?;
                Ok(row.map(|row| row.try_get::<_, Vec<u8>>(0)).transpose()?)
            }
            .await,
        )
    }

    /// Adds the next version of `name` (creating the plugin on its first
    /// upload), in one transaction with its bytes and record.
    pub async fn add_plugin_version(
        &self,
        name: &Name,
        new: NewVersion<'_>,
    ) -> Result<AddedVersion, AddVersionError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let current: Option<PluginRecord> = tx
                    .query_opt("SELECT record FROM plugins WHERE name = $1", &[&name.as_str()])
                    .await
                    .map_err(StoreError::from)?
                    .map(|row| record("a plugin record", &row, 0))
                    .transpose()?;
                if let Some(existing) = &current {
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
                    // The same bytes again (a repeated push; nodes starting at
                    // once installing the same bundled plugin): that version.
                    let identical = tx
                        .query_opt(
                            "SELECT record FROM plugin_versions WHERE name = $1 AND sha256 = $2
                             ORDER BY version DESC LIMIT 1",
                            &[&name.as_str(), &new.sha256],
                        )
                        .await
                        .map_err(StoreError::from)?
                        .map(|row| record::<PluginVersion>("a plugin version record", &row, 0))
                        .transpose()?;
                    if let Some(version) = identical {
                        let record = if new.activate && existing.active_version != version.version {
                            let record = PluginRecord {
                                active_version: version.version,
                                updated_at: new.now_ms,
                                ..existing.clone()
                            };
                            put(&tx, &record).await?;
                            config::commit(tx, ConfigChange::Plugins).await?;
                            record
                        } else {
                            existing.clone()
                        };
                        return Ok(AddedVersion {
                            record,
                            version,
                            created: false,
                        });
                    }
                }
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
                tx.execute(
                    "INSERT INTO plugin_blobs (sha256, bytes) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&new.sha256, &new.bytes],
                )
                .await
                .map_err(StoreError::from)?;
                tx.execute(
                    "INSERT INTO plugin_versions (name, version, sha256, record) VALUES ($1, $2, $3, $4)",
                    &[
                        &name.as_str(),
                        &version_number(number),
                        &new.sha256,
                        &encode(&version)?,
                    ],
                )
                .await
                .map_err(StoreError::from)?;
                put(&tx, &record).await?;
                config::commit(tx, ConfigChange::Plugins).await?;
                Ok(AddedVersion {
                    record,
                    version,
                    created: true,
                })
            }
            .await,
        )
    }

    /// Makes `version` the active one. `None` when the plugin or version
    /// does not exist.
    pub async fn activate_plugin(
        &self,
        name: &Name,
        version: u32,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError> {
        self.change_plugin(name, now_ms, Some(version), |record| PluginRecord {
            active_version: version,
            ..record
        })
        .await
    }

    /// Replaces a plugin's allowed hosts and/or limits (`None` keeps what is
    /// set). `None` when there is no such plugin.
    pub async fn set_plugin_settings(
        &self,
        name: &Name,
        allowed_hosts: Option<Vec<HostPattern>>,
        limits: Option<LimitsOverride>,
        now_ms: u64,
    ) -> Result<Option<PluginRecord>, StoreError> {
        self.change_plugin(name, now_ms, None, |record| PluginRecord {
            allowed_hosts: allowed_hosts.unwrap_or(record.allowed_hosts),
            limits: limits.unwrap_or(record.limits),
            ..record
        })
        .await
    }

    /// Changes plugin `name`'s record with `change` under the config lock;
    /// `None` when there is no such plugin (or no such `version`).
    async fn change_plugin(
        &self,
        name: &Name,
        now_ms: u64,
        version: Option<u32>,
        change: impl FnOnce(PluginRecord) -> PluginRecord + Send,
    ) -> Result<Option<PluginRecord>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let Some(row) = tx
                    .query_opt(
                        "SELECT record FROM plugins WHERE name = $1",
                        &[&name.as_str()],
                    )
                    .await?
                else {
                    return Ok(None);
                };
                if let Some(version) = version {
                    let known = tx
                        .query_opt(
                            "SELECT 1 FROM plugin_versions WHERE name = $1 AND version = $2",
                            &[&name.as_str(), &version_number(version)],
                        )
                        .await?;
                    if known.is_none() {
                        return Ok(None);
                    }
                }
                let record = PluginRecord {
                    updated_at: now_ms,
                    ..change(record("a plugin record", &row, 0)?)
                };
                put(&tx, &record).await?;
                config::commit(tx, ConfigChange::Plugins).await?;
                Ok(Some(record))
            }
            .await,
        )
    }

    /// Removes a plugin, its versions and the bytes no other version uses;
    /// refused while a source, endpoint or block uses it.
    pub async fn delete_plugin(&self, name: &Name) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                let users = references::plugin_dependents(&tx, name).await?;
                if !users.is_empty() {
                    return Err(ConfigRefusal::PluginInUse {
                        plugin: name.clone(),
                        users,
                    }
                    .into());
                }
                self.writable()?;
                let deleted = tx
                    .execute("DELETE FROM plugins WHERE name = $1", &[&name.as_str()])
                    .await
                    .map_err(StoreError::from)?;
                if deleted == 0 {
                    return Err(ConfigRefusal::NoPlugin(name.clone()).into());
                }
                tx.execute(
                    "WITH gone AS (DELETE FROM plugin_versions WHERE name = $1 RETURNING sha256)
                     DELETE FROM plugin_blobs b WHERE b.sha256 IN (SELECT sha256 FROM gone)
                         AND NOT EXISTS (SELECT 1 FROM plugin_versions v
                                         WHERE v.sha256 = b.sha256 AND v.name <> $1)",
                    &[&name.as_str()],
                )
                .await
                .map_err(StoreError::from)?;
                config::commit(tx, ConfigChange::Plugins).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }
}

/// A version number as Postgres' integer.
pub(super) fn version_number(version: u32) -> i32 {
    i32::try_from(version).unwrap_or(i32::MAX)
}

/// Inserts or replaces a plugin's record.
pub(super) async fn put(
    tx: &tokio_postgres::Transaction<'_>,
    record: &PluginRecord,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO plugins (name, owner, world, record) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, world = EXCLUDED.world,
             record = EXCLUDED.record",
        &[
            &record.name.as_str(),
            &record.owner.as_ref().map(Name::as_str),
            &record.world.as_str(),
            &encode(record)?,
        ],
    )
    .await?;
    Ok(())
}
