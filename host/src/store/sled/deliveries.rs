//! Deliveries and their attempts, with the indexes the delivery engine works
//! from: what is due when (`due`: time + id), each endpoint's pending
//! deliveries in event order (`pending`: endpoint + event, for strict
//! ordering; a delivery failed and holding stays in it), each endpoint's
//! deliveries of any state (for listing), the queues of ordering by key
//! (see [`super::key_queues`]: only a key's head is in `due`), and the
//! events not yet fanned out (`unfanned`).
//!
//! Events are written with their deliveries now; an `unfanned` marker is
//! what earlier versions wrote with each event stored before the delivery
//! engine ran. A data dir written by one may still hold some: the engine
//! fans them out when it starts.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::codec::{self, decode, encode};
use super::{SledStore, StoreError, key_queues};
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, OrderingMode};
use crate::ids::{DeliveryId, EndpointId, EventId};
use crate::store::{Claimed, Due};

/// The trees of the delivery engine. Cheap to clone (sled trees are
/// handles): the commit thread writes events' deliveries itself.
#[derive(Clone)]
pub(crate) struct DeliveryTrees {
    pub(super) deliveries: sled::Tree,
    pub(super) attempts: sled::Tree,
    pub(super) due: sled::Tree,
    pub(super) pending: sled::Tree,
    pub(super) by_endpoint: sled::Tree,
    /// The queues of endpoints ordered by key.
    pub(super) queues: sled::Tree,
    /// Event id → nothing: events an earlier version stored without their
    /// deliveries.
    pub(super) unfanned: sled::Tree,
}

impl DeliveryTrees {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(DeliveryTrees {
            deliveries: db.open_tree("deliveries")?,
            attempts: db.open_tree("attempts")?,
            due: db.open_tree("due")?,
            pending: db.open_tree("pending")?,
            by_endpoint: db.open_tree("deliveries_by_endpoint")?,
            queues: db.open_tree("ordering_queues")?,
            unfanned: db.open_tree("unfanned_events")?,
        })
    }
}

/// Due entries are grouped by endpoint, then ordered by time: the
/// dispatcher reads each endpoint's due deliveries directly, so a backlog on
/// one endpoint costs nothing when looking at another.
pub(super) fn due_key(endpoint: EndpointId, at_ms: u64, id: DeliveryId) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..16].copy_from_slice(&endpoint.to_bytes());
    key[16..24].copy_from_slice(&at_ms.to_be_bytes());
    key[24..].copy_from_slice(&id.to_bytes());
    key
}

fn pair_key(endpoint: EndpointId, second: [u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&endpoint.to_bytes());
    key[16..].copy_from_slice(&second);
    key
}

fn attempt_key(id: DeliveryId, number: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(&id.to_bytes());
    key[16..].copy_from_slice(&number.to_be_bytes());
    key
}

fn id_at(bytes: &[u8], offset: usize) -> Option<[u8; 16]> {
    bytes.get(offset..offset + 16)?.try_into().ok()
}

/// An attempt and the delivery's new state, encoded, ready to be written in
/// one transaction (see [`SledStore::commit_attempt`]).
pub(crate) struct AttemptWrite {
    delivery: Delivery,
    delivery_bytes: Vec<u8>,
    attempt_key: [u8; 20],
    attempt_bytes: Vec<u8>,
    previous_due: Option<u64>,
}

impl AttemptWrite {
    fn new(
        delivery: &Delivery,
        attempt: &Attempt,
        previous_due: Option<u64>,
    ) -> Result<Self, StoreError> {
        Ok(AttemptWrite {
            delivery: delivery.clone(),
            delivery_bytes: encode(delivery)?,
            attempt_key: attempt_key(delivery.id, attempt.number),
            attempt_bytes: encode(attempt)?,
            previous_due,
        })
    }

    /// Writes the attempt and re-indexes its delivery within a transaction.
    pub(super) fn apply(
        &self,
        views: IndexedViews<'_>,
        attempts: &TransactionalTree,
    ) -> Result<(), Abort> {
        put_indexed_encoded(
            views,
            &self.delivery,
            self.delivery_bytes.clone(),
            self.previous_due,
            EndpointIndex::AlreadyThere,
        )?;
        attempts.insert(&self.attempt_key[..], self.attempt_bytes.as_slice())?;
        Ok(())
    }
}

pub(super) type Abort = ConflictableTransactionError<StoreError>;

fn abort(error: StoreError) -> Abort {
    ConflictableTransactionError::Abort(error)
}

/// The transaction views `put_indexed` writes: deliveries, due, pending,
/// by endpoint, ordering queues.
pub(super) type IndexedViews<'a> = (
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
    &'a TransactionalTree,
);

/// Writes `delivery` and keeps the indexes in step with its state:
/// `previous_due` is the due time it was indexed under, if any.
pub(super) fn put_indexed(
    views: IndexedViews<'_>,
    delivery: &Delivery,
    previous_due: Option<u64>,
) -> Result<(), Abort> {
    put_indexed_encoded(
        views,
        delivery,
        encode(delivery).map_err(abort)?,
        previous_due,
        EndpointIndex::Write,
    )
}

/// Whether a write must (re)insert the delivery's endpoint index entry,
/// which never changes once written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EndpointIndex {
    Write,
    /// An attempt's write: its delivery was indexed when it was made.
    AlreadyThere,
}

/// [`put_indexed`] with the delivery already encoded as `bytes`.
fn put_indexed_encoded(
    (deliveries, due, pending, by_endpoint, queues): IndexedViews<'_>,
    delivery: &Delivery,
    bytes: Vec<u8>,
    previous_due: Option<u64>,
    endpoint_index: EndpointIndex,
) -> Result<(), Abort> {
    deliveries.insert(&delivery.id.to_bytes(), bytes)?;
    if endpoint_index == EndpointIndex::Write {
        by_endpoint.insert(&pair_key(delivery.endpoint, delivery.id.to_bytes()), &[])?;
    }
    // Pending deliveries are kept in event order: strict ordering follows
    // it, and a held one keeps its place at the head.
    let pending_key = pair_key(delivery.endpoint, delivery.event.to_bytes());
    if let Some(at) = previous_due {
        due.remove(&due_key(delivery.endpoint, at, delivery.id)[..])?;
    }
    let key = delivery.ordering_key.as_deref();
    match (delivery.state, delivery.next_attempt_at) {
        (DeliveryState::Pending, Some(at)) => {
            pending.insert(&pending_key, &delivery.id.to_bytes())?;
            // Keyed: only its queue's head is due; the others wait their turn.
            let is_head = match key {
                Some(key) => key_queues::enter(queues, delivery, key)?,
                None => true,
            };
            if is_head {
                due.insert(&due_key(delivery.endpoint, at, delivery.id)[..], &[])?;
            }
        }
        (DeliveryState::Failed, _) if delivery.held => {
            pending.insert(&pending_key, &delivery.id.to_bytes())?;
            if let Some(key) = key {
                key_queues::enter(queues, delivery, key)?;
            }
        }
        _ => {
            pending.remove(&pending_key)?;
            if let Some(key) = key {
                key_queues::leave(queues, deliveries, due, delivery, key)?;
            }
        }
    }
    Ok(())
}

impl SledStore {
    /// Events stored but not yet fanned out, with their tenants, oldest id
    /// first, at most `limit`. A marker whose event is gone (a resend
    /// removed again) is dropped.
    pub fn unfanned_events(
        &self,
        limit: usize,
    ) -> Result<Vec<(crate::domain::Name, crate::domain::event::CanonicalEvent)>, StoreError> {
        let mut found = Vec::new();
        for key in self.deliveries.unfanned.iter().keys().take(limit) {
            let key = key?;
            match self.events.get(&key)? {
                Some(bytes) => {
                    let (tenant, event) = super::events::split_stored(&bytes)?;
                    found.push((tenant, decode(&self.events, event)?));
                }
                None => {
                    self.deliveries.unfanned.remove(&key)?;
                }
            }
        }
        Ok(found)
    }

    /// Stores the deliveries made from `events` and removes their markers,
    /// in one transaction: a crash leaves either both or neither, so no
    /// event is fanned out twice or never.
    pub fn record_fanout(
        &self,
        deliveries: &[Delivery],
        events: &[EventId],
    ) -> Result<(), StoreError> {
        let trees = &self.deliveries;
        (
            &trees.deliveries,
            &trees.due,
            &trees.pending,
            &trees.by_endpoint,
            &trees.queues,
            &trees.unfanned,
        )
            .transaction(
                |(deliveries_tx, due, pending, by_endpoint, queues, unfanned)| {
                    for delivery in deliveries {
                        put_indexed(
                            (deliveries_tx, due, pending, by_endpoint, queues),
                            delivery,
                            None,
                        )?;
                    }
                    for event in events {
                        unfanned.remove(&event.to_bytes())?;
                    }
                    Ok(())
                },
            )?;
        Ok(())
    }

    /// `endpoint`'s deliveries due at or before `now_ms`, earliest first,
    /// at most `limit`.
    pub(super) fn due_deliveries(
        &self,
        endpoint: EndpointId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<Due>, StoreError> {
        let lower = due_key(endpoint, 0, DeliveryId::from_bytes([0; 16]));
        let upper = due_key(endpoint, now_ms, DeliveryId::from_bytes([0xff; 16]));
        let mut found = Vec::new();
        for key in self.deliveries.due.range(lower..=upper).keys().take(limit) {
            let key = key?;
            let Some(id) = id_at(&key, 24) else { continue };
            found.push(Due {
                at_ms: u64::from_be_bytes(key[16..24].try_into().unwrap_or_default()),
                id: DeliveryId::from_bytes(id),
                endpoint,
            });
        }
        Ok(found)
    }

    /// `endpoint`'s deliveries this (only) node may attempt now: the head of
    /// an endpoint ordered as a whole, else the earliest due. Nothing is
    /// leased: the delivery engine of the one process using the store
    /// keeps its attempts in flight in memory, and `limit` leaves room for
    /// those it will skip; it keeps the endpoint's `cap` itself.
    pub fn claim_due(
        &self,
        endpoint: &Endpoint,
        now_ms: u64,
        limit: usize,
        _cap: usize,
    ) -> Result<Claimed, StoreError> {
        let id = endpoint.id;
        if endpoint.config.ordering.mode == OrderingMode::Endpoint {
            let head = match self.endpoint_head(id)? {
                Some(head) => self.delivery(head)?,
                None => None,
            };
            return Ok(
                match head.and_then(|d| d.next_attempt_at.map(|at| (d.id, at))) {
                    Some((head, at)) if at <= now_ms => Claimed {
                        due: vec![Due {
                            at_ms: at,
                            id: head,
                            endpoint: id,
                        }],
                        look_again_at: None,
                    },
                    Some((_, at)) => Claimed {
                        due: Vec::new(),
                        look_again_at: Some(at),
                    },
                    None => Claimed::default(),
                },
            );
        }
        let due = self.due_deliveries(id, now_ms, limit)?;
        let look_again_at = if due.is_empty() {
            self.next_due_at(id)?.filter(|at| *at > now_ms)
        } else {
            None
        };
        Ok(Claimed { due, look_again_at })
    }

    /// When `endpoint`'s earliest pending delivery is due, if it has one.
    pub fn next_due_at(&self, endpoint: EndpointId) -> Result<Option<u64>, StoreError> {
        Ok(self
            .deliveries
            .due
            .scan_prefix(endpoint.to_bytes())
            .keys()
            .next()
            .transpose()?
            .and_then(|key| {
                key.get(16..24)
                    .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()))
            }))
    }

    /// Pending deliveries in all (those waiting behind a key's head and
    /// those held included), for the queue-depth metric.
    pub fn pending_count(&self) -> usize {
        self.deliveries.pending.len()
    }

    /// The endpoint's pending delivery of the earliest event: the only one
    /// an endpoint ordered as a whole (`endpoint`) may attempt.
    pub(super) fn endpoint_head(
        &self,
        endpoint: EndpointId,
    ) -> Result<Option<DeliveryId>, StoreError> {
        Ok(self
            .deliveries
            .pending
            .scan_prefix(endpoint.to_bytes())
            .values()
            .next()
            .transpose()?
            .and_then(|value| id_at(&value, 0))
            .map(DeliveryId::from_bytes))
    }

    /// One delivery.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        codec::get(&self.deliveries.deliveries, id.to_bytes())
    }

    /// A delivery's attempts, in order.
    pub fn attempts(&self, id: DeliveryId) -> Result<Vec<Attempt>, StoreError> {
        self.deliveries
            .attempts
            .scan_prefix(id.to_bytes())
            .values()
            .map(|bytes| decode(&self.deliveries.attempts, &bytes?))
            .collect()
    }

    /// Records an attempt and the delivery's new state (and due time) at
    /// once. The write joins the commit thread's next transaction with
    /// everything else written at the time: a transaction locks the whole
    /// database, so one per attempt would stall every reader under load.
    /// Returns once written, without waiting for the disk: an attempt lost
    /// to a crash is made again (deliveries are at least once).
    pub async fn commit_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        previous_due: Option<u64>,
    ) -> Result<(), StoreError> {
        let write = AttemptWrite::new(delivery, attempt, previous_due)?;
        self.flush.record_attempt(write).await
    }

    /// Replaces a delivery's state (manual retry, replay), re-indexing it.
    pub fn update_delivery(
        &self,
        delivery: &Delivery,
        previous_due: Option<u64>,
    ) -> Result<(), StoreError> {
        let trees = &self.deliveries;
        (
            &trees.deliveries,
            &trees.due,
            &trees.pending,
            &trees.by_endpoint,
            &trees.queues,
        )
            .transaction(|(deliveries, due, pending, by_endpoint, queues)| {
                put_indexed(
                    (deliveries, due, pending, by_endpoint, queues),
                    delivery,
                    previous_due,
                )
            })?;
        Ok(())
    }

    /// Fails every pending (or held) delivery of `endpoint` with `reason`
    /// (its endpoint is being deleted: nothing would ever attempt them).
    /// They stay readable under `/v1/deliveries/{id}`. Returns how many.
    pub fn fail_pending_of(
        &self,
        endpoint: EndpointId,
        reason: &str,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let ids: Vec<DeliveryId> = self
            .deliveries
            .pending
            .scan_prefix(endpoint.to_bytes())
            .values()
            .filter_map(|value| {
                value
                    .ok()
                    .and_then(|v| id_at(&v, 0))
                    .map(DeliveryId::from_bytes)
            })
            .collect();
        let mut failed = 0;
        for id in ids {
            let Some(mut delivery) = self.delivery(id)? else {
                continue;
            };
            let previous_due = delivery.next_attempt_at;
            delivery.state = DeliveryState::Failed;
            delivery.next_attempt_at = None;
            delivery.held = false;
            delivery.last_error = Some(reason.to_owned());
            delivery.updated_at = now_ms;
            self.update_delivery(&delivery, previous_due)?;
            failed += 1;
        }
        Ok(failed)
    }

    /// An endpoint's deliveries, newest first, optionally in one state,
    /// created before `before` (a cursor), at most `limit`.
    pub fn deliveries_of(
        &self,
        endpoint: EndpointId,
        state: Option<DeliveryState>,
        before: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let start = pair_key(endpoint, [0; 16]);
        let end = pair_key(endpoint, before.map_or([0xff; 16], DeliveryId::to_bytes));
        let mut found = Vec::new();
        for key in self.deliveries.by_endpoint.range(start..end).keys().rev() {
            let Some(id) = id_at(&key?, 16) else { continue };
            let Some(delivery) = self.delivery(DeliveryId::from_bytes(id))? else {
                continue;
            };
            if state.is_none_or(|s| s == delivery.state) {
                found.push(delivery);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }
}
