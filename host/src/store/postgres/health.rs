//! Whether the database answers: set by any operation that failed for the
//! connection's or the server's reasons, cleared by the next that succeeds,
//! and probed in the background while set, so the store recovers without
//! traffic. While set, writes are refused (the API answers 503, never 202).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::store::{AddVersionError, ConfigWriteError, StoreError};

/// How often the probe tries a database that failed.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The last connection-class failure, if the database has not answered
/// since.
#[derive(Default)]
pub(super) struct Health {
    problem: Mutex<Option<String>>,
    /// When an operation last succeeded, epoch ms.
    last_success_ms: AtomicU64,
}

impl Health {
    /// Why the database is taken as unreachable, if it is.
    pub(super) fn problem(&self) -> Option<String> {
        self.problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn failed(&self, error: &StoreError) {
        let mut problem = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        if problem.is_none() {
            tracing::warn!(%error, "store: the database does not answer; refusing writes");
        }
        *problem = Some(format!("the database does not answer: {error}"));
    }

    /// Whether an operation succeeded within `window` and none failed
    /// since: the database answers, no need to ask it.
    pub(super) fn answered_within(&self, window: Duration) -> bool {
        let last = self.last_success_ms.load(Ordering::Relaxed);
        self.problem().is_none()
            && crate::ids::now_ms().saturating_sub(last) < window.as_millis() as u64
    }

    pub(super) fn succeeded(&self) {
        self.last_success_ms
            .store(crate::ids::now_ms(), Ordering::Relaxed);
        let mut problem = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        if problem.take().is_some() {
            tracing::info!("store: the database answers again; taking writes");
        }
    }
}

/// An error that may be the store's: what [`Shared::track`] looks at.
pub(super) trait Tracked {
    fn store_error(&self) -> Option<&StoreError>;
}

impl Tracked for StoreError {
    fn store_error(&self) -> Option<&StoreError> {
        Some(self)
    }
}

impl Tracked for ConfigWriteError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ConfigWriteError::Store(error) => Some(error),
            ConfigWriteError::Refused(_) => None,
        }
    }
}

impl Tracked for AddVersionError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            AddVersionError::Store(error) => Some(error),
            _ => None,
        }
    }
}

/// Probes the database while it is taken as unreachable, until `stop`.
pub(super) async fn probe(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
        if shared.health.problem().is_some() {
            // An answer clears the problem.
            shared.ping(PROBE_EVERY).await;
        }
    }
}
