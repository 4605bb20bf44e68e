//! Rejected callbacks, keyed by their time-ordered id.

use super::codec::{self, decode};
use super::{SledStore, StoreError};
use crate::domain::Name;
use crate::domain::rejected::{RejectedCallback, RejectedState};
use crate::ids::RejectedId;

impl SledStore {
    /// Stores (or replaces) a rejected callback.
    pub fn put_rejected(&self, rejected: &RejectedCallback) -> Result<(), StoreError> {
        self.writable()?;
        codec::put(&self.rejected, rejected.id.to_bytes(), rejected)
    }

    /// One rejected callback.
    pub fn rejected(&self, id: RejectedId) -> Result<Option<RejectedCallback>, StoreError> {
        codec::get(&self.rejected, id.to_bytes())
    }

    /// `tenant`'s source's rejected callbacks, newest first, optionally
    /// only those in `state`, at most `limit`. (A source's name can pass to
    /// another tenant once it is deleted; its callbacks do not.)
    pub fn rejected_of(
        &self,
        tenant: &Name,
        source: &str,
        state: Option<RejectedState>,
        limit: usize,
    ) -> Result<Vec<RejectedCallback>, StoreError> {
        let mut found = Vec::new();
        for bytes in self.rejected.iter().values().rev() {
            let rejected: RejectedCallback = decode(&self.rejected, &bytes?)?;
            if &rejected.tenant == tenant
                && rejected.source.as_str() == source
                && state.is_none_or(|s| s == rejected.state)
            {
                found.push(rejected);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }
}
