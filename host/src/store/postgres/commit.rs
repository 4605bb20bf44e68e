//! Group commit: a task commits ingested events and delivery attempts for
//! everyone. A request hands it its events (each with its deliveries), the
//! delivery engine the attempts it made; the task takes every request
//! queued, writes them all in ONE transaction with multi-row statements,
//! and answers each only after COMMIT (202 means committed). Under load one
//! commit — one WAL flush — covers everything that arrived while the
//! previous one ran; alone, a request waits for one.
//!
//! Resends are recognised by inserting the batch's dedupe keys with
//! `ON CONFLICT DO NOTHING RETURNING`: a key that comes back is new, one
//! that does not was stored before (by this node or another, whose insert
//! the statement waited for) and is answered with the first event's id,
//! storing no deliveries. A resend inside the batch is recognised before
//! the database sees it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Shared;
use super::deliveries::{AttemptColumns, DeliveryColumns};
use super::events::{dedupe_key, encode_event};
use super::listen::DUE_CHANNEL;
use crate::domain::delivery::{Attempt, Delivery};
use crate::ids::EventId;
use crate::store::{Inserted, NewEvent, StoreError};

/// The most requests one batch answers, so a burst cannot hold the first of
/// them for long.
const MAX_BATCH: usize = 1024;

/// Batches in flight at once: while one waits for its COMMIT (the WAL
/// flush), the next is gathered and written. Two overlap that wait; more
/// would only split the batches smaller.
const WORKERS: usize = 2;

/// How long a requester waits for its answer before giving up (the
/// transaction may still commit: a resend is then recognised).
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

enum Message {
    /// One request's events, answered with what became of each once
    /// committed.
    Insert {
        events: Vec<NewEvent>,
        answer: InsertAnswer,
    },
    /// An attempt and its delivery's new state, answered once committed.
    Attempt {
        delivery: Box<Delivery>,
        attempt: Box<Attempt>,
        /// When the node had the answer (the attempt ended): what a rate
        /// limit counts from, not when the commit got to it.
        answered: Instant,
        answer: AttemptAnswer,
    },
}

/// The handle of the commit task.
pub(super) struct Committer {
    queue: std::sync::Mutex<Option<mpsc::UnboundedSender<Message>>>,
}

impl Committer {
    /// Starts the commit task.
    pub(super) fn start(shared: Arc<Shared>) -> (Committer, JoinHandle<()>) {
        let (queue, received) = mpsc::unbounded_channel();
        let received = Arc::new(tokio::sync::Mutex::new(received));
        let task = tokio::spawn(async move {
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| tokio::spawn(commit_loop(Arc::clone(&shared), Arc::clone(&received))))
                .collect();
            for worker in workers {
                let _ = worker.await;
            }
        });
        (
            Committer {
                queue: std::sync::Mutex::new(Some(queue)),
            },
            task,
        )
    }

    /// Stores `events` (deduplicating resends); returns once committed.
    pub(super) async fn insert(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (answer, answered) = oneshot::channel();
        self.send(Message::Insert { events, answer })?;
        answer_of(answered).await
    }

    /// Records an attempt with its delivery's new state; returns once
    /// committed.
    pub(super) async fn attempt(
        &self,
        delivery: Delivery,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.send(Message::Attempt {
            delivery: Box::new(delivery),
            attempt: Box::new(attempt),
            answered: Instant::now(),
            answer,
        })?;
        answer_of(answered).await
    }

    fn send(&self, message: Message) -> Result<(), StoreError> {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(message)
            .map_err(|_| StoreError::Closed)
    }

    /// Lets the task answer what is queued, then end. Later requests fail
    /// with [`StoreError::Closed`].
    pub(super) fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

async fn answer_of<T>(answered: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    match tokio::time::timeout(ANSWER_DEADLINE, answered).await {
        Ok(answer) => answer.map_err(|_| StoreError::Closed)?,
        Err(_) => Err(StoreError::Io {
            what: "waiting for the store's commit task",
            detail: format!("no answer within {} s", ANSWER_DEADLINE.as_secs()),
        }),
    }
}

/// Where a request's events' fates go.
type InsertAnswer = oneshot::Sender<Result<Vec<Inserted>, StoreError>>;

/// Where an attempt's outcome goes.
type AttemptAnswer = oneshot::Sender<Result<(), StoreError>>;

/// One batch: the requests taken from the queue together.
#[derive(Default)]
struct Batch {
    inserts: Vec<(Vec<NewEvent>, InsertAnswer)>,
    attempts: Vec<(Box<Delivery>, Box<Attempt>, AttemptAnswer)>,
    /// When each attempt's answer came, in `attempts`' order.
    answered: Vec<Instant>,
}

impl Batch {
    fn add(&mut self, message: Message) {
        match message {
            Message::Insert { events, answer } => self.inserts.push((events, answer)),
            Message::Attempt {
                delivery,
                attempt,
                answered,
                answer,
            } => {
                self.attempts.push((delivery, attempt, answer));
                self.answered.push(answered);
            }
        }
    }

    fn len(&self) -> usize {
        self.inserts.len() + self.attempts.len()
    }
}

/// One worker: takes what is queued as a batch (while it holds the queue,
/// the other workers wait), then commits it while another worker gathers
/// the next. Ends once every sender is gone and the queue is drained.
async fn commit_loop(
    shared: Arc<Shared>,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>>,
) {
    loop {
        let batch = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut batch = Batch::default();
            batch.add(first);
            while batch.len() < MAX_BATCH
                && let Ok(message) = queue.try_recv()
            {
                batch.add(message);
            }
            batch
        };
        commit_batch(&shared, batch).await;
    }
}

/// One event of the batch, encoded, with where its answer goes.
struct Encoded {
    request: usize,
    /// Its place in its request.
    position: usize,
    id: EventId,
    tenant: String,
    source: String,
    record: String,
    dedupe: Option<[u8; 32]>,
}

/// Writes one batch in one transaction and answers every request in it.
async fn commit_batch(shared: &Shared, batch: Batch) {
    // Encode first: a request whose records cannot be encoded fails alone.
    let mut failed: HashMap<usize, StoreError> = HashMap::new();
    let mut encoded: Vec<Encoded> = Vec::new();
    for (request, (events, _)) in batch.inserts.iter().enumerate() {
        for (position, new) in events.iter().enumerate() {
            match encode_event(&new.event) {
                Ok(record) => encoded.push(Encoded {
                    request,
                    position,
                    id: new.event.id,
                    tenant: new.tenant.as_str().to_owned(),
                    source: new.event.source.clone(),
                    record,
                    dedupe: dedupe_key(&new.tenant, &new.event),
                }),
                Err(error) => {
                    failed.insert(request, error);
                }
            }
        }
    }
    encoded.retain(|event| !failed.contains_key(&event.request));
    let mut attempts = AttemptColumns::default();
    let mut attempted = DeliveryColumns::default();
    let mut attempt_error = None;
    for (delivery, attempt, _) in &batch.attempts {
        if let Err(error) = attempts
            .push(delivery.id, attempt)
            .and_then(|()| attempted.push(delivery))
        {
            attempt_error = Some(error);
        }
    }
    let written = match attempt_error {
        Some(error) => Err(error),
        None => write(shared, &batch, &encoded, &attempts, &attempted).await,
    };
    let written = shared.track(written);
    match written {
        Ok(fates) => {
            // Each request's events' fates, in its order.
            let mut answers: Vec<Vec<Inserted>> = vec![Vec::new(); batch.inserts.len()];
            for (event, fate) in encoded.iter().zip(fates) {
                answers[event.request].push(fate);
            }
            for (request, ((_, answer), inserted)) in
                batch.inserts.into_iter().zip(answers).enumerate()
            {
                let _ = answer.send(match failed.remove(&request) {
                    Some(error) => Err(error),
                    None => Ok(inserted),
                });
            }
            for (_, _, answer) in batch.attempts {
                let _ = answer.send(Ok(()));
            }
        }
        Err(error) => {
            let failure = |what: &'static str| match &error {
                StoreError::Unavailable { reason } => StoreError::Unavailable {
                    reason: reason.clone(),
                },
                other => StoreError::Io {
                    what,
                    detail: other.to_string(),
                },
            };
            for (_, answer) in batch.inserts {
                let _ = answer.send(Err(failure("storing events")));
            }
            for (_, _, answer) in batch.attempts {
                let _ = answer.send(Err(failure("recording a delivery attempt")));
            }
        }
    }
}

/// The batch's transaction; the fate of each encoded event, in order.
async fn write(
    shared: &Shared,
    batch: &Batch,
    encoded: &[Encoded],
    attempts: &AttemptColumns,
    attempted: &DeliveryColumns,
) -> Result<Vec<Inserted>, StoreError> {
    // Resends within the batch: the first of each key goes to the database.
    let mut first_of_key: BTreeMap<[u8; 32], usize> = BTreeMap::new();
    let mut earlier: Vec<Option<usize>> = Vec::with_capacity(encoded.len());
    for (index, event) in encoded.iter().enumerate() {
        earlier.push(match event.dedupe {
            Some(key) => match first_of_key.get(&key) {
                Some(&first) => Some(first),
                None => {
                    first_of_key.insert(key, index);
                    None
                }
            },
            None => None,
        });
    }
    // Which first-of-key events were stored before (key → stored id). The
    // keys go in sorted: two nodes' batches sharing keys lock them in the
    // same order, so they wait for each other instead of deadlocking.
    let keys: Vec<Vec<u8>> = first_of_key.keys().map(|key| key.to_vec()).collect();
    let ids: Vec<Vec<u8>> = first_of_key
        .values()
        .map(|&index| encoded[index].id.to_bytes().to_vec())
        .collect();
    let mut client = shared.client().await?;
    let tx = client.transaction().await?;
    // Independent statements go out together (the driver pipelines them):
    // one round trip, not three.
    let ((), (), new_keys) = tokio::try_join!(
        attempted.update(&tx, &batch.answered),
        attempts.insert(&tx),
        claim_keys(&tx, &keys, &ids),
    )?;
    let old_keys: Vec<Vec<u8>> = keys
        .into_iter()
        .filter(|key| !new_keys.contains(key))
        .collect();
    let mut stored_before: HashMap<[u8; 32], EventId> = HashMap::new();
    if !old_keys.is_empty() {
        for row in tx
            .query(
                "SELECT key, event FROM dedupe WHERE key = ANY($1)",
                &[&old_keys],
            )
            .await?
        {
            let key: Vec<u8> = row.try_get(0)?;
            let id = EventId::from_bytes(super::rows::id_at(&row, 1)?);
            if let Ok(key) = <[u8; 32]>::try_from(&key[..]) {
                stored_before.insert(key, id);
            }
        }
    }
    // The fates, and the columns of what goes in.
    let mut fates = Vec::with_capacity(encoded.len());
    let (mut event_ids, mut tenants, mut sources, mut records) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut deliveries = DeliveryColumns::default();
    for (index, event) in encoded.iter().enumerate() {
        let duplicate_of = match (event.dedupe, earlier[index]) {
            (_, Some(first)) => {
                let first = &encoded[first];
                Some(
                    first
                        .dedupe
                        .and_then(|key| stored_before.get(&key).copied())
                        .unwrap_or(first.id),
                )
            }
            (Some(key), None) => stored_before.get(&key).copied(),
            (None, None) => None,
        };
        if let Some(first) = duplicate_of {
            fates.push(Inserted {
                id: first,
                duplicate: true,
            });
            continue;
        }
        event_ids.push(event.id.to_bytes().to_vec());
        tenants.push(event.tenant.as_str());
        sources.push(event.source.as_str());
        records.push(event.record.as_str());
        for delivery in &batch.inserts[event.request].0[event.position].deliveries {
            deliveries.push(delivery)?;
        }
        fates.push(Inserted {
            id: event.id,
            duplicate: false,
        });
    }
    tokio::try_join!(
        insert_events(&tx, &event_ids, &tenants, &sources, &records),
        deliveries.insert(&tx),
        announce_due(&tx, !deliveries.is_empty()),
    )?;
    tx.commit().await?;
    Ok(fates)
}

/// Wakes idle nodes for new deliveries: a notification on [`DUE_CHANNEL`],
/// sent when the transaction commits (so never for deliveries that are not
/// there) and once however many batches a node commits before others read.
async fn announce_due(
    tx: &deadpool_postgres::Transaction<'_>,
    any: bool,
) -> Result<(), StoreError> {
    if any {
        tx.execute("SELECT pg_notify($1, '')", &[&DUE_CHANNEL])
            .await?;
    }
    Ok(())
}

/// Inserts the batch's first-of-key dedupe entries (`keys` sorted, `ids`
/// their events); the keys that were new.
async fn claim_keys(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: &[Vec<u8>],
    ids: &[Vec<u8>],
) -> Result<HashSet<Vec<u8>>, StoreError> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO dedupe (key, event) SELECT * FROM unnest($1::bytea[], $2::bytea[])
             ON CONFLICT DO NOTHING RETURNING key",
        )
        .await?;
    let rows = tx.query(&statement, &[&keys, &ids]).await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get::<_, Vec<u8>>(0))
        .collect::<Result<_, _>>()?)
}

/// Inserts the batch's new events (an id stored already is left as it is).
pub(super) async fn insert_events(
    tx: &deadpool_postgres::Transaction<'_>,
    ids: &[Vec<u8>],
    tenants: &[&str],
    sources: &[&str],
    records: &[&str],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO events (id, tenant, source, record)
             SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[])
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    tx.execute(&statement, &[&ids, &tenants, &sources, &records])
        .await?;
    Ok(())
}
