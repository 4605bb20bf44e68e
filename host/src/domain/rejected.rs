//! Callbacks kept whole: the rejected ones (what a vendor sent that the
//! mapper refused or failed on, kept until a fixed mapper maps them) and,
//! for the server's callback retention, the accepted ones with the events
//! they became (what `wasmhook plugin replay` runs a new build over).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Name;
use crate::ids::{CallbackId, EventId, RejectedId};

/// A callback as received, minus the credentials it carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredCallback {
    /// HTTP method.
    pub method: String,
    /// Headers in arrival order (the ingest token removed).
    pub headers: Vec<(String, String)>,
    /// Query string without `?` (the `token` parameter removed).
    pub query: String,
    /// Content type.
    pub content_type: Option<String>,
    /// The body, base64 (callbacks need not be text).
    pub body_base64: String,
}

/// Whether a rejected callback still needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectedState {
    /// Not yet mapped.
    Pending,
    /// A retry mapped it; its events are stored.
    Resolved,
}

/// The failure that got a callback rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectionError {
    /// Machine-readable code (`mapper_rejected`, `mapper_trapped`, …).
    pub code: String,
    /// What went wrong, from the plugin or the runtime.
    pub detail: String,
    /// The mapper version that failed.
    pub plugin_version: u32,
}

/// A rejected callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedCallback {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    pub tenant: crate::domain::Name,
    /// Its id.
    pub id: RejectedId,
    /// The source it came in on.
    pub source: Name,
    /// Arrival time, epoch ms.
    pub received_at: u64,
    /// The callback.
    pub callback: StoredCallback,
    /// The latest failure.
    pub error: RejectionError,
    /// Mapping attempts so far (1 = only the original).
    pub attempts: u32,
    /// Pending or resolved.
    pub state: RejectedState,
    /// The events stored once a retry succeeded.
    pub event_ids: Vec<EventId>,
}

impl crate::domain::tenant::Owned for RejectedCallback {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}

/// An accepted callback, kept for the server's callback retention with the
/// events its mapping stored (none when the mapper found nothing to report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeptCallback {
    /// The tenant it belongs to.
    pub tenant: crate::domain::Name,
    /// Its id (time-ordered: the time it arrived).
    pub id: CallbackId,
    /// The source it came in on.
    pub source: Name,
    /// Arrival time, epoch ms.
    pub received_at: u64,
    /// The mapper version that mapped it.
    pub plugin_version: u32,
    /// The callback.
    pub callback: StoredCallback,
    /// The events its mapping stored, in the mapper's order (a resend's
    /// are the stored originals').
    pub event_ids: Vec<EventId>,
}

impl crate::domain::tenant::Owned for KeptCallback {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}
