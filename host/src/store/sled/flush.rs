//! Group commit: one thread makes writes durable for everyone. A request
//! hands it its events to insert (each with its deliveries), the delivery
//! engine hands it the attempts it made, or a caller only asks that what it
//! already wrote reach the disk; each awaits the answer. The thread takes
//! every request queued, writes all their events and attempts in one
//! transaction, answers the attempts (they need not wait for the disk),
//! flushes once, and answers the rest. Under load one transaction and one flush cover
//! everything that arrived while the previous ones ran; alone, a request
//! waits for one of each.
//!
//! Both costs are per batch, not per request: a sled transaction writes the
//! log out twice and a flush once, each waking sled's I/O threads, which at
//! one per request cost more than the rest of an ingest together.
//!
//! Before a batch's events go in, the thread checks free space (see
//! [`super::health`]): below the floor they are refused, never half stored.
//! A failed transaction or flush marks the store unhealthy, a successful
//! flush healthy again. Nobody waits for an answer forever: a flush that
//! never returns marks the store stuck and its requesters get an error.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use super::StoreError;
use super::deliveries::AttemptWrite;
use super::events::EventTrees;
use super::health::{FLUSH_DEADLINE, Health};
use crate::store::{Inserted, NewEvent};

/// The most requests one batch answers, so a burst cannot hold the first
/// of them for long.
const MAX_BATCH: usize = 512;

enum Message {
    /// One request's events, answered with what became of each once they
    /// are on disk.
    Insert {
        events: Vec<NewEvent>,
        answer: oneshot::Sender<Result<Vec<Inserted>, StoreError>>,
    },
    /// A delivery attempt to record, answered once written (not flushed).
    /// Boxed: a delivery is much larger than the other messages.
    Attempt {
        write: Box<AttemptWrite>,
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Answered once everything written before it was sent is on disk.
    Flush {
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Answer what came before, then exit.
    Stop,
}

/// The group-commit thread of one sled database.
pub(crate) struct GroupFlush {
    queue: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
    health: Arc<Health>,
}

/// How long a requester waits for its answer: a flush's deadline and room
/// for the batch's transaction.
const ANSWER_DEADLINE: Duration = FLUSH_DEADLINE.saturating_add(Duration::from_secs(10));

impl GroupFlush {
    /// Starts the commit thread for `db`, inserting events into `trees`.
    pub(crate) fn start(
        db: sled::Db,
        health: Arc<Health>,
        trees: EventTrees,
    ) -> Result<Self, StoreError> {
        let (queue, received) = mpsc::channel();
        let thread_health = Arc::clone(&health);
        let thread = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || commit_loop(&db, &thread_health, &trees, &received))
            .map_err(|error| StoreError::Io {
                what: "starting the store's commit thread",
                detail: error.to_string(),
            })?;
        Ok(GroupFlush {
            queue,
            thread: Mutex::new(Some(thread)),
            health,
        })
    }

    /// Inserts `events` (deduplicating resends) and returns once they are on
    /// disk.
    pub(crate) async fn insert(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.send(Message::Insert { events, answer })?;
        self.answer(answered).await
    }

    /// Records a delivery attempt in the next batch's transaction; returns
    /// once it is written, before the flush.
    pub(crate) async fn record_attempt(&self, write: AttemptWrite) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.send(Message::Attempt {
            write: Box::new(write),
            answer,
        })?;
        self.answer(answered).await
    }

    /// Returns once everything the caller wrote before calling is on disk.
    pub(crate) async fn wait(&self) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.send(Message::Flush { answer })?;
        self.answer(answered).await
    }

    /// The commit thread's answer, waited for at most [`ANSWER_DEADLINE`].
    async fn answer<T>(
        &self,
        answered: oneshot::Receiver<Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(ANSWER_DEADLINE, answered).await {
            Ok(answer) => answer.map_err(|_| StoreError::Closed)?,
            Err(_) => {
                self.health.stuck("the store's commit thread");
                Err(StoreError::Io {
                    what: "waiting for the store's commit thread",
                    detail: format!("no answer within {} s", ANSWER_DEADLINE.as_secs()),
                })
            }
        }
    }

    fn send(&self, message: Message) -> Result<(), StoreError> {
        self.queue.send(message).map_err(|_| StoreError::Closed)
    }

    /// Answers the requests already queued, then stops the thread. Requests
    /// sent later fail with [`StoreError::Closed`].
    pub(crate) fn stop(&self) {
        let _ = self.queue.send(Message::Stop);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(thread) = thread else {
            return;
        };
        // A thread stuck in a flush that never returns is left behind.
        let deadline = std::time::Instant::now() + ANSWER_DEADLINE;
        while !thread.is_finished() {
            if std::time::Instant::now() >= deadline {
                self.health.stuck("stopping the store's commit thread");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = thread.join();
    }
}

impl Drop for GroupFlush {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One batch: the requests taken from the queue together.
#[derive(Default)]
struct Batch {
    inserts: Vec<Vec<NewEvent>>,
    insert_answers: Vec<oneshot::Sender<Result<Vec<Inserted>, StoreError>>>,
    attempts: Vec<AttemptWrite>,
    attempt_answers: Vec<oneshot::Sender<Result<(), StoreError>>>,
    flush_answers: Vec<oneshot::Sender<Result<(), StoreError>>>,
    stop: bool,
}

impl Batch {
    /// Adds `message`; false once no more should be added.
    fn add(&mut self, message: Message) -> bool {
        match message {
            Message::Insert { events, answer } => {
                self.inserts.push(events);
                self.insert_answers.push(answer);
            }
            Message::Attempt { write, answer } => {
                self.attempts.push(*write);
                self.attempt_answers.push(answer);
            }
            Message::Flush { answer } => self.flush_answers.push(answer),
            Message::Stop => self.stop = true,
        }
        let size =
            self.insert_answers.len() + self.attempt_answers.len() + self.flush_answers.len();
        !self.stop && size < MAX_BATCH
    }
}

fn commit_loop(
    db: &sled::Db,
    health: &Health,
    trees: &EventTrees,
    queue: &mpsc::Receiver<Message>,
) {
    // Blocks only while there is nothing to do.
    while let Ok(first) = queue.recv() {
        let mut batch = Batch::default();
        let mut more = batch.add(first);
        while more && let Ok(message) = queue.try_recv() {
            more = batch.add(message);
        }
        // Events are refused whole while the store cannot take them;
        // attempts (small, and needed so nothing is delivered twice) go on.
        if !batch.inserts.is_empty()
            && let Err(StoreError::Unavailable { reason }) = health.check_space()
        {
            for answer in std::mem::take(&mut batch.insert_answers) {
                let _ = answer.send(Err(StoreError::Unavailable {
                    reason: reason.clone(),
                }));
            }
            batch.inserts.clear();
        }
        let (inserted, recorded) = trees.insert_batch(&batch.inserts, &batch.attempts);
        if let Err(error) = &recorded {
            health.write_failed(error);
        }
        // Attempts need not wait for the disk: answering now frees their
        // endpoints' slots for the next attempts while the flush runs.
        for answer in batch.attempt_answers {
            let _ = answer.send(match &recorded {
                Ok(()) => Ok(()),
                Err(error) => Err(StoreError::Io {
                    what: "recording a delivery attempt",
                    detail: error.to_string(),
                }),
            });
        }
        if batch.inserts.is_empty() && batch.flush_answers.is_empty() {
            if batch.stop {
                return;
            }
            continue;
        }
        let flushed = db.flush().map(drop).map_err(StoreError::from);
        match &flushed {
            Err(error) => {
                tracing::error!(%error, "store flush failed");
                health.write_failed(error);
            }
            Ok(()) if recorded.is_ok() => health.write_succeeded(),
            Ok(()) => {}
        }
        let unflushed = |error: &StoreError| StoreError::Io {
            what: "flushing the store to disk",
            detail: error.to_string(),
        };
        // A requester that has gone (client disconnected) misses its
        // answer; its writes stand either way.
        for (result, answer) in inserted.into_iter().zip(batch.insert_answers) {
            let _ = answer.send(match &flushed {
                Ok(()) => result,
                Err(error) => Err(unflushed(error)),
            });
        }
        for answer in batch.flush_answers {
            let _ = answer.send(flushed.as_ref().map_err(unflushed).copied());
        }
        if batch.stop {
            return;
        }
    }
}
