//! FIFO queues per ordering key, inside the delivery transactions: an
//! endpoint ordered by key has, per key, a linked list of its deliveries
//! in the order they were queued, and only the list's head is in the `due`
//! index. When the head leaves (delivered, or failed without holding), the
//! next member becomes head and due, in the same transaction — so a crash
//! never loses a queue nor lets a later delivery of a key overtake an
//! earlier one, and the dispatcher never reads past waiting deliveries.
//!
//! One tree, two kinds of entries (sled transactions can only get, insert
//! and remove, so the lists are linked rather than scanned):
//! - `q` + endpoint + key hash → head id + tail id (a queue);
//! - `l` + delivery id → next id, or empty for the tail (a member).
//!
//! A member that leaves while not the head (only after a change of ordering
//! mode) stays linked and is skipped when the queue reaches it.

use sha2::{Digest, Sha256};
use sled::transaction::TransactionalTree;

use super::StoreError;
use super::deliveries::{Abort, due_key};
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::ids::{DeliveryId, EndpointId};

fn queue_key(endpoint: EndpointId, key: &str) -> [u8; 33] {
    let mut bytes = [0u8; 33];
    bytes[0] = b'q';
    bytes[1..17].copy_from_slice(&endpoint.to_bytes());
    bytes[17..].copy_from_slice(&Sha256::digest(key.as_bytes())[..16]);
    bytes
}

fn link_key(id: DeliveryId) -> [u8; 17] {
    let mut bytes = [0u8; 17];
    bytes[0] = b'l';
    bytes[1..].copy_from_slice(&id.to_bytes());
    bytes
}

fn id_of(bytes: &[u8]) -> Option<DeliveryId> {
    bytes
        .get(..16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(DeliveryId::from_bytes)
}

fn ends(value: &[u8]) -> Option<(DeliveryId, DeliveryId)> {
    Some((id_of(value)?, id_of(value.get(16..)?)?))
}

fn ends_value(head: DeliveryId, tail: DeliveryId) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&head.to_bytes());
    bytes[16..].copy_from_slice(&tail.to_bytes());
    bytes
}

fn corrupt(detail: String) -> Abort {
    Abort::Abort(StoreError::Corrupt {
        what: "ordering queues",
        detail,
    })
}

/// Puts `delivery` (pending, or failed and holding) in its key's queue
/// unless it is there already; says whether it is the head, the one
/// member that may be attempted.
pub(super) fn enter(
    queues: &TransactionalTree,
    delivery: &Delivery,
    key: &str,
) -> Result<bool, Abort> {
    let queue = queue_key(delivery.endpoint, key);
    let current = queues.get(queue)?;
    if queues.get(link_key(delivery.id))?.is_some() {
        let head = current.as_deref().and_then(ends).map(|(head, _)| head);
        return Ok(head == Some(delivery.id));
    }
    queues.insert(&link_key(delivery.id)[..], &[][..])?;
    match current.as_deref().map(|value| {
        ends(value).ok_or_else(|| corrupt(format!("queue entry of {} bytes", value.len())))
    }) {
        None => {
            queues.insert(&queue[..], &ends_value(delivery.id, delivery.id)[..])?;
            Ok(true)
        }
        Some(ends) => {
            let (head, tail) = ends?;
            queues.insert(&link_key(tail)[..], &delivery.id.to_bytes()[..])?;
            queues.insert(&queue[..], &ends_value(head, delivery.id)[..])?;
            Ok(false)
        }
    }
}

/// `delivery` is done (delivered, or failed without holding): if it heads
/// its queue, the next member still waiting becomes head and, if pending,
/// due. `deliveries` and `due` are the transaction's views of those trees.
pub(super) fn leave(
    queues: &TransactionalTree,
    deliveries: &TransactionalTree,
    due: &TransactionalTree,
    delivery: &Delivery,
    key: &str,
) -> Result<(), Abort> {
    let queue = queue_key(delivery.endpoint, key);
    let Some((head, tail)) = queues.get(queue)?.as_deref().and_then(ends) else {
        return Ok(());
    };
    if head != delivery.id {
        return Ok(());
    }
    let mut current = head;
    loop {
        let next = queues
            .remove(&link_key(current)[..])?
            .as_deref()
            .and_then(id_of);
        let Some(next) = next.filter(|_| current != tail) else {
            queues.remove(&queue[..])?;
            return Ok(());
        };
        current = next;
        let member: Option<Delivery> = deliveries
            .get(next.to_bytes())?
            .map(|bytes| serde_json::from_slice(&bytes))
            .transpose()
            .map_err(|error| corrupt(format!("delivery {next}: {error}")))?;
        let Some(member) = member else { continue };
        match (member.state, member.next_attempt_at) {
            (DeliveryState::Pending, Some(at)) => {
                due.insert(&due_key(member.endpoint, at, member.id)[..], &[][..])?;
            }
            (DeliveryState::Failed, _) if member.held => {}
            // Done while waiting (after a change of mode): skip it.
            _ => continue,
        }
        queues.insert(&queue[..], &ends_value(next, tail)[..])?;
        return Ok(());
    }
}
