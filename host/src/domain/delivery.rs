//! Deliveries: one event on its way to one endpoint, and the log of every
//! attempt. What the operator sees under `/v1/deliveries` and what the
//! delivery engine keeps between attempts and across restarts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Name;
use crate::ids::{DeliveryId, EndpointId, EventId};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (the first, or a retry).
    Pending,
    /// A 2xx answered it.
    Succeeded,
    /// Retries exhausted or not retryable; kept and retryable by hand
    /// (and, with `held`, holding the deliveries ordered behind it).
    Failed,
}

/// One event's delivery to one endpoint. Its id is the `webhook-id` header,
/// the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    #[schema(value_type = String)]
    pub tenant: crate::domain::Name,
    /// Its id, sent as `webhook-id`.
    pub id: DeliveryId,
    /// The endpoint.
    pub endpoint: EndpointId,
    /// The event.
    pub event: EventId,
    /// Pending, succeeded or failed.
    pub state: DeliveryState,
    /// Attempts made so far. (In JSON `attempt_count`: `GET
    /// /v1/deliveries/{id}` lists the attempts themselves as `attempts`.
    /// Records stored before the rename are read too.)
    #[serde(rename = "attempt_count", alias = "attempts")]
    pub attempts: u32,
    /// When the next attempt is due, epoch ms (pending only).
    pub next_attempt_at: Option<u64>,
    /// When the delivery was created, epoch ms; its age bounds retries.
    pub created_at: u64,
    /// Last change, epoch ms.
    pub updated_at: u64,
    /// The last attempt's outcome, in short.
    pub last_error: Option<String>,
    /// The last HTTP status received.
    pub last_status: Option<u16>,
    /// With ordering by key: the key this delivery is queued under (the
    /// value at the endpoint's key path); deliveries with the same key go
    /// one at a time, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
    /// Failed for good and holding the deliveries ordered behind it (its
    /// key's, or the whole endpoint's) until it is retried or released.
    #[serde(default)]
    pub held: bool,
}

impl Delivery {
    /// A new pending delivery, due at once. Its id derives from the event
    /// and endpoint: fanning the same event out again after a crash gives
    /// the same `webhook-id`, which receivers dedupe on.
    pub fn new(tenant: Name, endpoint: EndpointId, event: EventId, now_ms: u64) -> Self {
        let mut material = [0u8; 32];
        material[..16].copy_from_slice(&event.to_bytes());
        material[16..].copy_from_slice(&endpoint.to_bytes());
        Delivery {
            id: DeliveryId::derived(event.time_ms(), &material),
            tenant,
            endpoint,
            event,
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: Some(now_ms),
            created_at: now_ms,
            updated_at: now_ms,
            last_error: None,
            last_status: None,
            ordering_key: None,
            held: false,
        }
    }

    /// The same delivery queued under `key` (see [`Delivery::ordering_key`]).
    pub fn keyed(self, key: Option<String>) -> Self {
        Delivery {
            ordering_key: key,
            ..self
        }
    }
}

/// The request an attempt sent, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SentRequest {
    /// Method.
    pub method: String,
    /// URL with query.
    pub url: String,
    /// Headers; credential values masked.
    pub headers: Vec<(String, String)>,
    /// Body size in bytes.
    pub body_bytes: u64,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// 1, 2, 3…
    pub number: u32,
    /// When it started, epoch ms.
    pub started_at: u64,
    /// How long it took, ms.
    pub duration_ms: u64,
    /// What was sent (absent when the request could not be built).
    pub request: Option<SentRequest>,
    /// The HTTP status received.
    pub status: Option<u16>,
    /// The start of the response body (bounded), as text.
    pub response_excerpt: Option<String>,
    /// Why it failed: `http_status`, `timeout`, `connect`, `refused_target`,
    /// `render_failed`, …; absent on success.
    pub error_kind: Option<String>,
    /// The failure in words.
    pub error: Option<String>,
}

impl Attempt {
    /// Whether the receiver accepted the delivery.
    pub fn succeeded(&self) -> bool {
        self.error_kind.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl crate::domain::tenant::Owned for Delivery {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}
