//! Rejected callbacks by their time-ordered id, listed per tenant and
//! source.

use super::PgStore;
use super::rows::{self, encode, record, records};
use crate::domain::Name;
use crate::domain::rejected::{RejectedCallback, RejectedState};
use crate::ids::RejectedId;
use crate::store::StoreError;

impl PgStore {
    /// Stores (or replaces) a rejected callback.
    pub async fn put_rejected(&self, rejected: &RejectedCallback) -> Result<(), StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                self.writable()?;
                let client = shared.client().await?;
                client
                    .execute(
                        "INSERT INTO rejected (id, tenant, source, state, record)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant,
                             source = EXCLUDED.source, state = EXCLUDED.state,
                             record = EXCLUDED.record",
                        &[
                            &&rejected.id.to_bytes()[..],
                            &rejected.tenant.as_str(),
                            &rejected.source.as_str(),
                            &rows::rejected_state(rejected.state),
                            &encode(rejected)?,
                        ],
                    )
                    .await?;
                Ok(())
            }
            .await,
        )
    }

    /// One rejected callback.
    pub async fn rejected(&self, id: RejectedId) -> Result<Option<RejectedCallback>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let row = client
                    .query_opt(
                        "SELECT record FROM rejected WHERE id = $1",
                        &[&&id.to_bytes()[..]],
                    )
                    .await?;
                row.map(|row| record("a rejected callback record", &row, 0))
                    .transpose()
            }
            .await,
        )
    }

    /// `tenant`'s source's rejected callbacks, newest first, optionally only
    /// those in `state`, at most `limit`.
    pub async fn rejected_of(
        &self,
        tenant: &Name,
        source: &str,
        state: Option<RejectedState>,
        limit: usize,
    ) -> Result<Vec<RejectedCallback>, StoreError> {
        let shared = &self.shared;
        shared.track(
            async {
                let client = shared.client().await?;
                let rows = client
                    .query(
                        "SELECT record FROM rejected
                         WHERE tenant = $1 AND source = $2 AND ($3::text IS NULL OR state = $3)
                         ORDER BY id DESC LIMIT $4",
                        &[
                            &tenant.as_str(),
                            &source,
                            &state.map(rows::rejected_state),
                            &(limit.min(i64::MAX as usize) as i64),
                        ],
                    )
                    .await?;
                records("a rejected callback record", &rows)
            }
            .await,
        )
    }
}
