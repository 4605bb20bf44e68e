//! An in-memory copy of a whole tree's records that readers on hot paths
//! use instead of the store, re-read by the tree's writers after each change.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::StoreError;

/// The latest copy of some records, swapped in whole.
pub(super) struct Snapshot<T> {
    current: ArcSwap<T>,
    refreshing: Mutex<()>,
}

impl<T: Default> Snapshot<T> {
    /// An empty snapshot, until the first [`Snapshot::refresh`].
    pub(super) fn empty() -> Self {
        Snapshot {
            current: ArcSwap::from_pointee(T::default()),
            refreshing: Mutex::new(()),
        }
    }
}

impl<T> Snapshot<T> {
    /// The copy as of the last refresh.
    pub(super) fn load(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Replaces the copy with what `read` reads now. Serialised, so a
    /// refresh that read the tree before another change cannot replace the
    /// newer copy that change made.
    pub(super) fn refresh(
        &self,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
        self.current.store(Arc::new(read()?));
        Ok(())
    }
}
