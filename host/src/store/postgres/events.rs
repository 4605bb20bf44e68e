//! Canonical events by their time-ordered id, the tenant in its own column
//! (the record is the canonical shape alone, what subscribers receive), and
//! the dedupe table that recognises a vendor's resend (its key → the first
//! event's id). Events go in through the group commit (see
//! [`super::commit`]), with their deliveries, in one transaction.

use super::PgStore;
use super::rows;
use crate::domain::Name;
use crate::domain::event::{CanonicalEvent, EventFilter};
use crate::domain::tenant::is_default;
use crate::ids::EventId;
use crate::store::{EventPage, Inserted, NewEvent, StoreError};

/// How many rows a listing reads at a time while it fills a page (filters
/// other than source and time are applied to the decoded events).
const LIST_CHUNK: i64 = 500;

impl PgStore {
    /// Stores events with their deliveries unless they are resends of
    /// stored ones (or of one earlier in the same batch), and returns once
    /// they are committed, with other requests' events in one transaction.
    pub async fn commit_events(&self, events: Vec<NewEvent>) -> Result<Vec<Inserted>, StoreError> {
        self.shared.track(self.commit.insert(events).await)
    }

    #[cfg(test)]
    /// Stores events with their deliveries, committed (as
    /// [`PgStore::commit_events`]).
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.commit_events(events.to_vec()).await
    }

    /// `tenant`'s event `id`.
    pub async fn event(
        &self,
        tenant: &Name,
        id: EventId,
    ) -> Result<Option<CanonicalEvent>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT record FROM events WHERE id = $1 AND tenant = $2",
                        &[&&id.to_bytes()[..], &tenant.as_str()],
                    )
                    .await?;
                row.map(|row| rows::record("an event record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// One event (whoever's) as the JSON text of its canonical shape, as
    /// stored: not decoded at all.
    pub async fn event_json(&self, id: EventId) -> Result<Option<String>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let statement = client
                    .prepare_cached("SELECT record FROM events WHERE id = $1")
                    .await?;
                let row = client.query_opt(&statement, &[&&id.to_bytes()[..]]).await?;
                Ok(row.map(|row| row.try_get::<_, String>(0)).transpose()?)
            }
            .await,
        )
    }

    #[cfg(test)]
    /// Number of events stored.
    pub async fn event_count(&self) -> usize {
        let count = async {
            let client = self.shared.client().await?;
            let count: i64 = client
                .query_one("SELECT count(*) FROM events", &[])
                .await?
                .try_get(0)?;
            Ok::<_, StoreError>(count)
        };
        count.await.map_or(0, |count| count as usize)
    }

    /// `tenant`'s events passing `filter`, newest first, one page.
    pub async fn list_events(
        &self,
        tenant: &Name,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<EventPage, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let lower = EventId::min_at(filter.since.unwrap_or(0)).to_bytes();
                let mut upper = match (filter.cursor, filter.until) {
                    (Some(cursor), Some(until)) => cursor.min(EventId::min_at(until)),
                    (Some(cursor), None) => cursor,
                    (None, Some(until)) => EventId::min_at(until),
                    (None, None) => EventId::from_bytes([0xff; 16]),
                }
                .to_bytes();
                let source = filter.source.as_deref();
                let mut data: Vec<CanonicalEvent> = Vec::new();
                loop {
                    let rows = client
                        .query(
                            "SELECT id, record FROM events
                             WHERE tenant = $1 AND id >= $2 AND id < $3
                                 AND ($4::text IS NULL OR source = $4)
                             ORDER BY id DESC LIMIT $5",
                            &[
                                &tenant.as_str(),
                                &&lower[..],
                                &&upper[..],
                                &source,
                                &LIST_CHUNK,
                            ],
                        )
                        .await?;
                    for row in &rows {
                        let event: CanonicalEvent = rows::record("an event record", row, 1)?;
                        if !filter.matches(&event) {
                            continue;
                        }
                        if data.len() == limit {
                            let next_cursor = data.last().map(|last| last.id);
                            return Ok(EventPage { data, next_cursor });
                        }
                        data.push(event);
                    }
                    match rows.last() {
                        Some(last) if rows.len() as i64 == LIST_CHUNK => {
                            upper = rows::id_at(last, 0)?;
                        }
                        _ => {
                            return Ok(EventPage {
                                data,
                                next_cursor: None,
                            });
                        }
                    }
                }
            }
            .await,
        )
    }
}

/// The key a resend of `tenant`'s `event` is recognised by: the event's own
/// for the default tenant, else mixed with the tenant's name, so one
/// tenant's published event is never taken for a resend of another's. (The
/// embedded store's, so a migrated database recognises the same resends.)
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

/// An event's record text (its canonical shape alone).
pub(super) fn encode_event(event: &CanonicalEvent) -> Result<String, StoreError> {
    rows::encode(event)
}
