//! Source records by name (unique across tenants: a vendor's URL is
//! `/ingest/{name}`), the in-memory snapshot every ingest request reads its
//! source from, and their writes, each checking under the config lock that
//! the mapper is an uploaded mapper the tenant may use.

use std::collections::HashMap;
use std::sync::Arc;

use super::rows::{encode, record, records};
use super::tenants::settle;
use super::{PgStore, Shared, config, references};
use crate::domain::Name;
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;
use crate::store::{ConfigChange, ConfigRefusal, ConfigWriteError, StoreError};

/// Every source by name, as of the last refresh.
pub(super) type SourcesByName = HashMap<String, Arc<Source>>;

impl PgStore {
    /// A source by name, whoever's, from the snapshot.
    pub fn source(&self, name: &str) -> Option<Arc<Source>> {
        self.shared.sources.load().get(name).cloned()
    }

    /// `tenant`'s source `name`.
    pub fn tenant_source(&self, tenant: &Name, name: &str) -> Option<Arc<Source>> {
        self.source(name).filter(|source| &source.tenant == tenant)
    }

    /// `tenant`'s sources, by name.
    pub async fn sources(&self, tenant: &Name) -> Result<Vec<Source>, StoreError> {
        let mut sources: Vec<Source> = self
            .shared
            .sources
            .load()
            .values()
            .filter(|source| &source.tenant == tenant)
            .map(|source| Source::clone(source))
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(sources)
    }

    /// Stores a new source, refused when its name is taken, its tenant is at
    /// its quota, or its mapper is not an uploaded mapper.
    pub async fn create_source(&self, source: &Source) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                references::count_quota(&tx, &source.tenant, false).await?;
                references::plugin(
                    &tx,
                    &source.tenant,
                    "mapper",
                    &source.mapper,
                    PluginWorld::Mapper,
                )
                .await?;
                self.writable()?;
                let inserted = tx
                    .execute(
                        "INSERT INTO sources (name, tenant, mapper, record) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                        &[
                            &source.name.as_str(),
                            &source.tenant.as_str(),
                            &source.mapper.as_str(),
                            &encode(source)?,
                        ],
                    )
                    .await
                    .map_err(StoreError::from)?;
                if inserted == 0 {
                    return Err(ConfigRefusal::SourceExists(source.name.clone()).into());
                }
                config::commit(tx, ConfigChange::Sources).await?;
                // Back to the pool before the refresh takes one.
                drop(client);
                shared.after_write(ConfigChange::Sources).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }

    /// Changes the source `name` with `change` and stores it, refused when
    /// there is no such source, when `change` refuses, or when the changed
    /// source's mapper is not an uploaded mapper. `change` must not write.
    pub async fn update_source<E>(
        &self,
        tenant: &Name,
        name: &str,
        change: impl FnOnce(&mut Source) -> Result<(), E> + Send,
    ) -> Result<Source, E>
    where
        E: From<ConfigWriteError> + Send,
    {
        let shared = &self.shared;
        let result = async {
            let mut client = shared.client().await?;
            let tx = config::begin(&mut client).await?;
            let row = tx
                .query_opt(
                    "SELECT record FROM sources WHERE name = $1 AND tenant = $2",
                    &[&name, &tenant.as_str()],
                )
                .await
                .map_err(StoreError::from)?
                .ok_or_else(|| ConfigRefusal::NoSource(name.to_owned()))?;
            let mut source: Source = record("a source record", &row, 0)?;
            let mapper = source.mapper.clone();
            if let Err(refused) = change(&mut source) {
                return Ok(Err(refused));
            }
            source.tenant = tenant.clone();
            if source.mapper != mapper {
                references::plugin(&tx, tenant, "mapper", &source.mapper, PluginWorld::Mapper)
                    .await?;
            }
            self.writable()?;
            // The name is the key: a change of name is a new key, the old
            // one removed in the same transaction.
            tx.execute("DELETE FROM sources WHERE name = $1", &[&name])
                .await
                .map_err(StoreError::from)?;
            let inserted = tx
                .execute(
                    "INSERT INTO sources (name, tenant, mapper, record) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[
                        &source.name.as_str(),
                        &source.tenant.as_str(),
                        &source.mapper.as_str(),
                        &encode(&source)?,
                    ],
                )
                .await
                .map_err(StoreError::from)?;
            if inserted == 0 {
                return Err(ConfigRefusal::SourceExists(source.name.clone()).into());
            }
            config::commit(tx, ConfigChange::Sources).await?;
            drop(client);
            shared.after_write(ConfigChange::Sources).await?;
            Ok::<_, ConfigWriteError>(Ok(source))
        }
        .await;
        settle(shared.track(result))
    }

    /// Removes a source; its events stay.
    pub async fn delete_source(&self, tenant: &Name, name: &Name) -> Result<(), ConfigWriteError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = config::begin(&mut client).await?;
                self.writable()?;
                let deleted = tx
                    .execute(
                        "DELETE FROM sources WHERE name = $1 AND tenant = $2",
                        &[&name.as_str(), &tenant.as_str()],
                    )
                    .await
                    .map_err(StoreError::from)?;
                if deleted == 0 {
                    return Err(ConfigRefusal::NoSource(name.to_string()).into());
                }
                config::commit(tx, ConfigChange::Sources).await?;
                drop(client);
                shared.after_write(ConfigChange::Sources).await?;
                Ok::<_, ConfigWriteError>(())
            }
            .await,
        )
    }
}

impl Shared {
    /// Re-reads every source into the snapshot.
    pub(super) async fn refresh_sources(&self) -> Result<(), StoreError> {
        self.sources
            .refresh(async {
                let client = self.client().await?;
                let rows = client.query("SELECT record FROM sources", &[]).await?;
                let sources: Vec<Source> = records("a source record", &rows)?;
                Ok(sources
                    .into_iter()
                    .map(|source| (source.name.as_str().to_owned(), Arc::new(source)))
                    .collect())
            })
            .await
    }
}
