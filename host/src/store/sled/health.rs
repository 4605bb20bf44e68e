//! Whether the store can take writes, and why not. Two things stop it: too
//! little free space on its filesystem (below `min_free_disk_bytes`,
//! checked before every batch of ingested events and twice a second by a
//! watcher thread), and a write that failed. Writes are refused while
//! either holds, so a client is told 503 instead of being promised what
//! was not stored; they resume by themselves once space is back, or once a
//! write (the watcher's probe, when no traffic writes) succeeds again.
//!
//! Refusing before the disk is full is what makes the recovery real:
//! sled 0.34 never recovers in-process from a failed write. An I/O error
//! poisons the database handle until it is reopened, and a failed blob
//! write leaves its log buffer unwritable, so every later flush (and the
//! flush sled does when its last handle drops) waits forever. A store that
//! gets there reports that it needs a restart (`/healthz` fails) and no
//! flush of it is waited for without a deadline.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::StoreError;

/// The longest a flush of the store is waited for before the store is
/// taken as stuck (see the module doc).
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(30);

/// How often the watcher checks free space (and probes a failed store).
pub(super) const WATCH_EVERY: Duration = Duration::from_millis(500);

/// What stops writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    /// Free space is below the floor.
    LowSpace { free: u64, floor: u64 },
    /// A write failed; writes resume once one succeeds.
    WriteFailed { detail: String, since: Instant },
    /// A flush did not return within [`FLUSH_DEADLINE`]: only a restart
    /// helps.
    Stuck { detail: String },
}

/// The store's write health; shared by the store, its commit thread and
/// its watcher.
#[derive(Debug)]
pub struct Health {
    dir: PathBuf,
    floor: u64,
    problem: Mutex<Option<Problem>>,
}

impl Health {
    /// Health of a store in `dir` that needs `floor` bytes free to write.
    pub(super) fn new(dir: &Path, floor: u64) -> Self {
        Health {
            dir: dir.to_owned(),
            floor,
            problem: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Problem>> {
        self.problem.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ok when writes are taken; otherwise the error that refuses them.
    pub fn writable(&self) -> Result<(), StoreError> {
        match &*self.lock() {
            None => Ok(()),
            Some(problem) => Err(StoreError::Unavailable {
                reason: describe(problem),
            }),
        }
    }

    /// Checks free space now: refuses writes below the floor, lets them
    /// resume above it (unless something else still stops them).
    pub fn check_space(&self) -> Result<(), StoreError> {
        match free_bytes(&self.dir) {
            Ok(free) if free < self.floor => {
                let mut problem = self.lock();
                if !matches!(
                    &*problem,
                    Some(Problem::WriteFailed { .. } | Problem::Stuck { .. })
                ) {
                    if problem.is_none() {
                        tracing::warn!(
                            free,
                            floor = self.floor,
                            dir = %self.dir.display(),
                            "store: free space below min_free_disk_bytes; refusing writes"
                        );
                    }
                    *problem = Some(Problem::LowSpace {
                        free,
                        floor: self.floor,
                    });
                }
            }
            Ok(_) => {
                let mut problem = self.lock();
                if matches!(&*problem, Some(Problem::LowSpace { .. })) {
                    tracing::info!(dir = %self.dir.display(), "store: free space is back; taking writes");
                    *problem = None;
                }
            }
            // Free space unknown (e.g. an unusual filesystem): writes go on
            // and a failure would show as a failed write.
            Err(error) => tracing::debug!(%error, "store: cannot read free space"),
        }
        self.writable()
    }

    /// A write failed: refuse writes until one succeeds.
    pub(super) fn write_failed(&self, error: &StoreError) {
        let mut problem = self.lock();
        if matches!(&*problem, Some(Problem::Stuck { .. })) {
            return;
        }
        if !matches!(&*problem, Some(Problem::WriteFailed { .. })) {
            tracing::error!(%error, "store: a write failed; refusing writes until one succeeds");
            *problem = Some(Problem::WriteFailed {
                detail: error.to_string(),
                since: Instant::now(),
            });
        }
    }

    /// A write (and its flush) succeeded.
    pub(super) fn write_succeeded(&self) {
        let mut problem = self.lock();
        if matches!(&*problem, Some(Problem::WriteFailed { .. })) {
            tracing::info!("store: writes succeed again");
            *problem = None;
        }
    }

    /// A flush did not return in time.
    pub(super) fn stuck(&self, what: &str) {
        let detail = format!(
            "{what} did not finish within {} s; the store needs a restart",
            FLUSH_DEADLINE.as_secs()
        );
        tracing::error!("store: {detail}");
        *self.lock() = Some(Problem::Stuck { detail });
    }

    /// Whether a write failed (and none succeeded since).
    pub(super) fn has_failed_write(&self) -> bool {
        matches!(&*self.lock(), Some(Problem::WriteFailed { .. }))
    }

    /// Whether anything went wrong that could leave sled unable to flush.
    pub(super) fn is_clean(&self) -> bool {
        !matches!(
            &*self.lock(),
            Some(Problem::WriteFailed { .. } | Problem::Stuck { .. })
        )
    }

    /// Why writes are refused, if they are (for `/readyz`).
    pub fn problem(&self) -> Option<String> {
        self.lock().as_ref().map(describe)
    }

    /// Why only a restart can make the store write again, if so (for
    /// `/healthz`): a flush that never returned, or writes still failing a
    /// minute after the first while there is space.
    pub fn needs_restart(&self) -> Option<String> {
        match &*self.lock() {
            Some(Problem::Stuck { detail }) => Some(detail.clone()),
            Some(Problem::WriteFailed { detail, since })
                if since.elapsed() > Duration::from_secs(60)
                    && free_bytes(&self.dir).is_ok_and(|free| free >= self.floor) =>
            {
                Some(format!(
                    "writes have failed for {} s despite free space ({detail}); the store needs a restart",
                    since.elapsed().as_secs()
                ))
            }
            _ => None,
        }
    }
}

fn describe(problem: &Problem) -> String {
    match problem {
        Problem::LowSpace { free, floor } => format!(
            "only {free} bytes free on the store's filesystem, below min_free_disk_bytes ({floor})"
        ),
        Problem::WriteFailed { detail, .. } => format!("a write failed: {detail}"),
        Problem::Stuck { detail } => detail.clone(),
    }
}

/// Bytes free to an unprivileged writer on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(dir)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Err(std::io::Error::other("free space is only read on unix"))
    }
}

/// Runs `work` (a sled flush) on its own thread and waits at most
/// [`FLUSH_DEADLINE`]: a flush that never returns (see the module doc) is
/// left behind and reported as stuck instead of hanging its caller.
pub(super) fn within_deadline<T: Send + 'static>(
    health: &Health,
    what: &'static str,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("store-flush".into())
        .spawn(move || {
            let _ = done.send(work());
        })
        .map_err(|error| StoreError::Io {
            what,
            detail: error.to_string(),
        })?;
    match answer.recv_timeout(FLUSH_DEADLINE) {
        Ok(result) => result,
        Err(_) => {
            health.stuck(what);
            Err(StoreError::Io {
                what,
                detail: format!("no answer within {} s", FLUSH_DEADLINE.as_secs()),
            })
        }
    }
}
