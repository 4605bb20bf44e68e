//! Keeping accepted callbacks for replays: a bounded queue the ingest path
//! hands each accepted callback to after its events are stored (as it is:
//! encoding it for the store is the writer's work, off the request), and
//! one writer task that stores them in batches. Keeping never slows or
//! fails a callback: it happens after the answer's commit, a full queue
//! drops (and counts) what does not fit, and a crash loses at most the
//! queue.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use wasmhook_sdk::Callback;

use crate::domain::Name;
use crate::domain::rejected::{KeptCallback, StoredCallback};
use crate::ids::{CallbackId, EventId};
use crate::store::Store;
use crate::telemetry;

/// Callbacks waiting for the writer; past this the newest are dropped.
const QUEUE: usize = 8_192;
/// The most callbacks one store write takes.
const BATCH: usize = 512;

/// An accepted callback on its way to be kept.
#[derive(Debug)]
pub(super) struct Accepted {
    pub(super) tenant: Name,
    pub(super) source: Name,
    /// Arrival time, epoch ms.
    pub(super) received_at: u64,
    /// The mapper version that mapped it.
    pub(super) plugin_version: u32,
    pub(super) callback: Callback,
    /// Its events, in the mapper's order.
    pub(super) event_ids: Vec<EventId>,
}

impl Accepted {
    /// The record the store keeps.
    fn into_kept(self) -> KeptCallback {
        KeptCallback {
            tenant: self.tenant,
            id: CallbackId::new(self.received_at),
            source: self.source,
            received_at: self.received_at,
            plugin_version: self.plugin_version,
            callback: StoredCallback::from(&self.callback),
            event_ids: self.event_ids,
        }
    }
}

/// The queue's sending side, and its receiving side until the writer runs.
#[derive(Debug)]
pub(super) struct CallbackKeeper {
    /// `None` when the callback retention is 0: nothing is kept.
    sender: Option<mpsc::Sender<Accepted>>,
    receiver: Mutex<Option<mpsc::Receiver<Accepted>>>,
}

impl CallbackKeeper {
    /// A keeper; `enabled` false keeps nothing.
    pub(super) fn new(enabled: bool) -> Self {
        if !enabled {
            return CallbackKeeper {
                sender: None,
                receiver: Mutex::new(None),
            };
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        CallbackKeeper {
            sender: Some(sender),
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// Queues `accepted` for the writer, or drops it when the queue is
    /// full (or nothing is kept).
    pub(super) fn keep(&self, accepted: Accepted) {
        let Some(sender) = &self.sender else { return };
        if sender.try_send(accepted).is_err() {
            telemetry::callbacks_not_kept(1);
        }
    }

    /// Runs the writer until `shutdown`, then writes what is queued. Only
    /// the first call runs one.
    pub(super) async fn run(&self, store: Arc<Store>, shutdown: CancellationToken) {
        let Some(mut receiver) = self.receiver.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let mut batch: Vec<Accepted> = Vec::with_capacity(BATCH);
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => {
                    receiver.close();
                    0
                }
                received = receiver.recv_many(&mut batch, BATCH) => received,
            };
            if received == 0 {
                // Closed: write what is left, then stop.
                while receiver.recv_many(&mut batch, BATCH).await > 0 {
                    write(&store, &mut batch).await;
                }
                return;
            }
            write(&store, &mut batch).await;
        }
    }
}

/// Writes `batch` and empties it. A failed write is logged and dropped: the
/// callbacks' events are stored, only their replay record is lost.
async fn write(store: &Store, batch: &mut Vec<Accepted>) {
    let kept: Vec<KeptCallback> = batch.drain(..).map(Accepted::into_kept).collect();
    if let Err(error) = store.keep_callbacks(&kept).await {
        telemetry::callbacks_not_kept(kept.len() as u64);
        tracing::warn!(%error, callbacks = kept.len(), "could not keep accepted callbacks for replays");
    }
}
