//! The retry of a rejected callback: run again through its source's active
//! mapper (e.g. after a fixed version was activated). On success its events
//! are stored and it is marked resolved; on failure the new error is kept.

use super::IngestService;
use super::accept::{IngestError, Mapped};
use crate::domain::Name;
use crate::domain::rejected::{RejectedCallback, RejectedState};
use crate::ids::RejectedId;
use crate::store::{Inserted, StoreError};
use crate::telemetry;

/// A successful retry.
#[derive(Debug)]
pub struct Retried {
    /// The rejected callback, now resolved.
    pub rejected: RejectedCallback,
    /// One per event it mapped to.
    pub inserted: Vec<Inserted>,
}

/// Why a rejected callback was not retried, or still failed.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// No source of that name.
    #[error("no source named `{0}`")]
    NoSource(String),
    /// The source has no rejected callback of that id.
    #[error("source `{source_name}` has no rejected callback `{id}`")]
    NoRejected {
        /// The source.
        source_name: String,
        /// The id asked for, as given.
        id: String,
    },
    /// It was retried successfully before (the id as given).
    #[error("rejected callback `{0}` is already resolved")]
    AlreadyResolved(String),
    /// The kept body does not decode (a damaged record).
    #[error("rejected callback `{id}`: the kept body is not valid base64: {error}")]
    Unreadable {
        /// The rejected callback.
        id: RejectedId,
        /// Why.
        error: base64::DecodeError,
    },
    /// The mapper failed again; the new error is kept.
    #[error("{detail} (attempt {attempts})")]
    StillFails {
        /// The mapper's error.
        detail: String,
        /// Mapping attempts so far, this one included.
        attempts: u32,
    },
    /// The callback could not be mapped at all (busy, mapper not loaded).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestService {
    /// Re-runs the rejected callback `id` of source `source_name` through
    /// the source's active mapper, returning once the outcome is on disk.
    pub async fn retry_rejected(
        &self,
        tenant: &Name,
        source_name: &str,
        id: &str,
    ) -> Result<Retried, RetryError> {
        let source = self
            .store
            .tenant_source(tenant, source_name)
            .ok_or_else(|| RetryError::NoSource(source_name.to_owned()))?;
        let not_found = || RetryError::NoRejected {
            source_name: source_name.to_owned(),
            id: id.to_owned(),
        };
        let rejected_id: RejectedId = id.parse().map_err(|_| not_found())?;
        let mut rejected = self
            .store
            .rejected(rejected_id)
            .await?
            .filter(|r| r.source == source.name && &r.tenant == tenant)
            .ok_or_else(not_found)?;
        if rejected.state == RejectedState::Resolved {
            return Err(RetryError::AlreadyResolved(id.to_owned()));
        }
        let callback = rejected
            .callback
            .to_callback()
            .map_err(|error| RetryError::Unreadable {
                id: rejected_id,
                error,
            })?;
        rejected.attempts += 1;
        match self.map_and_store(&source, callback).await? {
            Mapped::Stored { inserted, .. } => {
                rejected.state = RejectedState::Resolved;
                rejected.event_ids = inserted.iter().map(|i| i.id).collect();
                self.store.put_rejected(&rejected).await?;
                self.store.durable().await?;
                telemetry::ingest(tenant.as_str(), source_name, "retried");
                Ok(Retried { rejected, inserted })
            }
            Mapped::Failed {
                error,
                detail,
                version,
                ..
            } => {
                rejected.error.code = telemetry::call_error_code(&error).to_owned();
                rejected.error.detail = detail;
                rejected.error.plugin_version = version;
                self.store.put_rejected(&rejected).await?;
                self.store.durable().await?;
                Err(RetryError::StillFails {
                    detail: rejected.error.detail,
                    attempts: rejected.attempts,
                })
            }
        }
    }
}
