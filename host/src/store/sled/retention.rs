//! Expiry of a tenant's old records (its `event_retention_days` quota):
//! events with their dedupe entries, finished deliveries with their
//! attempts, and rejected callbacks older than the tenant's cutoff. An
//! event a delivery still waits on (pending, or failed and holding its
//! endpoint's queue) is kept until that delivery is finished.
//!
//! Every kind is keyed by a time-ordered id, so a sweep reads from the
//! oldest record up to the latest cutoff and stops there. Records of
//! tenants that keep everything are read and skipped on each sweep; the
//! PostgreSQL store indexes (tenant, time) instead.

use std::collections::HashMap;
use std::ops::Bound;

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::codec::decode;
use super::events::{dedupe_key, split_stored};
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::endpoint::Endpoint;
use crate::domain::event::CanonicalEvent;
use crate::domain::rejected::RejectedCallback;
use crate::ids::{DeliveryId, EventId, RejectedId};
use crate::store::{Expired, Sweep, SweepCursor};

/// Reads `tree` from after `cursor` up to `end` (excluded), at most
/// `budget` entries, handing each to `each`; moves `cursor` along. True
/// when it stopped at the budget.
fn scan(
    tree: &sled::Tree,
    cursor: &mut Option<Vec<u8>>,
    end: [u8; 16],
    budget: usize,
    mut each: impl FnMut(&sled::IVec, &sled::IVec) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    let start = match cursor.take() {
        Some(last) => Bound::Excluded(sled::IVec::from(last)),
        None => Bound::Unbounded,
    };
    let end = Bound::Excluded(sled::IVec::from(&end[..]));
    for (read, entry) in tree.range::<sled::IVec, _>((start, end)).enumerate() {
        if read == budget {
            return Ok(true);
        }
        let (key, bytes) = entry?;
        each(&key, &bytes)?;
        *cursor = Some(key.to_vec());
    }
    Ok(false)
}

impl SledStore {
    /// Removes the records older than their tenant's cutoff (epoch ms; a
    /// tenant absent from `cutoffs` keeps everything), oldest first from
    /// `cursor`, reading at most `budget` records of each kind;
    /// [`Sweep::more`] says whether to call again.
    pub fn expire(
        &self,
        cutoffs: &HashMap<Name, u64>,
        cursor: &mut SweepCursor,
        budget: usize,
    ) -> Result<Sweep, StoreError> {
        let mut sweep = Sweep::default();
        let Some(&latest) = cutoffs.values().max() else {
            return Ok(sweep);
        };
        self.writable()?;
        let cutoff_of = |tenant: &Name| cutoffs.get(tenant).copied();
        // Deliveries first: an event goes only once nothing waits on it.
        let expired = &mut sweep.expired;
        let deliveries =
            self.expire_deliveries(&cutoff_of, latest, &mut cursor.deliveries, budget, expired)?;
        let events = self.expire_events(&cutoff_of, latest, &mut cursor.events, budget, expired)?;
        let rejected =
            self.expire_rejected(&cutoff_of, latest, &mut cursor.rejected, budget, expired)?;
        sweep.more = deliveries || events || rejected;
        Ok(sweep)
    }

    fn expire_deliveries(
        &self,
        cutoff_of: &impl Fn(&Name) -> Option<u64>,
        latest: u64,
        cursor: &mut Option<Vec<u8>>,
        budget: usize,
        expired: &mut HashMap<Name, Expired>,
    ) -> Result<bool, StoreError> {
        let trees = &self.deliveries;
        let end = DeliveryId::min_at(latest).to_bytes();
        scan(&trees.deliveries, cursor, end, budget, |key, bytes| {
            let delivery: Delivery = decode(&trees.deliveries, bytes)?;
            let finished = match delivery.state {
                DeliveryState::Succeeded => true,
                DeliveryState::Failed => !delivery.held,
                DeliveryState::Pending => false,
            };
            let old =
                cutoff_of(&delivery.tenant).is_some_and(|cutoff| delivery.id.time_ms() < cutoff);
            if !(finished && old) {
                return Ok(());
            }
            // The record goes last: a crash part way leaves a delivery the
            // next sweep removes, never an index entry pointing at nothing
            // that is not skipped already.
            for attempt in trees.attempts.scan_prefix(delivery.id.to_bytes()).keys() {
                trees.attempts.remove(attempt?)?;
            }
            let mut endpoint_key = delivery.endpoint.to_bytes().to_vec();
            endpoint_key.extend_from_slice(&delivery.id.to_bytes());
            trees.by_endpoint.remove(endpoint_key)?;
            trees.deliveries.remove(key)?;
            expired.entry(delivery.tenant).or_default().deliveries += 1;
            Ok(())
        })
    }

    fn expire_events(
        &self,
        cutoff_of: &impl Fn(&Name) -> Option<u64>,
        latest: u64,
        cursor: &mut Option<Vec<u8>>,
        budget: usize,
        expired: &mut HashMap<Name, Expired>,
    ) -> Result<bool, StoreError> {
        let end = EventId::min_at(latest).to_bytes();
        let endpoints = self.all_endpoints()?;
        scan(&self.events, cursor, end, budget, |key, bytes| {
            let (tenant, text) = split_stored(bytes)?;
            let Ok(id_bytes) = <[u8; 16]>::try_from(&key[..]) else {
                return Ok(());
            };
            let id = EventId::from_bytes(id_bytes);
            if cutoff_of(&tenant).is_none_or(|cutoff| id.time_ms() >= cutoff) {
                return Ok(());
            }
            let event: CanonicalEvent = decode(&self.events, text)?;
            if self.remove_event(&tenant, &event, &endpoints)? {
                expired.entry(tenant).or_default().events += 1;
            }
            Ok(())
        })
    }

    /// Removes `tenant`'s `event` with its dedupe entry, in one
    /// transaction that also reads whether a delivery to one of the
    /// tenant's endpoints still waits on it (then nothing is removed).
    fn remove_event(
        &self,
        tenant: &Name,
        event: &CanonicalEvent,
        endpoints: &[Endpoint],
    ) -> Result<bool, StoreError> {
        let id = event.id.to_bytes();
        let waiting_keys: Vec<Vec<u8>> = endpoints
            .iter()
            .filter(|endpoint| &endpoint.tenant == tenant)
            .map(|endpoint| {
                let mut key = endpoint.id.to_bytes().to_vec();
                key.extend_from_slice(&id);
                key
            })
            .collect();
        let dedupe = dedupe_key(tenant, event);
        let trees = &self.deliveries;
        let removed = (&self.events, &self.dedupe, &trees.pending, &trees.unfanned).transaction(
            |(events, dedupe_tx, pending, unfanned)| {
                for key in &waiting_keys {
                    if pending.get(key)?.is_some() {
                        return Ok(false);
                    }
                }
                if let Some(dedupe) = dedupe
                    && dedupe_tx
                        .get(dedupe)?
                        .is_some_and(|first| first[..] == id[..])
                {
                    dedupe_tx.remove(&dedupe[..])?;
                }
                unfanned.remove(&id[..])?;
                events.remove(&id[..])?;
                Ok::<_, ConflictableTransactionError<StoreError>>(true)
            },
        );
        removed.map_err(StoreError::from)
    }

    fn expire_rejected(
        &self,
        cutoff_of: &impl Fn(&Name) -> Option<u64>,
        latest: u64,
        cursor: &mut Option<Vec<u8>>,
        budget: usize,
        expired: &mut HashMap<Name, Expired>,
    ) -> Result<bool, StoreError> {
        let end = RejectedId::min_at(latest).to_bytes();
        scan(&self.rejected, cursor, end, budget, |key, bytes| {
            let rejected: RejectedCallback = decode(&self.rejected, bytes)?;
            if cutoff_of(&rejected.tenant).is_some_and(|cutoff| rejected.id.time_ms() < cutoff) {
                self.rejected.remove(key)?;
                expired.entry(rejected.tenant).or_default().rejected += 1;
            }
            Ok(())
        })
    }
}
