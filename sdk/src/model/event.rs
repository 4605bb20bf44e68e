//! The canonical event every mapper produces and every endpoint receives:
//! its type, channel, status or inbound message, and references.
//!
//! Events are built with the builder methods on [`Event`] and serialise to
//! the JSON endpoints receive:
//!
//! ```
//! use wasmhook_sdk::{Channel, Event, InboundMessage};
//!
//! let event = Event::inbound(Channel::Whatsapp, InboundMessage::text("+15550100", "STOP"), "meta");
//! let json = serde_json::to_value(&event).unwrap();
//! assert_eq!(json["event_type"], "inbound_message");
//! assert_eq!(json["inbound_message"]["text"]["body"], "STOP");
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Status change or inbound message; set by [`Event::status`] and
/// [`Event::inbound`].
///
/// ```
/// use wasmhook_sdk::{Channel, Event, EventType, Status};
///
/// let event = Event::status(Channel::Sms, Status::Sent, "acme");
/// assert_eq!(event.event_type, EventType::Status);
/// assert_eq!(serde_json::to_value(EventType::InboundMessage).unwrap(), "inbound_message");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A delivery status change.
    Status,
    /// A message sent by the end user.
    InboundMessage,
}

/// The channel a message travelled on; serialised by its
/// [canonical name](Channel::as_str).
///
/// ```
/// use wasmhook_sdk::Channel;
///
/// assert_eq!(serde_json::to_value(Channel::Whatsapp).unwrap(), "whatsapp");
/// let channel: Channel = serde_json::from_str("\"sms\"").unwrap();
/// assert_eq!(channel, Channel::Sms);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// WhatsApp.
    Whatsapp,
    /// SMS.
    Sms,
    /// Email.
    Email,
    /// Viber.
    Viber,
    /// RCS.
    Rcs,
    /// Mobile or web push.
    Push,
    /// Voice calls.
    Voice,
    /// Anything else.
    Other,
}

impl Channel {
    /// Every channel, in declaration order.
    ///
    /// ```
    /// use wasmhook_sdk::Channel;
    ///
    /// let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    /// assert_eq!(names[..3], ["whatsapp", "sms", "email"]);
    /// ```
    pub const ALL: [Channel; 8] = [
        Channel::Whatsapp,
        Channel::Sms,
        Channel::Email,
        Channel::Viber,
        Channel::Rcs,
        Channel::Push,
        Channel::Voice,
        Channel::Other,
    ];

    /// The channel's canonical name (`whatsapp`, `sms`, ...).
    ///
    /// ```
    /// use wasmhook_sdk::Channel;
    ///
    /// assert_eq!(Channel::Push.as_str(), "push");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Whatsapp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Viber => "viber",
            Channel::Rcs => "rcs",
            Channel::Push => "push",
            Channel::Voice => "voice",
            Channel::Other => "other",
        }
    }

    /// Parses a channel name case-insensitively (`WHATSAPP`, `email`, ...).
    ///
    /// ```
    /// use wasmhook_sdk::Channel;
    ///
    /// assert_eq!(Channel::parse(" WhatsApp "), Some(Channel::Whatsapp));
    /// assert_eq!(Channel::parse("fax"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Channel> {
        let name = name.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// The canonical delivery statuses; serialised by their
/// [canonical names](Status::as_str).
///
/// ```
/// use wasmhook_sdk::Status;
///
/// assert_eq!(serde_json::to_value(Status::SubscriptionChanged).unwrap(), "subscription_changed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted by the vendor, not yet handed on.
    Queued,
    /// Handed to the carrier or mail server.
    Sent,
    /// Delivered to the end user.
    Delivered,
    /// Temporarily failed; the vendor retries.
    Deferred,
    /// Read or opened.
    Read,
    /// A link was clicked.
    Clicked,
    /// Permanently failed.
    Failed,
    /// Reported as spam.
    Spam,
    /// The end user unsubscribed.
    Unsubscribed,
    /// The end user changed subscription preferences.
    SubscriptionChanged,
}

impl Status {
    /// Every status, in declaration order.
    ///
    /// ```
    /// use wasmhook_sdk::Status;
    ///
    /// assert_eq!(Status::ALL.len(), 10);
    /// assert!(Status::ALL.contains(&Status::Clicked));
    /// ```
    pub const ALL: [Status; 10] = [
        Status::Queued,
        Status::Sent,
        Status::Delivered,
        Status::Deferred,
        Status::Read,
        Status::Clicked,
        Status::Failed,
        Status::Spam,
        Status::Unsubscribed,
        Status::SubscriptionChanged,
    ];

    /// The status's canonical name (`delivered`, `subscription_changed`, ...).
    ///
    /// ```
    /// use wasmhook_sdk::Status;
    ///
    /// assert_eq!(Status::Delivered.as_str(), "delivered");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Deferred => "deferred",
            Status::Read => "read",
            Status::Clicked => "clicked",
            Status::Failed => "failed",
            Status::Spam => "spam",
            Status::Unsubscribed => "unsubscribed",
            Status::SubscriptionChanged => "subscription_changed",
        }
    }

    /// Parses a canonical status name case-insensitively. Vendor names
    /// (`UNDELIV`, ...) need a table: see [`crate::map::StatusTable`].
    ///
    /// ```
    /// use wasmhook_sdk::Status;
    ///
    /// assert_eq!(Status::parse("Delivered"), Some(Status::Delivered));
    /// assert_eq!(Status::parse("UNDELIV"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Status> {
        let name = name.trim();
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// The status part of a `status` event; usually filled through the
/// [`Event`] builder methods.
///
/// ```
/// use wasmhook_sdk::{Channel, Event, Status};
///
/// let event = Event::status(Channel::Email, Status::Failed, "acme")
///     .vendor_status(Some("bounce".to_string()))
///     .hard_bounce(Some(true));
/// let info = event.status.unwrap();
/// assert_eq!(info.vendor_status.as_deref(), Some("bounce"));
/// assert_eq!(info.hard_bounce, Some(true));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct StatusInfo {
    /// The canonical status.
    pub status: Status,
    /// The status as the vendor named it.
    pub vendor_status: Option<String>,
    /// When the status changed, epoch milliseconds.
    pub timestamp: Option<i64>,
    /// The vendor's error code.
    pub error_code: Option<String>,
    /// A human-readable reason.
    pub description: Option<String>,
    /// Whether the address is permanently unreachable.
    pub hard_bounce: Option<bool>,
    /// The clicked link, for `clicked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl StatusInfo {
    /// A status with nothing else known yet.
    ///
    /// ```
    /// use wasmhook_sdk::{Status, StatusInfo};
    ///
    /// let info = StatusInfo::new(Status::Queued);
    /// assert_eq!(info.status, Status::Queued);
    /// assert_eq!(info.timestamp, None);
    /// ```
    pub fn new(status: Status) -> Self {
        StatusInfo {
            status,
            vendor_status: None,
            timestamp: None,
            error_code: None,
            description: None,
            hard_bounce: None,
            link: None,
        }
    }
}

/// A media attachment of an inbound message.
///
/// ```
/// use wasmhook_sdk::{InboundMessage, Media};
///
/// let mut message = InboundMessage::new("+15550100", "image");
/// message.media.push(Media {
///     url: Some("https://cdn.example.com/a.jpg".into()),
///     mime_type: Some("image/jpeg".into()),
///     ..Media::default()
/// });
/// assert_eq!(message.media.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Media {
    /// Where to fetch it.
    pub url: Option<String>,
    /// The vendor's media id.
    pub id: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Caption.
    pub caption: Option<String>,
}

/// The message an inbound message replies to.
///
/// ```
/// use wasmhook_sdk::{InboundMessage, MessageContext};
///
/// let mut message = InboundMessage::text("+15550100", "yes");
/// message.context = Some(MessageContext { from: None, id: Some("wamid.1".into()) });
/// assert_eq!(message.context.unwrap().id.as_deref(), Some("wamid.1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MessageContext {
    /// Sender of the quoted message.
    pub from: Option<String>,
    /// Vendor id of the quoted message.
    pub id: Option<String>,
}

/// The inbound part of an `inbound_message` event. `text` is
/// `{"body": ...}` on the wire and `type` is the message type.
///
/// ```
/// use wasmhook_sdk::{InboundMessage, json};
///
/// let mut message = InboundMessage::new("+15550100", "button");
/// message.text = Some("Yes".into());
/// message.payload = Some("CONFIRM".into());
/// let json = serde_json::to_value(&message).unwrap();
/// assert_eq!(json["type"], "button");
/// assert_eq!(json["text"], json!({"body": "Yes"}));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct InboundMessage {
    /// The end user's address.
    pub from: String,
    /// The business address that received it.
    pub to: Option<String>,
    /// The vendor's message type (`text`, `image`, `button`, ...).
    #[serde(rename = "type")]
    pub message_type: String,
    /// The text, or the pressed button's title. Serialised as `{"body": ...}`.
    #[serde(with = "text_body")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<Object>, example = json!({"body": "hi"})))]
    pub text: Option<String>,
    /// The payload of a pressed button or list item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub media: Vec<Media>,
    /// The message this one replies to.
    pub context: Option<MessageContext>,
    /// When the user sent it, epoch milliseconds.
    pub timestamp: Option<i64>,
}

impl InboundMessage {
    /// An inbound message of `message_type` from `from`, nothing else set.
    ///
    /// ```
    /// use wasmhook_sdk::InboundMessage;
    ///
    /// let message = InboundMessage::new("+15550100", "location");
    /// assert_eq!(message.message_type, "location");
    /// assert!(message.text.is_none() && message.media.is_empty());
    /// ```
    pub fn new(from: impl Into<String>, message_type: impl Into<String>) -> Self {
        InboundMessage {
            from: from.into(),
            to: None,
            message_type: message_type.into(),
            text: None,
            payload: None,
            media: Vec::new(),
            context: None,
            timestamp: None,
        }
    }

    /// A text message.
    ///
    /// ```
    /// use wasmhook_sdk::InboundMessage;
    ///
    /// let message = InboundMessage::text("+15550100", "Hi");
    /// assert_eq!(message.message_type, "text");
    /// assert_eq!(message.text.as_deref(), Some("Hi"));
    /// ```
    pub fn text(from: impl Into<String>, body: impl Into<String>) -> Self {
        let mut message = InboundMessage::new(from, "text");
        message.text = Some(body.into());
        message
    }
}

/// `text: {"body": "..."}` on the wire, `Option<String>` in Rust.
mod text_body {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Text {
        body: String,
    }

    pub fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        text.as_ref()
            .map(|body| Text { body: body.clone() })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.map(|t| t.body))
    }
}

/// Identifiers tying an event to its message; set with
/// [`Event::message_id`] and [`Event::idempotency_key`].
///
/// ```
/// use wasmhook_sdk::{Channel, Event, Reference, Status};
///
/// let event = Event::status(Channel::Sms, Status::Sent, "acme").message_id(Some("m-1".to_string()));
/// assert_eq!(event.reference, Reference {
///     vendor_message_id: Some("m-1".into()),
///     idempotency_key: None,
/// });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Reference {
    /// The vendor's message id.
    pub vendor_message_id: Option<String>,
    /// A key the sender attached to the message.
    pub idempotency_key: Option<String>,
}

/// A canonical event as a mapper produces it (the host adds `id`, `version`,
/// `source` and `received_at` when storing it).
///
/// Start from [`Event::status`] or [`Event::inbound`] and chain the builder
/// methods; empty strings given to them count as absent.
///
/// ```
/// use wasmhook_sdk::{Channel, Event, Status, json};
///
/// let event = Event::status(Channel::Sms, Status::Failed, "acme")
///     .recipient(Some("+15550100".to_string()))
///     .message_id(Some("m-1".to_string()))
///     .error(Some("30003".to_string()), Some("Unreachable".to_string()))
///     .raw(json!({"id": "m-1"}));
/// let json = serde_json::to_value(&event).unwrap();
/// assert_eq!(json["status"]["error_code"], "30003");
/// assert_eq!(json["channel_value"], "+15550100");
/// assert_eq!(json["vendor_name"], "acme");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Event {
    /// Status change or inbound message.
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
    /// The part of the callback this event came from, parsed.
    pub vendor_response: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_text_serialises_as_body_object() {
        let message = InboundMessage::text("+1555", "Hi");
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["text"]["body"], "Hi");
        assert_eq!(json["type"], "text");
        let back: InboundMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn status_names_round_trip() {
        for status in Status::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
            assert_eq!(Status::parse(&status.as_str().to_uppercase()), Some(status));
        }
        assert_eq!(Status::ALL.len(), 10);
    }
}
