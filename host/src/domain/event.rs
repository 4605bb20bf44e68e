//! Canonical events as stored and served: the mapper's [`Event`] plus what
//! the host adds (`id`, `version`, `source`, `received_at`), the key that
//! recognises a vendor's resend, and the filters events are listed by.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use wasmhook_sdk::{Channel, Event, EventType, InboundMessage, Reference, Status, StatusInfo};

use crate::ids::EventId;

/// The version of the canonical event shape.
pub const EVENT_VERSION: &str = "1.0";

/// A canonical event, as stored and as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CanonicalEvent {
    /// Host-assigned id.
    pub id: EventId,
    /// Shape version, `1.0`.
    pub version: String,
    /// `status` or `inbound_message`.
    pub event_type: EventType,
    /// The channel.
    pub channel: Channel,
    /// The end user's address.
    pub channel_value: Option<String>,
    /// The sender's id for the end user.
    pub distinct_id: Option<String>,
    /// Set for `status` events.
    pub status: Option<StatusInfo>,
    /// Set for `inbound_message` events.
    pub inbound_message: Option<InboundMessage>,
    /// Message identifiers.
    pub reference: Reference,
    /// The vendor.
    pub vendor_name: String,
    /// The source it came in on (`api` for events published directly).
    pub source: String,
    /// When the host accepted it, epoch ms.
    pub received_at: u64,
    /// The vendor's payload for this event, under the vendor's name.
    pub vendor_response: Value,
}

impl CanonicalEvent {
    /// A mapper's event as a source stores it: as [`Self::from_mapped`],
    /// with the source's channel (if it has one) in place of an `other` one.
    pub fn from_source_mapping(
        id: EventId,
        mut event: Event,
        source: &str,
        source_channel: Option<wasmhook_sdk::Channel>,
        received_at: u64,
    ) -> Self {
        if event.channel == wasmhook_sdk::Channel::Other
            && let Some(channel) = source_channel
        {
            event.channel = channel;
        }
        Self::from_mapped(id, event, source, received_at)
    }

    /// A mapper's event as the host stores it: the raw payload goes under
    /// the vendor's name, as in `{"gupshup": {…}}`.
    pub fn from_mapped(id: EventId, event: Event, source: &str, received_at: u64) -> Self {
        let vendor_response = if event.vendor_response.is_null() {
            Value::Null
        } else {
            let mut wrapped = serde_json::Map::new();
            wrapped.insert(event.vendor_name.clone(), event.vendor_response);
            Value::Object(wrapped)
        };
        CanonicalEvent {
            id,
            version: EVENT_VERSION.to_owned(),
            event_type: event.event_type,
            channel: event.channel,
            channel_value: event.channel_value,
            distinct_id: event.distinct_id,
            status: event.status,
            inbound_message: event.inbound_message,
            reference: event.reference,
            vendor_name: event.vendor_name,
            source: source.to_owned(),
            received_at,
            vendor_response,
        }
    }

    /// The key a vendor's resend of this event has too: a SHA-256 over the
    /// source, the vendor message id and the whole status report (canonical
    /// and vendor status, timestamp, error code, description, bounce kind,
    /// link) — or, for an inbound message, its timestamp. The report's
    /// details keep apart distinct reports that share an id, a status and a
    /// second (SendGrid `bounce` and `dropped`; a blocked and a hard bounce).
    /// `None` when the event has no vendor message id to recognise it by.
    pub fn dedupe_key(&self) -> Option<[u8; 32]> {
        use sha2::{Digest, Sha256};
        let message_id = self.reference.vendor_message_id.as_deref()?;
        let mut hasher = Sha256::new();
        for part in [self.source.as_str(), message_id, self.event_type_name()] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        match (&self.status, &self.inbound_message) {
            (Some(status), _) => hasher.update(serde_json::to_vec(status).ok()?),
            (None, Some(inbound)) => {
                hasher.update(inbound.timestamp.unwrap_or_default().to_be_bytes());
            }
            (None, None) => {}
        }
        Some(hasher.finalize().into())
    }

    fn event_type_name(&self) -> &'static str {
        match self.event_type {
            EventType::Status => "status",
            EventType::InboundMessage => "inbound_message",
        }
    }

    /// The event's delivery status, for filters.
    pub fn status_value(&self) -> Option<Status> {
        self.status.as_ref().map(|status| status.status)
    }
}

/// What `POST /v1/events` takes: a canonical event without the fields the
/// host assigns. Unknown fields are refused, so a typo is a 422, not a
/// silently dropped field.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishEvent {
    /// `status` or `inbound_message`.
    pub event_type: EventType,
    /// The channel.
    pub channel: Channel,
    /// The end user's address.
    #[serde(default)]
    pub channel_value: Option<String>,
    /// The sender's id for the end user.
    #[serde(default)]
    pub distinct_id: Option<String>,
    /// Required for `status` events.
    #[serde(default)]
    pub status: Option<StatusInfo>,
    /// Required for `inbound_message` events.
    #[serde(default)]
    pub inbound_message: Option<InboundMessage>,
    /// Message identifiers.
    #[serde(default)]
    pub reference: Reference,
    /// The vendor; `api` when absent.
    #[serde(default)]
    pub vendor_name: Option<String>,
    /// The source to file it under; `api` when absent.
    #[serde(default)]
    pub source: Option<String>,
    /// Any payload to carry along as `vendor_response`.
    #[serde(default)]
    pub vendor_response: Value,
}

/// Why a published event is not a valid canonical event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EventInvalid {
    /// The field at fault, as a path (`status.timestamp`).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

impl PublishEvent {
    /// Checks what the types alone cannot, and builds the stored event.
    pub fn into_event(self, id: EventId, received_at: u64) -> Result<CanonicalEvent, EventInvalid> {
        match self.event_type {
            EventType::Status if self.status.is_none() => {
                return Err(EventInvalid {
                    field: "status",
                    message: "required when event_type is `status`",
                });
            }
            EventType::InboundMessage if self.inbound_message.is_none() => {
                return Err(EventInvalid {
                    field: "inbound_message",
                    message: "required when event_type is `inbound_message`",
                });
            }
            _ => {}
        }
        if self.source.as_deref().is_some_and(str::is_empty) {
            return Err(EventInvalid {
                field: "source",
                message: "must not be empty",
            });
        }
        Ok(CanonicalEvent {
            id,
            version: EVENT_VERSION.to_owned(),
            event_type: self.event_type,
            channel: self.channel,
            channel_value: self.channel_value,
            distinct_id: self.distinct_id,
            status: self.status,
            inbound_message: self.inbound_message,
            reference: self.reference,
            vendor_name: self.vendor_name.unwrap_or_else(|| "api".to_owned()),
            source: self.source.unwrap_or_else(|| "api".to_owned()),
            received_at,
            vendor_response: self.vendor_response,
        })
    }
}

/// Filters of `GET /v1/events`; all given ones must hold.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events from this source.
    pub source: Option<String>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only this event type.
    pub event_type: Option<EventType>,
    /// Only this delivery status.
    pub status: Option<Status>,
    /// Received at or after (epoch ms).
    pub since: Option<u64>,
    /// Received before (epoch ms).
    pub until: Option<u64>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<EventId>,
}

impl EventFilter {
    /// Whether `event` passes the field filters (time and cursor are the
    /// scan's business).
    pub fn matches(&self, event: &CanonicalEvent) -> bool {
        self.source.as_deref().is_none_or(|s| s == event.source)
            && self.channel.is_none_or(|c| c == event.channel)
            && self.event_type.is_none_or(|t| t == event.event_type)
            && self.status.is_none_or(|s| event.status_value() == Some(s))
    }
}
