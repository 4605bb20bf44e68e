//! Canonical events keyed by their time-ordered id, and the dedupe index that
//! recognises a vendor's resend (dedupe key → the first event's id).
//!
//! An event's tenant is kept beside it, not in it (subscribers receive the
//! canonical shape unchanged): the default tenant's events are stored as
//! the event's JSON, as before tenants; another tenant's as
//! `{"tenant":"acme","event":{…}}`, from which the event's text is sliced
//! without decoding.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::codec::{decode, encode};
use super::deliveries::{AttemptWrite, DeliveryTrees, put_indexed};
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::event::{CanonicalEvent, EventFilter};
use crate::domain::tenant::{default_tenant, is_default};
use crate::ids::EventId;
use crate::store::{EventPage, Inserted, NewEvent};

/// One result per request of a batch (its events' fates), and the result
/// of the batch's attempt records.
pub(super) type BatchResults = (
    Vec<Result<Vec<Inserted>, StoreError>>,
    Result<(), StoreError>,
);

/// The trees an event insert touches. Cheap to clone (sled trees are
/// handles), so the commit thread can apply inserts itself.
#[derive(Clone)]
pub(super) struct EventTrees {
    pub(super) events: sled::Tree,
    pub(super) dedupe: sled::Tree,
    /// Deliveries, written with their event.
    pub(super) deliveries: DeliveryTrees,
}

impl EventTrees {
    #[cfg(test)]
    /// Stores events unless they are resends of stored ones (see
    /// [`EventTrees::insert_batch`]).
    fn insert(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.insert_batch(&[events], &[])
            .0
            .pop()
            .unwrap_or(Ok(Vec::new()))
    }

    /// Stores the events of several requests, unless they are resends of
    /// stored ones (or of one earlier in the batch), in one transaction:
    /// each new event goes in with its dedupe entry and its deliveries, so
    /// after a crash there is never an event without its deliveries nor a
    /// dedupe entry without its event (a resend would be refused as a
    /// duplicate of nothing). One result per request: a request whose events
    /// cannot be encoded fails alone. `attempts` (delivery attempts to
    /// record) go in the same transaction; the second result is theirs.
    pub(super) fn insert_batch(
        &self,
        requests: &[impl AsRef<[NewEvent]>],
        attempts: &[AttemptWrite],
    ) -> BatchResults {
        type Encoded<'a> = Vec<(&'a NewEvent, Option<[u8; 32]>, Vec<u8>)>;
        let encoded: Vec<Result<Encoded<'_>, StoreError>> = requests
            .iter()
            .map(|events| {
                events
                    .as_ref()
                    .iter()
                    .map(|new| {
                        let dedupe_key = dedupe_key(&new.tenant, &new.event);
                        Ok((new, dedupe_key, encode_event(&new.tenant, &new.event)?))
                    })
                    .collect()
            })
            .collect();
        if attempts.is_empty()
            && encoded
                .iter()
                .all(|request| request.as_ref().map_or(true, Vec::is_empty))
        {
            let results = encoded
                .into_iter()
                .map(|request| request.map(|_| Vec::new()))
                .collect();
            return (results, Ok(()));
        }
        let trees = &self.deliveries;
        let stored = (
            &self.events,
            &self.dedupe,
            &trees.deliveries,
            &trees.due,
            &trees.pending,
            &trees.by_endpoint,
            &trees.queues,
            &trees.attempts,
        )
            .transaction(
                |(
                    events_tx,
                    dedupe_tx,
                    deliveries_tx,
                    due_tx,
                    pending_tx,
                    by_endpoint_tx,
                    queues_tx,
                    attempts_tx,
                )| {
                    let views = (deliveries_tx, due_tx, pending_tx, by_endpoint_tx, queues_tx);
                    for write in attempts {
                        write.apply(views, attempts_tx)?;
                    }
                    let mut results = Vec::with_capacity(encoded.len());
                    for request in &encoded {
                        let Ok(request) = request else {
                            results.push(None);
                            continue;
                        };
                        let mut inserted = Vec::with_capacity(request.len());
                        for (new, dedupe_key, bytes) in request {
                            let event = &new.event;
                            let key = event.id.to_bytes();
                            if let Some(dedupe_key) = dedupe_key {
                                if let Some(existing) = dedupe_tx.get(dedupe_key)? {
                                    let first = <[u8; 16]>::try_from(&existing[..])
                                        .map_or(event.id, EventId::from_bytes);
                                    inserted.push(Inserted {
                                        id: first,
                                        duplicate: true,
                                    });
                                    continue;
                                }
                                dedupe_tx.insert(&dedupe_key[..], &key[..])?;
                            }
                            events_tx.insert(&key[..], bytes.as_slice())?;
                            for delivery in &new.deliveries {
                                put_indexed(views, delivery, None)?;
                            }
                            inserted.push(Inserted {
                                id: event.id,
                                duplicate: false,
                            });
                        }
                        results.push(Some(inserted));
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(results)
                },
            );
        match stored {
            Ok(results) => (
                encoded
                    .into_iter()
                    .zip(results)
                    .map(|(request, inserted)| request.map(|_| inserted.unwrap_or_default()))
                    .collect(),
                Ok(()),
            ),
            Err(error) => {
                let error = StoreError::from(error);
                let failed = |what: &'static str| StoreError::Io {
                    what,
                    detail: error.to_string(),
                };
                let results = encoded
                    .into_iter()
                    .map(|request| request.and_then(|_| Err(failed("storing events"))))
                    .collect();
                (results, Err(failed("recording delivery attempts")))
            }
        }
    }
}

impl SledStore {
    #[cfg(test)]
    fn event_trees(&self) -> EventTrees {
        EventTrees {
            events: self.events.clone(),
            dedupe: self.dedupe.clone(),
            deliveries: self.deliveries.clone(),
        }
    }

    #[cfg(test)]
    /// Stores events with their deliveries unless they are resends of
    /// stored ones. Not durable until [`SledStore::durable`] returns;
    /// [`SledStore::commit_events`] does both.
    pub fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.writable()?;
        self.event_trees().insert(events)
    }

    /// Stores events with their deliveries unless they are resends of
    /// stored ones, and returns once they are on disk. The inserts run on
    /// the store's commit thread, with other requests' inserts in one
    /// transaction under one flush.
    pub async fn commit_events(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        self.flush.insert(events).await
    }

    /// `tenant`'s event `id`.
    pub fn event(&self, tenant: &Name, id: EventId) -> Result<Option<CanonicalEvent>, StoreError> {
        let Some(bytes) = self.events.get(id.to_bytes())? else {
            return Ok(None);
        };
        let (owner, event) = split_stored(&bytes)?;
        if owner != *tenant {
            return Ok(None);
        }
        decode(&self.events, event).map(Some)
    }

    /// One event (whoever's) as the JSON text of its canonical shape: what
    /// renderers and request templates see, without decoding it at all.
    pub fn event_json(&self, id: EventId) -> Result<Option<String>, StoreError> {
        self.events
            .get(id.to_bytes())?
            .map(|bytes| {
                let (_, event) = split_stored(&bytes)?;
                String::from_utf8(event.to_vec()).map_err(|error| StoreError::Corrupt {
                    what: "an event record",
                    detail: error.to_string(),
                })
            })
            .transpose()
    }

    #[cfg(test)]
    /// Number of events stored.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// `tenant`'s events passing `filter`, newest first, one page.
    pub fn list_events(
        &self,
        tenant: &Name,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let lower = EventId::min_at(filter.since.unwrap_or(0)).to_bytes();
        let upper = match (filter.cursor, filter.until) {
            (Some(cursor), Some(until)) => cursor.min(EventId::min_at(until)),
            (Some(cursor), None) => cursor,
            (None, Some(until)) => EventId::min_at(until),
            (None, None) => EventId::from_bytes([0xff; 16]),
        }
        .to_bytes();
        let mut data = Vec::new();
        let mut next_cursor = None;
        for entry in self.events.range(lower..upper).rev() {
            let (_, bytes) = entry?;
            let (owner, event) = split_stored(&bytes)?;
            if owner != *tenant {
                continue;
            }
            let event: CanonicalEvent = decode(&self.events, event)?;
            if !filter.matches(&event) {
                continue;
            }
            if data.len() == limit {
                next_cursor = data.last().map(|last: &CanonicalEvent| last.id);
                break;
            }
            data.push(event);
        }
        Ok(EventPage { data, next_cursor })
    }
}

/// The bytes stored for `tenant`'s `event` (see the module's note).
fn encode_event(tenant: &Name, event: &CanonicalEvent) -> Result<Vec<u8>, StoreError> {
    let json = encode(event)?;
    if is_default(tenant) {
        return Ok(json);
    }
    let mut bytes = wrapped_prefix(tenant.as_str()).into_bytes();
    bytes.extend_from_slice(&json);
    bytes.push(b'}');
    Ok(bytes)
}

/// What a wrapped event's bytes start with. Names need no JSON escaping.
fn wrapped_prefix(tenant: &str) -> String {
    format!("{{\"tenant\":\"{tenant}\",\"event\":")
}

/// A stored event's tenant and the text of the event itself.
pub(super) fn split_stored(bytes: &[u8]) -> Result<(Name, &[u8]), StoreError> {
    const OPENING: &[u8] = b"{\"tenant\":\"";
    let Some(rest) = bytes.strip_prefix(OPENING) else {
        return Ok((default_tenant(), bytes));
    };
    let corrupt = || StoreError::Corrupt {
        what: "an event record",
        detail: "its tenant wrapper is malformed".to_owned(),
    };
    let end = rest.iter().position(|&b| b == b'"').ok_or_else(corrupt)?;
    let tenant = std::str::from_utf8(&rest[..end]).map_err(|_| corrupt())?;
    let prefix = wrapped_prefix(tenant);
    let event = bytes
        .strip_prefix(prefix.as_bytes())
        .and_then(|inner| inner.strip_suffix(b"}"))
        .ok_or_else(corrupt)?;
    Ok((tenant.parse().map_err(|_| corrupt())?, event))
}

/// The key a resend of `tenant`'s `event` is recognised by: the event's
/// own for the default tenant (as before tenants), else mixed with the
/// tenant's name, so one tenant's published event is never taken for a
/// resend of another's.
pub(super) fn dedupe_key(tenant: &Name, event: &CanonicalEvent) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let key = event.dedupe_key()?;
    if is_default(tenant) {
        return Some(key);
    }
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(key);
    Some(hasher.finalize().into())
}
