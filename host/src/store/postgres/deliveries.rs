//! Deliveries and their attempts. The delivery engine's indexes are
//! queries over partial indexes, not maintained structures: what is due is
//! the pending deliveries of an endpoint by due time, except that a keyed
//! delivery is due only when no earlier (by event) waiting delivery of the
//! same endpoint and key exists; an endpoint's strict head is its waiting
//! delivery of the earliest event. "Waiting" is pending, or failed and
//! holding what is ordered behind it.

use std::time::Instant;

use deadpool_postgres::Transaction as PooledTransaction;
use tokio_postgres::Transaction;

use super::PgStore;
use super::rows::{self, encode, record, records};
use crate::domain::Name;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::event::CanonicalEvent;
use crate::ids::{DeliveryId, EndpointId, EventId};
#[cfg(test)]
use crate::store::Due;
use crate::store::StoreError;

/// Deliveries as column arrays, for one multi-row insert or update.
#[derive(Default)]
pub(super) struct DeliveryColumns {
    ids: Vec<Vec<u8>>,
    tenants: Vec<String>,
    endpoints: Vec<Vec<u8>>,
    events: Vec<Vec<u8>>,
    states: Vec<&'static str>,
    waiting: Vec<bool>,
    keys: Vec<Option<String>>,
    due: Vec<Option<i64>>,
    records: Vec<String>,
}

impl DeliveryColumns {
    /// Adds `delivery`.
    pub(super) fn push(&mut self, delivery: &Delivery) -> Result<(), StoreError> {
        self.records.push(encode(delivery)?);
        self.ids.push(delivery.id.to_bytes().to_vec());
        self.tenants.push(delivery.tenant.as_str().to_owned());
        self.endpoints.push(delivery.endpoint.to_bytes().to_vec());
        self.events.push(delivery.event.to_bytes().to_vec());
        self.states.push(rows::delivery_state(delivery.state));
        self.waiting.push(rows::waiting(delivery));
        self.keys.push(delivery.ordering_key.clone());
        self.due.push(delivery.next_attempt_at.map(rows::ms));
        Ok(())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Inserts them all; one already stored (a fan-out redone) is left as
    /// it is.
    pub(super) async fn insert(&self, tx: &PooledTransaction<'_>) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        let statement = tx
            .prepare_cached(
                "INSERT INTO deliveries
                     (id, tenant, endpoint, event, state, waiting, ordering_key, next_attempt_at, record)
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::bytea[], $4::bytea[], $5::text[],
                                      $6::bool[], $7::text[], $8::int8[], $9::text[])
                 ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        tx.execute(
            &statement,
            &[
                &self.ids,
                &self.tenants,
                &self.endpoints,
                &self.events,
                &self.states,
                &self.waiting,
                &self.keys,
                &self.due,
                &self.records,
            ],
        )
        .await?;
        Ok(())
    }

    /// Replaces the state of those stored (an attempt's outcome), ending
    /// their leases and marking them answered when `answered` says (one
    /// instant each, in order): the database's clock less how long ago the
    /// node had the answer, so the time a commit waited does not count
    /// against an endpoint's rate limit.
    pub(super) async fn update(
        &self,
        tx: &PooledTransaction<'_>,
        answered: &[Instant],
    ) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        let statement = tx
            .prepare_cached(
                "UPDATE deliveries d SET state = u.state, waiting = u.waiting,
                 ordering_key = u.ordering_key, next_attempt_at = u.next_attempt_at,
                 record = u.record, lease_node = NULL, lease_until = NULL,
                 answered_at = (extract(epoch FROM clock_timestamp()) * 1000)::int8 - u.age_ms
             FROM unnest($1::bytea[], $2::text[], $3::bool[], $4::text[], $5::int8[], $6::text[],
                         $7::int8[])
                 AS u(id, state, waiting, ordering_key, next_attempt_at, record, age_ms)
             WHERE d.id = u.id",
            )
            .await?;
        let ages: Vec<i64> = (0..self.ids.len())
            .map(|row| {
                answered.get(row).map_or(0, |at| {
                    i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX)
                })
            })
            .collect();
        tx.execute(
            &statement,
            &[
                &self.ids,
                &self.states,
                &self.waiting,
                &self.keys,
                &self.due,
                &self.records,
                &ages,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Attempts as column arrays, for one multi-row insert.
#[derive(Default)]
pub(super) struct AttemptColumns {
    deliveries: Vec<Vec<u8>>,
    numbers: Vec<i32>,
    records: Vec<String>,
}

impl AttemptColumns {
    pub(super) fn push(
        &mut self,
        delivery: DeliveryId,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        self.records.push(encode(attempt)?);
        self.deliveries.push(delivery.to_bytes().to_vec());
        self.numbers
            .push(i32::try_from(attempt.number).unwrap_or(i32::MAX));
        Ok(())
    }

    /// Inserts them all; an attempt recorded already (its commit's answer
    /// was lost) is replaced.
    pub(super) async fn insert(&self, tx: &PooledTransaction<'_>) -> Result<(), StoreError> {
        if self.deliveries.is_empty() {
            return Ok(());
        }
        let statement = tx
            .prepare_cached(
                "INSERT INTO attempts (delivery, number, record)
                 SELECT * FROM unnest($1::bytea[], $2::int4[], $3::text[])
                 ON CONFLICT (delivery, number) DO UPDATE SET record = EXCLUDED.record",
            )
            .await?;
        tx.execute(
            &statement,
            &[&self.deliveries, &self.numbers, &self.records],
        )
        .await?;
        Ok(())
    }
}

/// Inserts or replaces one delivery in `tx`, ending its lease.
pub(super) async fn update(tx: &Transaction<'_>, delivery: &Delivery) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO deliveries
             (id, tenant, endpoint, event, state, waiting, ordering_key, next_attempt_at, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, waiting = EXCLUDED.waiting,
             ordering_key = EXCLUDED.ordering_key, next_attempt_at = EXCLUDED.next_attempt_at,
             record = EXCLUDED.record, lease_node = NULL, lease_until = NULL",
        &[
            &&delivery.id.to_bytes()[..],
            &delivery.tenant.as_str(),
            &&delivery.endpoint.to_bytes()[..],
            &&delivery.event.to_bytes()[..],
            &rows::delivery_state(delivery.state),
            &rows::waiting(delivery),
            &delivery.ordering_key,
            &delivery.next_attempt_at.map(rows::ms),
            &encode(delivery)?,
        ],
    )
    .await?;
    Ok(())
}

/// The condition that a pending delivery `d` heads its key (or has none).
pub(super) const KEY_HEAD: &str = "(d.ordering_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM deliveries e
        WHERE e.endpoint = d.endpoint AND e.ordering_key = d.ordering_key
            AND e.waiting AND e.event < d.event))";

impl PgStore {
    /// Nothing: events are committed with their deliveries, and there are
    /// no markers of an earlier version's in a PostgreSQL database.
    pub async fn unfanned_events(
        &self,
        _limit: usize,
    ) -> Result<Vec<(Name, CanonicalEvent)>, StoreError> {
        Ok(Vec::new())
    }

    /// Stores the deliveries made from `events` (already stored ones are
    /// left as they are).
    pub async fn record_fanout(
        &self,
        deliveries: &[Delivery],
        _events: &[EventId],
    ) -> Result<(), StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut columns = DeliveryColumns::default();
                for delivery in deliveries {
                    columns.push(delivery)?;
                }
                let mut client = shared.client().await?;
                let tx = client.transaction().await?;
                columns.insert(&tx).await?;
                tx.commit().await?;
                Ok(())
            }
            .await,
        )
    }

    #[cfg(test)]
    /// `endpoint`'s deliveries due at or before `now_ms`, earliest first, at
    /// most `limit`: pending, and heading their key if they have one.
    pub async fn due_deliveries(
        &self,
        endpoint: EndpointId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<Due>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let statement = client
                    .prepare_cached(&format!(
                        "SELECT d.id, d.next_attempt_at FROM deliveries d
                         WHERE d.endpoint = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2
                             AND {KEY_HEAD}
                         ORDER BY d.next_attempt_at, d.id LIMIT $3"
                    ))
                    .await?;
                let rows = client
                    .query(
                        &statement,
                        &[
                            &&endpoint.to_bytes()[..],
                            &rows::ms(now_ms),
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await?;
                rows.iter()
                    .map(|row| -> Result<Due, StoreError> {
                        Ok(Due {
                            id: DeliveryId::from_bytes(rows::id_at(row, 0)?),
                            at_ms: rows::from_ms(row.try_get(1)?),
                            endpoint,
                        })
                    })
                    .collect()
            }
            .await,
        )
    }

    /// When `endpoint`'s earliest attemptable pending delivery is due.
    pub async fn next_due_at(&self, endpoint: EndpointId) -> Result<Option<u64>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let statement = client
                    .prepare_cached(&format!(
                        "SELECT d.next_attempt_at FROM deliveries d
                         WHERE d.endpoint = $1 AND d.state = 'pending'
                             AND d.next_attempt_at IS NOT NULL AND {KEY_HEAD}
                         ORDER BY d.next_attempt_at LIMIT 1"
                    ))
                    .await?;
                let row = client
                    .query_opt(&statement, &[&&endpoint.to_bytes()[..]])
                    .await?;
                Ok(row
                    .map(|row| row.try_get::<_, i64>(0))
                    .transpose()?
                    .map(rows::from_ms))
            }
            .await,
        )
    }

    /// Waiting deliveries in all (those behind a key's head and those held
    /// included), for the queue-depth metric; 0 when the database does not
    /// answer.
    pub async fn pending_count(&self) -> usize {
        let shared = &self.shared;
        let counted = shared.track(
            async {
                let client = shared.client().await?;
                let count: i64 = client
                    .query_one("SELECT count(*) FROM deliveries WHERE waiting", &[])
                    .await?
                    .try_get(0)?;
                Ok::<_, StoreError>(count)
            }
            .await,
        );
        counted.map_or(0, |count| usize::try_from(count).unwrap_or(0))
    }

    #[cfg(test)]
    /// The endpoint's waiting delivery of the earliest event: the only one
    /// an endpoint ordered as a whole may attempt.
    pub async fn endpoint_head(
        &self,
        endpoint: EndpointId,
    ) -> Result<Option<DeliveryId>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let statement = client
                    .prepare_cached(
                        "SELECT id FROM deliveries WHERE endpoint = $1 AND waiting
                         ORDER BY event LIMIT 1",
                    )
                    .await?;
                let row = client
                    .query_opt(&statement, &[&&endpoint.to_bytes()[..]])
                    .await?;
                row.map(|row| rows::id_at(&row, 0).map(DeliveryId::from_bytes))
                    .transpose()
            }
            .await,
        )
    }

    /// One delivery.
    pub async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let statement = client
                    .prepare_cached("SELECT record FROM deliveries WHERE id = $1")
                    .await?;
                let row = client.query_opt(&statement, &[&&id.to_bytes()[..]]).await?;
                row.map(|row| record("a delivery record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// A delivery's attempts, in order.
    pub async fn attempts(&self, id: DeliveryId) -> Result<Vec<Attempt>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM attempts WHERE delivery = $1 ORDER BY number",
                        &[&&id.to_bytes()[..]],
                    )
                    .await?;
                records("an attempt record", &rows)
            }
            .await,
        )
    }

    /// Records an attempt and the delivery's new state at once, in the
    /// group commit's next transaction; returns once committed.
    pub async fn commit_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
        _previous_due: Option<u64>,
    ) -> Result<(), StoreError> {
        self.shared
            .track(self.commit.attempt(delivery.clone(), attempt.clone()).await)
    }

    /// Replaces a delivery's state (manual retry, replay).
    pub async fn update_delivery(
        &self,
        delivery: &Delivery,
        _previous_due: Option<u64>,
    ) -> Result<(), StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let mut client = shared.client().await?;
                let tx = client.transaction().await?;
                update(&tx, delivery).await?;
                tx.commit().await?;
                Ok(())
            }
            .await,
        )
    }

    /// An endpoint's deliveries, newest first, optionally in one state,
    /// created before `before` (a cursor), at most `limit`.
    pub async fn deliveries_of(
        &self,
        endpoint: EndpointId,
        state: Option<DeliveryState>,
        before: Option<DeliveryId>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let before = before.map_or([0xff; 16], DeliveryId::to_bytes);
                let rows = client
                    .query(
                        "SELECT record FROM deliveries
                         WHERE endpoint = $1 AND id < $2 AND ($3::text IS NULL OR state = $3)
                         ORDER BY id DESC LIMIT $4",
                        &[
                            &&endpoint.to_bytes()[..],
                            &&before[..],
                            &state.map(rows::delivery_state),
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await?;
                records("a delivery record", &rows)
            }
            .await,
        )
    }
}
