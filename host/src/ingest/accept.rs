//! One vendor callback's way in: let in by its source's token, mapped by
//! the source's active mapper, its events stored; or, when the mapper
//! refuses or fails, kept whole as a rejected callback so nothing a vendor
//! sent is lost. Mapping is shared with the retry of a rejected callback.

use std::time::Duration;

use wasmhook_sdk::{Callback, ErrorKind, Reply};

use super::IngestService;
use super::callback::{AuthFailure, Received};
use super::keep::Accepted;
use crate::domain::event::CanonicalEvent;
use crate::domain::rejected::{RejectedCallback, RejectedState, RejectionError, StoredCallback};
use crate::domain::source::Source;
use crate::ids::{EventId, RejectedId, now_ms};
use crate::registry::RegistryError;
use crate::runtime::CallError;
use crate::store::{Inserted, StoreError};
use crate::telemetry;

/// What became of a callback that was let in.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// Its events (possibly none) are durably stored.
    Stored {
        /// One per mapped event, in the mapper's order: its id and whether
        /// it was a resend.
        inserted: Vec<Inserted>,
        /// The mapper's explicit answer to the vendor, if any.
        reply: Option<Reply>,
    },
    /// The mapper refused or failed; the callback is durably kept.
    Rejected {
        /// The kept callback, with the error (boxed: it is much larger
        /// than the stored outcome, which is the common one).
        rejected: Box<RejectedCallback>,
        /// Whose fault the failure is.
        fault: Fault,
    },
}

/// Whose fault a failed mapping is, as a vendor should read it. Either way
/// the callback is kept, so a vendor's resend only adds a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The mapper says the body is malformed.
    Malformed,
    /// The mapper refuses well-formed input it does not handle (resending
    /// will not help).
    Unsupported,
    /// The server's side: its limits, the plugin's bugs or config, its
    /// deadline (a call out of time may fit on a resend).
    Server,
}

impl Fault {
    /// Whose fault `error` is.
    pub fn of(error: &CallError) -> Self {
        match error {
            CallError::Plugin { error, .. } => match error.kind {
                ErrorKind::InvalidInput => Fault::Malformed,
                ErrorKind::Unsupported => Fault::Unsupported,
                ErrorKind::InvalidConfig | ErrorKind::Upstream | ErrorKind::Internal => {
                    Fault::Server
                }
            },
            _ => Fault::Server,
        }
    }
}

/// Why a callback could not be handled at all (as opposed to rejected).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No token, or none the source accepts (or no such source).
    #[error(transparent)]
    Unauthorized(#[from] AuthFailure),
    /// The source's mapper could not be loaded.
    #[error("mapper of source `{source_name}`: {error}")]
    Mapper {
        /// The source.
        source_name: String,
        /// Why.
        error: RegistryError,
    },
    /// The source's tenant is disabled or deleted: its sources take no
    /// callbacks.
    #[error("the source's tenant is disabled")]
    TenantDisabled,
    /// The source's tenant is over its callbacks-a-second quota; the
    /// vendor should resend in a second.
    #[error(
        "tenant `{tenant}` is over its ingest quota of {per_second} callbacks a second; resend \
         after `Retry-After`"
    )]
    OverQuota {
        /// The tenant.
        tenant: String,
        /// Its quota.
        per_second: u32,
    },
    /// The mapper did not run: the source's lane of the fair queue (or every
    /// instance) stayed busy past the wait bound. The vendor should resend.
    #[error("{0}")]
    Busy(CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What mapping one callback came to.
pub(super) enum Mapped {
    /// The events (possibly none) are durably stored.
    Stored {
        inserted: Vec<Inserted>,
        reply: Option<Reply>,
        /// The mapper version that ran.
        version: u32,
        /// The callback it mapped, to keep for replays.
        callback: Callback,
    },
    /// The mapper refused or failed; nothing was stored.
    Failed {
        error: CallError,
        /// The error's message, with the plugin's last stderr line when it
        /// trapped (a Rust panic message lands there).
        detail: String,
        /// The mapper version that ran.
        version: u32,
        /// The callback the mapper refused, to keep.
        callback: Callback,
    },
}

impl IngestService {
    /// Handles a callback for the source named `source_name`: lets it in if
    /// it presents the source's token, maps it, and stores its events or
    /// keeps it as rejected, returning once either is on disk.
    pub async fn accept_callback(
        &self,
        source_name: &str,
        received: Received,
    ) -> Result<CallbackOutcome, IngestError> {
        let source = self.store.source(source_name);
        if let Some(source) = &source {
            tracing::Span::current().record("plugin", tracing::field::display(&source.mapper));
        }
        let callback = received.authenticate(|token| {
            source
                .as_ref()
                .is_some_and(|source| source.ingest_token.matches(token))
        })?;
        // No token is accepted for an unknown source, so this is only a
        // formality.
        let Some(source) = source else {
            return Err(AuthFailure::Wrong.into());
        };
        // After the token check: nobody learns of a tenant's state or
        // quota without the source's token.
        let Some(tenant) = self.store.tenant(&source.tenant).filter(|t| t.is_active()) else {
            return Err(IngestError::TenantDisabled);
        };
        // Counted by the caller, with every other refusal.
        if !self.quotas.admit(&tenant) {
            return Err(IngestError::OverQuota {
                tenant: tenant.name.to_string(),
                per_second: tenant.quotas.ingest_per_second.unwrap_or_default(),
            });
        }
        let received_at = now_ms();
        match self.map_and_store(&source, callback).await? {
            Mapped::Stored {
                inserted,
                reply,
                version,
                callback,
            } => {
                self.keeper.keep(Accepted {
                    tenant: source.tenant.clone(),
                    source: source.name.clone(),
                    received_at,
                    plugin_version: version,
                    callback,
                    event_ids: inserted.iter().map(|inserted| inserted.id).collect(),
                });
                let outcome = if inserted.is_empty() {
                    "empty"
                } else if inserted.iter().all(|inserted| inserted.duplicate) {
                    "duplicate"
                } else {
                    "accepted"
                };
                telemetry::ingest(source.tenant.as_str(), source_name, outcome);
                Ok(CallbackOutcome::Stored { inserted, reply })
            }
            Mapped::Failed {
                error,
                detail,
                version,
                callback,
            } => {
                let rejected = RejectedCallback {
                    id: RejectedId::new(received_at),
                    tenant: source.tenant.clone(),
                    source: source.name.clone(),
                    received_at,
                    callback: StoredCallback::from(&callback),
                    error: RejectionError {
                        code: telemetry::call_error_code(&error).to_owned(),
                        detail,
                        plugin_version: version,
                    },
                    attempts: 1,
                    state: RejectedState::Pending,
                    event_ids: Vec::new(),
                };
                self.store.put_rejected(&rejected).await?;
                self.store.durable().await?;
                telemetry::ingest(source.tenant.as_str(), source_name, "rejected");
                tracing::info!(rejected_id = %rejected.id, error = %error, "callback rejected by the mapper");
                Ok(CallbackOutcome::Rejected {
                    rejected: Box::new(rejected),
                    fault: Fault::of(&error),
                })
            }
        }
    }

    /// Maps `callback` with the source's active mapper and stores the
    /// events durably (deduplicating resends) before returning.
    pub(super) async fn map_and_store(
        &self,
        source: &Source,
        callback: Callback,
    ) -> Result<Mapped, IngestError> {
        let loaded = self
            .registry
            .active_async(&source.mapper)
            .await
            .map_err(|error| IngestError::Mapper {
                source_name: source.name.to_string(),
                error,
            })?;
        // Each source is a lane of the fair queue: a hostile or slow mapper
        // delays only its own source's callbacks.
        let lane = self
            .registry
            .lane(&source.tenant, format!("source:{}", source.name));
        let outcome = loaded
            .plugin
            .map_async(&lane, &callback, &source.config)
            .await;
        let duration: Duration = outcome.stats.duration;
        let mapped = match outcome.result {
            Ok(mapped) => {
                telemetry::plugin_call(source.mapper.as_str(), duration, None);
                mapped
            }
            Err(error @ (CallError::Overloaded { .. } | CallError::Instantiate { .. })) => {
                telemetry::plugin_call(source.mapper.as_str(), duration, Some(&error));
                return Err(IngestError::Busy(error));
            }
            Err(error) => {
                telemetry::plugin_call(source.mapper.as_str(), duration, Some(&error));
                let mut detail = error.to_string();
                if matches!(error, CallError::Trap { .. })
                    && let Some((_, line)) = outcome
                        .stats
                        .logs
                        .iter()
                        .rev()
                        .find(|(level, _)| *level >= wasmhook_sdk::LogLevel::Warn)
                {
                    detail.push_str(" (plugin stderr: ");
                    detail.push_str(line);
                    detail.push(')');
                }
                return Ok(Mapped::Failed {
                    error,
                    detail,
                    version: loaded.version,
                    callback,
                });
            }
        };
        let received_at = now_ms();
        let events: Vec<CanonicalEvent> = mapped
            .events
            .into_iter()
            .map(|event| {
                CanonicalEvent::from_source_mapping(
                    EventId::new(received_at),
                    event,
                    source.name.as_str(),
                    source.channel,
                    received_at,
                )
            })
            .collect();
        let inserted = self.store_events(&source.tenant, events).await?;
        telemetry::events_stored(
            source.tenant.as_str(),
            source.name.as_str(),
            inserted.iter().filter(|i| !i.duplicate).count() as u64,
        );
        Ok(Mapped::Stored {
            inserted,
            reply: mapped.reply,
            version: loaded.version,
            callback,
        })
    }
}
