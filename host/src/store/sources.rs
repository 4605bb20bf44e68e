//! Source records, by name.

use super::codec;
use super::{Store, StoreError};
use crate::domain::Name;
use crate::domain::source::Source;

impl Store {
    /// A source by name.
    pub fn source(&self, name: &str) -> Result<Option<Source>, StoreError> {
        codec::get(&self.sources, name)
    }

    /// Every source, by name.
    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        codec::all(&self.sources)
    }

    /// Stores a new source; `false` when the name is taken.
    pub fn create_source(&self, source: &Source) -> Result<bool, StoreError> {
        let value = codec::encode(source)?;
        let swapped = self.sources.compare_and_swap(
            source.name.as_str(),
            None as Option<&[u8]>,
            Some(value),
        )?;
        Ok(swapped.is_ok())
    }

    /// Replaces a source's record.
    pub fn put_source(&self, source: &Source) -> Result<(), StoreError> {
        codec::put(&self.sources, source.name.as_str(), source)
    }

    /// Removes a source; `false` when there was none.
    pub fn delete_source(&self, name: &Name) -> Result<bool, StoreError> {
        Ok(self.sources.remove(name.as_str())?.is_some())
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
