//! Group commit: concurrent writers that need their writes on disk share one
//! `flush()` instead of paying for one each. A writer takes a ticket after
//! its write; a dedicated thread flushes everything written so far and
//! releases every ticket taken before the flush began. Under load one flush
//! covers dozens of requests; alone, a writer waits for one flush as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::StoreError;

/// Progress of the flusher, as tickets.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    flushed: u64,
    /// Every ticket up to this one (and above `flushed` at the time) was in
    /// a flush that failed.
    failed_through: u64,
}

struct Shared {
    /// Tickets handed out.
    requested: AtomicU64,
    /// Set when there is something to flush or the flusher must stop.
    wake: Mutex<Wake>,
    wake_signal: Condvar,
    progress: watch::Sender<Progress>,
}

#[derive(Default)]
struct Wake {
    pending: bool,
    stop: bool,
}

/// The group-commit flusher of one sled database.
pub(crate) struct GroupFlush {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupFlush {
    /// Starts the flusher thread for `db`.
    pub(crate) fn start(db: sled::Db) -> Result<Self, StoreError> {
        let (progress, _) = watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            requested: AtomicU64::new(0),
            wake: Mutex::new(Wake::default()),
            wake_signal: Condvar::new(),
            progress,
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || flush_loop(&db, &thread_shared))
            .map_err(|error| StoreError::Io {
                what: "starting the store's flush thread",
                detail: error.to_string(),
            })?;
        Ok(GroupFlush {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Returns once everything this task wrote before calling is on disk.
    pub(crate) async fn wait(&self) -> Result<(), StoreError> {
        // SeqCst pairs with the flusher's load: a ticket it sees was taken
        // after this task's writes completed.
        let ticket = self.shared.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut progress = self.shared.progress.subscribe();
        {
            let mut wake = self.shared.wake.lock().unwrap_or_else(|p| p.into_inner());
            wake.pending = true;
        }
        self.shared.wake_signal.notify_one();
        let state = progress
            .wait_for(|p| p.flushed >= ticket || p.failed_through >= ticket)
            .await
            .map_err(|_| StoreError::Closed)?;
        if state.flushed >= ticket {
            Ok(())
        } else {
            Err(StoreError::Io {
                what: "flushing the store to disk",
                detail: "the flush failed; see the server log".into(),
            })
        }
    }

    /// Stops the thread after a last flush of what it was asked for.
    pub(crate) fn stop(&self) {
        {
            let mut wake = self.shared.wake.lock().unwrap_or_else(|p| p.into_inner());
            wake.stop = true;
        }
        self.shared.wake_signal.notify_one();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for GroupFlush {
    fn drop(&mut self) {
        self.stop();
    }
}

fn flush_loop(db: &sled::Db, shared: &Shared) {
    let mut done = 0u64;
    loop {
        let stopping = {
            let mut wake = shared.wake.lock().unwrap_or_else(|p| p.into_inner());
            while !wake.pending && !wake.stop {
                wake = shared
                    .wake_signal
                    .wait(wake)
                    .unwrap_or_else(|p| p.into_inner());
            }
            wake.pending = false;
            wake.stop
        };
        let target = shared.requested.load(Ordering::SeqCst);
        if target > done {
            match db.flush() {
                Ok(_) => shared.progress.send_modify(|p| p.flushed = target),
                Err(error) => {
                    tracing::error!(%error, "store flush failed");
                    shared.progress.send_modify(|p| p.failed_through = target);
                }
            }
            done = target;
        }
        if stopping {
            return;
        }
    }
}
