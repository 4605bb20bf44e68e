//! What one connection is doing, as its timeouts and the connection cap see
//! it: whether a request is in flight, since when it has been idle, and
//! since when a request's head has been arriving. The socket wrapper and
//! the request hooks keep it up to date; the connection's task reads it.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// No head arriving.
const NONE: u64 = u64::MAX;

/// One connection's state, shared by its socket, its requests and its task.
pub(super) struct Activity {
    /// When the connection was accepted; the times below count from here.
    epoch: Instant,
    /// Requests dispatched whose response has not been written in full.
    in_flight: AtomicU32,
    /// Since when no request has been in flight, ms after `epoch`.
    idle_since: AtomicU64,
    /// Since when the next request's head has been arriving (bytes read
    /// while idle), ms after `epoch`; [`NONE`] when none is.
    head_since: AtomicU64,
    /// Woken when any of the above changes the connection's deadline.
    changed: Notify,
}

/// What the connection's task should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// A request is in flight: its body has its own deadline.
    Nothing,
    /// Close unless something changes before this instant.
    CloseAt(Instant, Reason),
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// It sent nothing for the idle timeout.
    Idle,
    /// A request's head took longer than the header timeout.
    SlowHeaders,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Activity {
            epoch: Instant::now(),
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            changed: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Bytes arrived: with no request in flight they start the next head.
    fn read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_since
                .compare_exchange(NONE, self.now_ms(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    /// A request was dispatched; the guard marks its response written.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
        self.changed.notify_one();
        InFlight(Arc::clone(self))
    }

    /// Whether no request is in flight.
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Since when the connection has been idle (for choosing which idle
    /// connection to close first).
    fn idle_since(&self) -> u64 {
        self.idle_since.load(Ordering::Acquire)
    }

    /// The connection's next deadline under `header` and `idle` timeouts.
    pub(super) fn due(&self, header: Duration, idle: Duration) -> Due {
        if !self.is_idle() {
            return Due::Nothing;
        }
        let at = |ms: u64, timeout: Duration| self.epoch + Duration::from_millis(ms) + timeout;
        match self.head_since.load(Ordering::Acquire) {
            NONE => Due::CloseAt(at(self.idle_since(), idle), Reason::Idle),
            since => Due::CloseAt(at(since, header), Reason::SlowHeaders),
        }
    }

    /// Resolves when the deadline may have moved.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A request in flight; dropped once its response is written (or dropped).
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .idle_since
            .store(activity.now_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
        activity.changed.notify_one();
    }
}

/// A client socket that tells its [`Activity`] when bytes arrive.
pub(super) struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    pub(super) fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Watched { stream, activity }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The open connections, so that at the cap the one idle longest can be
/// closed to make room.
#[derive(Default)]
pub(super) struct Open {
    next: AtomicU64,
    connections: Mutex<HashMap<u64, (Arc<Activity>, CancellationToken)>>,
}

impl Open {
    /// Registers a connection; its token is cancelled if it is evicted.
    pub(super) fn insert(&self, activity: Arc<Activity>) -> (u64, CancellationToken) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evict = CancellationToken::new();
        self.lock().insert(id, (activity, evict.clone()));
        (id, evict)
    }

    /// Forgets a closed connection.
    pub(super) fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Asks the connection idle longest (no request in flight, oldest
    /// last response) to close; false when every connection is busy.
    pub(super) fn evict_oldest_idle(&self) -> bool {
        let connections = self.lock();
        let oldest = connections
            .values()
            .filter(|(activity, evict)| activity.is_idle() && !evict.is_cancelled())
            .min_by_key(|(activity, _)| {
                activity.epoch + Duration::from_millis(activity.idle_since())
            });
        match oldest {
            Some((_, evict)) => {
                evict.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Arc<Activity>, CancellationToken)>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }
}
