//! Source records, by name, and the in-memory snapshot of all of them that
//! every ingest request reads its source from.

use std::collections::HashMap;
use std::sync::Arc;

use super::codec;
use super::{Store, StoreError};
use crate::domain::Name;
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

    /// Stores a new source; `false` when the name is taken.
    pub fn create_source(&self, source: &Source) -> Result<bool, StoreError> {
        self.writable()?;
        let value = codec::encode(source)?;
        let swapped = self.sources.compare_and_swap(
            source.name.as_str(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        self.refresh_source_snapshot()?;
        Ok(swapped.is_ok())
    }

    /// Replaces a source's record.
    pub fn put_source(&self, source: &Source) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.sources, source.name.as_str(), source)?;
        self.refresh_source_snapshot()
    }

    /// Removes a source; `false` when there was none.
    pub fn delete_source(&self, name: &Name) -> Result<bool, StoreError> {
        self.writable()?;
        let removed = self.sources.remove(name.as_str())?.is_some();
        self.refresh_source_snapshot()?;
        Ok(removed)
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

    /// The sources whose mapper is `plugin`.
    pub fn sources_using(&self, plugin: &Name) -> Result<Vec<Name>, StoreError> {
        Ok(self
            .sources()?
            .into_iter()
            .filter(|source| &source.mapper == plugin)
            .map(|source| source.name)
            .collect())
    }
}
