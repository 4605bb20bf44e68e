//! What went wrong in the store, whichever backend runs, and whether it is
//! the disk's or the database's doing (retry later) or a bug or bad data.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption it detected).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be decoded.
    #[error("store: {what} could not be decoded: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// Something outside sled's calls failed.
    #[error("store: {what}: {detail}")]
    Io {
        /// What the store was doing.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// The store is shutting down.
    #[error("store: closed")]
    Closed,
    /// Writes are refused for now (low disk space, a failed write).
    #[error("store: not taking writes: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// Whether this is the disk's or the filesystem's doing (full, failing,
    /// read-only) rather than a bug or bad data: retrying later may work.
    pub fn is_io(&self) -> bool {
        matches!(
            self,
            StoreError::Sled(sled::Error::Io(_))
                | StoreError::Io { .. }
                | StoreError::Unavailable { .. }
        )
    }
}
