//! An in-memory copy of some records that readers on hot paths use instead
//! of the database, replaced whole by each refresh.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::store::StoreError;

/// The latest copy of some records.
pub(super) struct Snapshot<T> {
    current: ArcSwap<T>,
    refreshing: tokio::sync::Mutex<()>,
}

impl<T: Default> Snapshot<T> {
    /// An empty snapshot, until the first refresh.
    pub(super) fn empty() -> Self {
        Snapshot {
            current: ArcSwap::from_pointee(T::default()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> Snapshot<T> {
    /// The copy as of the last refresh.
    pub(super) fn load(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// Replaces the copy with what `read` reads now. Serialised, so a
    /// refresh that read before another change cannot replace the newer
    /// copy that change's refresh made.
    pub(super) async fn refresh(
        &self,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.current.store(Arc::new(read.await?));
        Ok(())
    }
}
