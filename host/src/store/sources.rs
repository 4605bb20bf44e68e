//! Source records, by name, the in-memory snapshot of all of them that
//! every ingest request reads its source from, and their writes: each
//! checks, under the config lock, that the source's mapper is an uploaded
//! mapper plugin.

use std::collections::HashMap;
use std::sync::Arc;

use super::codec;
use super::integrity::{ConfigRefusal, ConfigWriteError};
use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::plugin::PluginWorld;
use crate::domain::source::Source;

/// Every source by name, as of the last change.
pub(super) type SourcesByName = HashMap<String, Arc<Source>>;

impl Store {
    /// A source by name, from the snapshot: no store read, no decoding.
    pub fn source(&self, name: &str) -> Option<Arc<Source>> {
        self.source_snapshot.load().get(name).cloned()
    }

    /// Every source, by name.
    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        codec::all(&self.sources)
    }

    /// Stores a new source, refused when its name is taken or its mapper
    /// is not an uploaded mapper. Not durable until [`Store::durable`]
    /// returns.
    pub fn create_source(&self, source: &Source) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.check_plugin_reference("mapper", &source.mapper, PluginWorld::Mapper)?;
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
    /// source as stored. Not durable until [`Store::durable`] returns.
    /// `change` runs under the config lock: it must not write.
    pub fn update_source<E>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Source) -> Result<(), E>,
    ) -> Result<Source, E>
    where
        E: From<ConfigWriteError>,
    {
        let _guard = self.config_lock();
        let mut source = self
            .source(name)
            .map(|source| Source::clone(&source))
            .ok_or_else(|| ConfigWriteError::from(ConfigRefusal::NoSource(name.to_owned())))?;
        let mapper = source.mapper.clone();
        change(&mut source)?;
        if source.mapper != mapper {
            self.check_plugin_reference("mapper", &source.mapper, PluginWorld::Mapper)?;
        }
        self.put_source(&source).map_err(ConfigWriteError::from)?;
        Ok(source)
    }

    /// Removes a source; its events stay. Not durable until
    /// [`Store::durable`] returns.
    pub fn delete_source(&self, name: &Name) -> Result<(), ConfigWriteError> {
        let _guard = self.config_lock();
        self.writable()?;
        let removed = self.sources.remove(name.as_str())?.is_some();
        self.refresh_source_snapshot()?;
        if removed {
            Ok(())
        } else {
            Err(ConfigRefusal::NoSource(name.to_string()).into())
        }
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
