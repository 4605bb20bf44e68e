//! Expiry of a tenant's old records (its `event_retention_days` quota):
//! finished deliveries with their attempts, events with their dedupe
//! entries (kept while a delivery still waits on them), and rejected
//! callbacks older than the tenant's cutoff. Each kind is read in id order
//! (time order) joined with the tenants' cutoffs, so tenants that keep
//! everything are never read; the cursor says where the next call goes on.

use std::collections::HashMap;

use tokio_postgres::Transaction;

use super::PgStore;
use crate::domain::Name;
use crate::ids::{DeliveryId, EventId, RejectedId};
use crate::store::{Expired, StoreError, Sweep, SweepCursor};

/// One kind's scan: the cursor moved past what was read; whether the
/// budget stopped it.
struct Scanned {
    ids: Vec<Vec<u8>>,
    more: bool,
}

impl PgStore {
    /// Removes the records older than their tenant's cutoff (epoch ms; a
    /// tenant absent from `cutoffs` keeps everything), oldest first from
    /// `cursor`, reading at most `budget` records of each kind;
    /// [`Sweep::more`] says whether to call again.
    pub async fn expire(
        &self,
        cutoffs: &HashMap<Name, u64>,
        cursor: &mut SweepCursor,
        budget: usize,
    ) -> Result<Sweep, StoreError> {
        let mut sweep = Sweep::default();
        if cutoffs.is_empty() {
            return Ok(sweep);
        }
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let tenants: Vec<&str> = cutoffs.keys().map(Name::as_str).collect();
                let budget = budget.clamp(1, i64::MAX as usize) as i64;
                let mut client = shared.client().await?;
                let tx = client.transaction().await?;
                let before = |min_at: fn(u64) -> [u8; 16]| -> Vec<Vec<u8>> {
                    cutoffs
                        .values()
                        .map(|&cutoff| min_at(cutoff).to_vec())
                        .collect()
                };
                let expired = &mut sweep.expired;
                // Deliveries first: an event goes only once nothing waits on it.
                let deliveries = scan(
                    &tx,
                    "deliveries",
                    &tenants,
                    &before(|ms| DeliveryId::min_at(ms).to_bytes()),
                    &mut cursor.deliveries,
                    budget,
                )
                .await?;
                // One statement: the attempts go with exactly the
                // deliveries that go.
                for row in tx
                    .query(
                        "WITH gone AS (
                             DELETE FROM deliveries WHERE id = ANY($1) AND NOT waiting
                             RETURNING id, tenant
                         ), attempts_gone AS (
                             DELETE FROM attempts WHERE delivery IN (SELECT id FROM gone)
                         )
                         SELECT tenant FROM gone",
                        &[&deliveries.ids],
                    )
                    .await?
                {
                    count(expired, row.try_get(0)?, |e| &mut e.deliveries);
                }
                let events = scan(
                    &tx,
                    "events",
                    &tenants,
                    &before(|ms| EventId::min_at(ms).to_bytes()),
                    &mut cursor.events,
                    budget,
                )
                .await?;
                for row in tx
                    .query(
                        "WITH gone AS (
                             DELETE FROM events e WHERE e.id = ANY($1) AND NOT EXISTS
                                 (SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.waiting)
                             RETURNING e.id, e.tenant
                         ), dedupe_gone AS (
                             DELETE FROM dedupe WHERE event IN (SELECT id FROM gone)
                         )
                         SELECT tenant FROM gone",
                        &[&events.ids],
                    )
                    .await?
                {
                    count(expired, row.try_get(0)?, |e| &mut e.events);
                }
                let rejected = scan(
                    &tx,
                    "rejected",
                    &tenants,
                    &before(|ms| RejectedId::min_at(ms).to_bytes()),
                    &mut cursor.rejected,
                    budget,
                )
                .await?;
                for row in tx
                    .query(
                        "DELETE FROM rejected WHERE id = ANY($1) RETURNING tenant",
                        &[&rejected.ids],
                    )
                    .await?
                {
                    count(expired, row.try_get(0)?, |e| &mut e.rejected);
                }
                tx.commit().await?;
                sweep.more = deliveries.more || events.more || rejected.more;
                Ok::<_, StoreError>(())
            }
            .await,
        )?;
        Ok(sweep)
    }
}

/// Counts one removed record of `tenant`.
fn count(expired: &mut HashMap<Name, Expired>, tenant: &str, field: fn(&mut Expired) -> &mut u64) {
    if let Ok(tenant) = tenant.parse::<Name>() {
        *field(expired.entry(tenant).or_default()) += 1;
    }
}

/// Reads the ids of `table` after `cursor` that are older than their
/// tenant's cutoff, at most `budget`, oldest first; moves the cursor.
async fn scan(
    tx: &Transaction<'_>,
    table: &'static str,
    tenants: &[&str],
    before: &[Vec<u8>],
    cursor: &mut Option<Vec<u8>>,
    budget: i64,
) -> Result<Scanned, StoreError> {
    let after = cursor.clone().unwrap_or_default();
    let rows = tx
        .query(
            &format!(
                "SELECT r.id FROM {table} r
                 JOIN unnest($1::text[], $2::bytea[]) AS c(tenant, before)
                     ON r.tenant = c.tenant AND r.id < c.before
                 WHERE r.id > $3
                 ORDER BY r.id LIMIT $4"
            ),
            &[&tenants, &before, &after, &budget],
        )
        .await?;
    let ids = rows
        .iter()
        .map(|row| row.try_get::<_, Vec<u8>>(0))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(last) = ids.last() {
        *cursor = Some(last.clone());
    }
    Ok(Scanned {
        more: ids.len() as i64 == budget,
        ids,
    })
}
