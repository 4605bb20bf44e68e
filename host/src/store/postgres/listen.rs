//! How a node learns of other nodes' writes. New deliveries: a commit that
//! stores some notifies [`DUE_CHANNEL`], and the listener wakes this node's
//! delivery engine (without it an idle node would find them only at its
//! next poll). Configuration: a task on its
//! own connection runs `LISTEN wasmhook_config`, and on each notification
//! (or every few seconds, as a safety net for a notification lost with a
//! connection) compares the kinds' versions in `config_versions` with what
//! it last saw, refreshes the snapshots of those that changed and announces
//! them on [`Shared::changes`]. A lost connection is reopened with backoff,
//! and everything is compared again once it is.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::config::CHANNEL;
use crate::store::{ConfigChange, StoreError};

/// The channel a commit that stored deliveries notifies.
pub(super) const DUE_CHANNEL: &str = "wasmhook_due";

/// How often versions are compared without a notification.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// The first and the longest wait before reconnecting.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Listens until `stop`.
/// `seen`: the versions as of the snapshots loaded at connect; changes
/// from then on are refreshed and announced.
pub(super) async fn run(
    shared: Arc<Shared>,
    stop: CancellationToken,
    mut seen: HashMap<ConfigChange, i64>,
) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        match listen(&shared, &stop, &mut seen, &mut backoff).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, "store: lost the config listener's connection; reconnecting");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life: returns Ok on `stop`, Err when the connection is
/// lost.
async fn listen(
    shared: &Arc<Shared>,
    stop: &CancellationToken,
    seen: &mut HashMap<ConfigChange, i64>,
    backoff: &mut Duration,
) -> Result<(), StoreError> {
    let (client, mut connection) = shared.config.connect(tokio_postgres::NoTls).await?;
    let (notified, mut notifications) = mpsc::unbounded_channel::<()>();
    // The connection delivers notifications only while polled.
    let due = Arc::clone(shared);
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(note))) if note.channel() == DUE_CHANNEL => {
                    due.due.notify_one();
                }
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if notified.send(()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "store: config listener connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);
    client
        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {DUE_CHANNEL}"))
        .await?;
    // Deliveries stored while not listening: look once.
    shared.due.notify_one();
    // Whatever changed while not listening.
    sync(shared, seen).await?;
    // Listening again: a later loss starts its backoff anew.
    *backoff = BACKOFF_FIRST;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            woke = notifications.recv() => {
                if woke.is_none() {
                    return Err(StoreError::Io {
                        what: "listening for configuration changes",
                        detail: "the connection closed".to_owned(),
                    });
                }
                // One comparison answers every notification queued.
                while notifications.try_recv().is_ok() {}
            }
            () = tokio::time::sleep(POLL_EVERY) => {
                if client.is_closed() {
                    return Err(StoreError::Io {
                        what: "listening for configuration changes",
                        detail: "the connection closed".to_owned(),
                    });
                }
            }
        }
        sync(shared, seen).await?;
    }
}

/// Refreshes and announces the kinds whose version moved since `seen`.
async fn sync(shared: &Shared, seen: &mut HashMap<ConfigChange, i64>) -> Result<(), StoreError> {
    let now = versions(shared).await?;
    for (kind, version) in now {
        if seen.get(&kind) == Some(&version) {
            continue;
        }
        shared.refresh(kind).await?;
        seen.insert(kind, version);
        // Nobody listening is fine.
        let _ = shared.changes.send(kind);
    }
    Ok(())
}

/// Every kind's version now.
pub(super) async fn versions(shared: &Shared) -> Result<HashMap<ConfigChange, i64>, StoreError> {
    let client = shared.client().await?;
    let rows = client
        .query("SELECT kind, version FROM config_versions", &[])
        .await?;
    let mut versions = HashMap::new();
    for row in rows {
        if let Some(kind) = ConfigChange::parse(row.try_get(0)?) {
            versions.insert(kind, row.try_get(1)?);
        }
    }
    Ok(versions)
}

/// Aborts the connection's task when the listener lets go of it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
