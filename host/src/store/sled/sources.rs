//! Source records, by name, the in-memory snapshot of all of them that
//! every ingest request reads its source from, and their writes: each
//! checks, under the config lock, that the source's mapper is an uploaded
//! mapper plugin. Names are unique across tenants (a vendor's URL is
//! `/ingest/{name}`); the source's tenant owns its events.

use std::collections::HashMap;
use std::sync::Arc;

use super::codec;
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;
use crate::store::{ConfigRefusal, ConfigWriteError};

/// Every source by name, as of the last change.
pub(super) type SourcesByName = HashMap<String, Arc<Source>>;

impl SledStore {
    /// A source by name, whoever's, from the snapshot: no store read, no
    /// decoding (what ingest reads).
    pub fn source(&self, name: &str) -> Option<Arc<Source>> {
        self.source_snapshot.load().get(name).cloned()
    }

    /// `tenant`'s source `name`.
    pub fn tenant_source(&self, tenant: &Name, name: &str) -> Option<Arc<Source>> {
        self.source(name).filter(|source| &source.tenant == tenant)
    }

    /// `tenant`'s sources, by name.
    pub fn sources(&self, tenant: &Name) -> Result<Vec<Source>, StoreError> {
        let mut sources: Vec<Source> = self
            .source_snapshot
            .load()
            .values()
            .filter(|source| &source.tenant == tenant)
            .map(|source| Source::clone(source))
            .collect();
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(sources)
    }

    /// Every tenant's sources, by name.
    pub fn all_sources(&self) -> Result<Vec<Source>, StoreError> {
        codec::all(&self.sources)
    }

    /// Stores a new source, refused when its name is taken or its mapper
    /// is not an uploaded mapper. Not durable until [`SledStore::durable`]
    /// returns.
    pub fn create_source(&self, source: &Source) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_count_quota(&source.tenant, false)?;
        self.check_plugin_reference(
            &source.tenant,
            "mapper",
            &source.mapper,
            PluginWorld::Mapper,
        )?;
        self.writable()?;
        let value = codec::encode(source)?;
        let swapped = self.sources.compare_and_swap(
            source.name.as_str(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        self.refresh_source_snapshot()?;
        match swapped {
            Ok(()) => Ok(()),
            Err(_) => Err(ConfigRefusal::SourceExists(source.name.clone()).into()),
        }
    }

    /// Changes the source `name` with `change` and stores it, refused
    /// when there is no such source, when `change` refuses, or when the
    /// changed source's mapper is not an uploaded mapper. Returns the
    /// source as stored. Not durable until [`SledStore::durable`] returns.
    /// `change` runs under the config lock: it must not write.
    pub fn update_source<E>(
        &self,
        tenant: &Name,
        name: &str,
        change: impl FnOnce(&mut Source) -> Result<(), E>,
    ) -> Result<Source, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut source = self
            .tenant_source(tenant, name)
            .map(|source| Source::clone(&source))
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoSource(name.to_owned())))?;
        let mapper = source.mapper.clone();
        change(&mut source)?;
        source.tenant = tenant.clone();
        if source.mapper != mapper {
            self.check_plugin_reference(
                &source.tenant,
                "mapper",
                &source.mapper,
                PluginWorld::Mapper,
            )?;
        }
        self.put_source(&source).map_err(ConfigWriteError::from)?;
        Ok(source)
    }

    /// Removes a source; its events stay. Not durable until
    /// [`SledStore::durable`] returns.
    pub fn delete_source(&self, tenant: &Name, name: &Name) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        if self.tenant_source(tenant, name.as_str()).is_none() {
            return Err(ConfigRefusal::NoSource(name.to_string()).into());
        }
        self.writable()?;
        self.sources.remove(name.as_str())?;
        self.refresh_source_snapshot()
            .map_err(ConfigWriteError::from)
    }

    fn put_source(&self, source: &Source) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.sources, source.name.as_str(), source)?;
        self.refresh_source_snapshot()
    }

    /// Re-reads every source into the snapshot.
    pub(super) fn refresh_source_snapshot(&self) -> Result<(), StoreError> {
        self.source_snapshot.refresh(|| {
            let sources: Vec<Source> = codec::all(&self.sources)?;
            Ok(sources
                .into_iter()
                .map(|source| (source.name.as_str().to_owned(), Arc::new(source)))
                .collect())
        })
    }
}
