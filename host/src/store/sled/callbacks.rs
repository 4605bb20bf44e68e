//! Accepted callbacks kept for the callback retention, keyed by their
//! time-ordered id: listed per source newest first, expired oldest first.

use std::collections::HashMap;
use std::ops::Bound;

use super::codec::{self, decode};
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::rejected::KeptCallback;
use crate::ids::CallbackId;

impl SledStore {
    /// Keeps accepted callbacks. Not flushed here: a kept callback is a
    /// record for replays, not something a response promised.
    pub fn keep_callbacks(&self, callbacks: &[KeptCallback]) -> Result<(), StoreError> {
        self.writable()?;
        for callback in callbacks {
            codec::put(&self.callbacks, callback.id.to_bytes(), callback)?;
        }
        Ok(())
    }

    /// `tenant`'s source's kept callbacks that arrived at or after
    /// `since_ms` and before the callback `before` (a cursor), newest
    /// first, at most `limit`.
    pub fn kept_callbacks_of(
        &self,
        tenant: &Name,
        source: &str,
        since_ms: u64,
        before: Option<CallbackId>,
        limit: usize,
    ) -> Result<Vec<KeptCallback>, StoreError> {
        let start = Bound::Included(sled::IVec::from(
            &CallbackId::min_at(since_ms).to_bytes()[..],
        ));
        let end = match before {
            Some(id) => Bound::Excluded(sled::IVec::from(&id.to_bytes()[..])),
            None => Bound::Unbounded,
        };
        let mut found = Vec::new();
        for bytes in self.callbacks.range((start, end)).values().rev() {
            let kept: KeptCallback = decode(&self.callbacks, &bytes?)?;
            if &kept.tenant == tenant && kept.source.as_str() == source {
                found.push(kept);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Removes kept callbacks older than `window_cutoff_ms`, or than their
    /// tenant's cutoff in `cutoffs` when that is later, oldest first from
    /// `cursor`, reading at most `budget`. Returns the removed per tenant
    /// and whether the budget stopped it.
    pub fn expire_kept_callbacks(
        &self,
        cutoffs: &HashMap<Name, u64>,
        window_cutoff_ms: u64,
        cursor: &mut Option<Vec<u8>>,
        budget: usize,
    ) -> Result<(HashMap<Name, u64>, bool), StoreError> {
        self.writable()?;
        let latest = cutoffs.values().copied().fold(window_cutoff_ms, u64::max);
        let start = match cursor.take() {
            Some(last) => Bound::Excluded(sled::IVec::from(last)),
            None => Bound::Unbounded,
        };
        let end = Bound::Excluded(sled::IVec::from(&CallbackId::min_at(latest).to_bytes()[..]));
        let mut removed: HashMap<Name, u64> = HashMap::new();
        for (read, entry) in self
            .callbacks
            .range::<sled::IVec, _>((start, end))
            .enumerate()
        {
            if read == budget {
                return Ok((removed, true));
            }
            let (key, bytes) = entry?;
            let kept: KeptCallback = decode(&self.callbacks, &bytes)?;
            let cutoff = cutoffs
                .get(&kept.tenant)
                .map_or(window_cutoff_ms, |&tenant| tenant.max(window_cutoff_ms));
            if kept.id.time_ms() < cutoff {
                self.callbacks.remove(&key)?;
                *removed.entry(kept.tenant).or_default() += 1;
            }
            *cursor = Some(key.to_vec());
        }
        Ok((removed, false))
    }
}
