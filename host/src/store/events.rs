//! Canonical events keyed by their time-ordered id, and the dedupe index that
//! recognises a vendor's resend (dedupe key → the first event's id).

use serde::Serialize;
use utoipa::ToSchema;

use super::codec::{self, decode, encode};
use super::{Store, StoreError};
use crate::domain::event::{CanonicalEvent, EventFilter};
use crate::ids::EventId;

/// What became of one event handed to [`Store::insert_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Inserted {
    /// The stored event's id; for a duplicate, the id of the event stored
    /// the first time.
    pub id: EventId,
    /// The same event was already stored.
    pub duplicate: bool,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventPage {
    /// The events, newest first.
    pub data: Vec<CanonicalEvent>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<EventId>,
}

impl Store {
    /// Stores events unless they are resends of stored ones. Not durable
    /// until [`Store::durable`] returns.
    pub fn insert_events(&self, events: &[CanonicalEvent]) -> Result<Vec<Inserted>, StoreError> {
        let mut results = Vec::with_capacity(events.len());
        for event in events {
            let key = event.id.to_bytes();
            // The event goes in before its dedupe entry: a crash between the
            // two leaves an event a resend may duplicate (at least once),
            // never a dedupe entry pointing at nothing.
            self.events.insert(key, encode(event)?)?;
            let inserted = match event.dedupe_key() {
                None => Inserted {
                    id: event.id,
                    duplicate: false,
                },
                Some(dedupe_key) => {
                    match self.dedupe.compare_and_swap(
                        dedupe_key,
                        None as Option<&[u8]>,
                        Some(&key[..]),
                    )? {
                        Ok(()) => Inserted {
                            id: event.id,
                            duplicate: false,
                        },
                        Err(existing) => {
                            self.events.remove(key)?;
                            let first = existing
                                .current
                                .and_then(|bytes| <[u8; 16]>::try_from(&bytes[..]).ok())
                                .map_or(event.id, EventId::from_bytes);
                            Inserted {
                                id: first,
                                duplicate: true,
                            }
                        }
                    }
                }
            };
            results.push(inserted);
        }
        Ok(results)
    }

    /// One event.
    pub fn event(&self, id: EventId) -> Result<Option<CanonicalEvent>, StoreError> {
        codec::get(&self.events, id.to_bytes())
    }

    /// Number of events stored.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Events passing `filter`, newest first, one page.
    pub fn list_events(&self, filter: &EventFilter, limit: usize) -> Result<EventPage, StoreError> {
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
            let event: CanonicalEvent = decode(&self.events, &bytes)?;
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
