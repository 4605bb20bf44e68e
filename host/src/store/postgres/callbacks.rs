//! Accepted callbacks kept for the callback retention, by their
//! time-ordered id: written in batches without waiting for the disk,
//! listed per source newest first, expired oldest first.

use std::collections::HashMap;

use super::PgStore;
use super::rows::{encode, records};
use crate::domain::Name;
use crate::domain::rejected::KeptCallback;
use crate::ids::CallbackId;
use crate::store::StoreError;

impl PgStore {
    /// Keeps accepted callbacks, in one statement. The commit does not
    /// wait for the disk: a kept callback is a record for replays, not
    /// something a response promised, so it costs ingest no flush.
    pub async fn keep_callbacks(&self, callbacks: &[KeptCallback]) -> Result<(), StoreError> {
        if callbacks.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(callbacks.len());
        let mut tenants = Vec::with_capacity(callbacks.len());
        let mut sources = Vec::with_capacity(callbacks.len());
        let mut encoded = Vec::with_capacity(callbacks.len());
        for callback in callbacks {
            ids.push(callback.id.to_bytes().to_vec());
            tenants.push(callback.tenant.as_str());
            sources.push(callback.source.as_str());
            encoded.push(encode(callback)?);
        }
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let mut client = shared.client().await?;
                let tx = client.transaction().await?;
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await?;
                tx.execute(
                    "INSERT INTO kept_callbacks (id, tenant, source, record)
                     SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[])
                     ON CONFLICT (id) DO NOTHING",
                    &[&ids, &tenants, &sources, &encoded],
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }
            .await,
        )
    }

    /// `tenant`'s source's kept callbacks that arrived at or after
    /// `since_ms` and before the callback `before` (a cursor), newest
    /// first, at most `limit`.
    pub async fn kept_callbacks_of(
        &self,
        tenant: &Name,
        source: &str,
        since_ms: u64,
        before: Option<CallbackId>,
        limit: usize,
    ) -> Result<Vec<KeptCallback>, StoreError> {
        let from = CallbackId::min_at(since_ms).to_bytes().to_vec();
        let before = before.map(|id| id.to_bytes().to_vec());
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM kept_callbacks
                         WHERE tenant = $1 AND source = $2 AND id >= $3
                             AND ($4::bytea IS NULL OR id < $4)
                         ORDER BY id DESC LIMIT $5",
                        &[
                            &tenant.as_str(),
                            &source,
                            &from,
                            &before,
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await?;
                records("a kept callback record", &rows)
            }
            .await,
        )
    }

    /// Removes kept callbacks older than `window_cutoff_ms`, or than their
    /// tenant's cutoff in `cutoffs` when that is later, at most `budget`
    /// of each; returns the removed per tenant and whether the budget
    /// stopped it. Needs no cursor: what it reads it removes.
    pub async fn expire_kept_callbacks(
        &self,
        cutoffs: &HashMap<Name, u64>,
        window_cutoff_ms: u64,
        _cursor: &mut Option<Vec<u8>>,
        budget: usize,
    ) -> Result<(HashMap<Name, u64>, bool), StoreError> {
        let budget = budget.clamp(1, i64::MAX as usize) as i64;
        let window = CallbackId::min_at(window_cutoff_ms).to_bytes().to_vec();
        // Everyone's past the window; then each tenant whose own retention
        // ends before the window does.
        let mut passes: Vec<(Option<&str>, Vec<u8>)> = vec![(None, window)];
        passes.extend(
            cutoffs
                .iter()
                .filter(|(_, cutoff)| **cutoff > window_cutoff_ms)
                .map(|(tenant, &cutoff)| {
                    (
                        Some(tenant.as_str()),
                        CallbackId::min_at(cutoff).to_bytes().to_vec(),
                    )
                }),
        );
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let client = shared.client().await?;
                let mut removed: HashMap<Name, u64> = HashMap::new();
                let mut more = false;
                for (tenant, before) in &passes {
                    let rows = client
                        .query(
                            "DELETE FROM kept_callbacks WHERE id IN (
                                 SELECT id FROM kept_callbacks
                                 WHERE id < $1 AND ($2::text IS NULL OR tenant = $2)
                                 ORDER BY id LIMIT $3)
                             RETURNING tenant",
                            &[before, tenant, &budget],
                        )
                        .await?;
                    more |= rows.len() as i64 == budget;
                    for row in rows {
                        if let Ok(tenant) = row.try_get::<_, &str>(0)?.parse::<Name>() {
                            *removed.entry(tenant).or_default() += 1;
                        }
                    }
                }
                Ok((removed, more))
            }
            .await,
        )
    }
}
