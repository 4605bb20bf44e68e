//! Accepting and serving client connections (HTTP/1.1, hyper under the
//! axum router), with the limits `axum::serve` lacks:
//!
//! - a request's head must arrive within the header timeout once it starts
//!   (slowloris), its body within the body timeout (answered 408), and a
//!   connection with no request in flight that sends nothing is closed
//!   after the idle timeout;
//! - at most `max_connections` are open, below the descriptor limit. At the
//!   cap the connection idle longest is closed to make room, so idle or
//!   half-sent connections can never lock out a callback or `/healthz`; only
//!   when every connection has a request in flight do new ones wait (in the
//!   kernel's backlog, taking no descriptor) for one to finish.
//!
//! On shutdown the listener closes, idle connections close at once, and the
//! requests in flight get [`SHUTDOWN_GRACE`] to finish.

mod activity;
pub mod body;
pub mod fd_limit;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use activity::{Activity, Due, Open, Reason, Watched};
use body::{DeadlineBody, Tracked};

/// How long requests in flight may still run after shutdown begins; the
/// connections left then are closed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The limits of client connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// A request's head must arrive within this of its first byte.
    pub header_timeout: Duration,
    /// A request's body must arrive within this of its head.
    pub body_timeout: Duration,
    /// A connection with no request in flight is closed after this long
    /// without a byte.
    pub idle_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets
/// the requests in flight finish (at most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let open = Arc::new(Open::default());
    let connections = TaskTracker::new();
    let force_close = CancellationToken::new();
    loop {
        let Some(slot) = take_slot(&slots, &open, &shutdown).await else {
            break;
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let connection = Connection {
            router: router.clone(),
            limits,
            open: Arc::clone(&open),
            shutdown: shutdown.clone(),
            force_close: force_close.clone(),
        };
        connections.spawn(connection.run(stream, slot));
    }
    // New connections are refused from here on.
    drop(listener);
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "requests still in flight after the shutdown grace; closing their connections"
        );
        force_close.cancel();
        connections.wait().await;
    }
}

/// A free connection slot; at the cap, closes the connection idle longest
/// and waits for its slot (or any). `None` once shutdown begins.
async fn take_slot(
    slots: &Arc<Semaphore>,
    open: &Open,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
        return Some(slot);
    }
    if !open.evict_oldest_idle() {
        tracing::debug!("connection cap reached with every connection busy; waiting");
    }
    tokio::select! {
        slot = Arc::clone(slots).acquire_owned() => slot.ok(),
        () = shutdown.cancelled() => None,
    }
}

/// An accept error: per-connection ones (the client gave up) are skipped;
/// others (e.g. out of descriptors) are logged and retried after a pause
/// rather than spinning.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// What a connection's task needs.
struct Connection {
    router: Router,
    limits: Limits,
    open: Arc<Open>,
    shutdown: CancellationToken,
    force_close: CancellationToken,
}

impl Connection {
    /// Serves one connection until it ends, times out, is evicted, or the
    /// server stops; `slot` is its place under the cap.
    async fn run(self, stream: TcpStream, slot: OwnedSemaphorePermit) {
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let (id, evicted) = self.open.insert(Arc::clone(&activity));
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let service = {
            let activity = Arc::clone(&activity);
            let router = self.router;
            let body_timeout = self.limits.body_timeout;
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_flight = activity.request_started();
                let request = request.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
                let response = router.clone().oneshot(request);
                async move {
                    let response = response.await?;
                    Ok::<_, Infallible>(
                        response.map(|body| Body::new(Tracked::new(body, in_flight))),
                    )
                }
            })
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            // The header timeout is ours (see `activity`): hyper's would also
            // run while a kept-alive connection waits for its next request.
            .header_read_timeout(None)
            .serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            let due = activity.due(self.limits.header_timeout, self.limits.idle_timeout);
            let sleep = async {
                match due {
                    Due::CloseAt(at, _) => tokio::time::sleep_until(at).await,
                    Due::Nothing => std::future::pending().await,
                }
            };
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    break;
                }
                () = sleep => {
                    // Only if nothing moved the deadline meanwhile.
                    if let Due::CloseAt(at, reason) =
                        activity.due(self.limits.header_timeout, self.limits.idle_timeout)
                        && at <= tokio::time::Instant::now()
                    {
                        match reason {
                            Reason::Idle => tracing::trace!("closing an idle connection"),
                            Reason::SlowHeaders => {
                                tracing::debug!("closing a connection whose request head is too slow");
                            }
                        }
                        break;
                    }
                }
                () = activity.changed() => {}
                () = evicted.cancelled(), if !stopping => {
                    // Chosen while idle; a request that started since then
                    // is let finish, and the connection closes after it.
                    if activity.is_idle() {
                        break;
                    }
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = self.shutdown.cancelled(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = self.force_close.cancelled() => break,
            }
        }
        self.open.remove(id);
        drop(slot);
    }
}
