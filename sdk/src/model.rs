//! The canonical model shared by plugins and the host: callbacks, events,
//! render requests, block inputs, outbound HTTP and plugin errors. Plain serde
//! types that mirror `wit/wasmhook.wit` one to one, usable without wasm.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A header or query parameter: name and value.
pub type Field = (String, String);

/// A vendor callback exactly as the host received it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Callback {
    /// HTTP method, upper case.
    pub method: String,
    /// Request headers in arrival order.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<Field>,
    /// Raw query string without the leading `?`.
    pub query: String,
    /// The `Content-Type` header value.
    pub content_type: Option<String>,
    /// Body bytes, unmodified.
    pub body: Vec<u8>,
}

/// Status change or inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A delivery status change.
    Status,
    /// A message sent by the end user.
    InboundMessage,
}

/// The channel a message travelled on.
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
    pub fn parse(name: &str) -> Option<Channel> {
        let name = name.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

/// The canonical delivery statuses.
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

    /// Parses a canonical status name case-insensitively.
    pub fn parse(name: &str) -> Option<Status> {
        let name = name.trim();
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// The status part of a `status` event.
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

/// A media attachment.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct MessageContext {
    /// Sender of the quoted message.
    pub from: Option<String>,
    /// Vendor id of the quoted message.
    pub id: Option<String>,
}

/// The inbound part of an `inbound_message` event.
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

/// Identifiers tying an event to its message.
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

/// An explicit answer to the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body bytes. In JSON: the text when it is UTF-8 (replies are text:
    /// `OK`, TwiML, JSON), else the array of bytes; either is read back.
    #[serde(with = "reply_body")]
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub body: Vec<u8>,
}

/// A reply body in JSON: text when it is UTF-8, bytes otherwise.
mod reply_body {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(body) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serializer.collect_seq(body),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Body {
            Text(String),
            Bytes(Vec<u8>),
        }
        Ok(match Body::deserialize(deserializer)? {
            Body::Text(text) => text.into_bytes(),
            Body::Bytes(bytes) => bytes,
        })
    }
}

/// A mapper's result for one callback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Mapped {
    /// The events.
    pub events: Vec<Event>,
    /// An explicit answer to the vendor, if any.
    pub reply: Option<Reply>,
}

impl From<Vec<Event>> for Mapped {
    fn from(events: Vec<Event>) -> Self {
        Mapped {
            events,
            reply: None,
        }
    }
}

impl From<Event> for Mapped {
    fn from(event: Event) -> Self {
        Mapped::from(vec![event])
    }
}

/// A body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/json`.
    #[default]
    Json,
    /// `application/xml`.
    Xml,
    /// `text/plain`.
    Text,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl BodyFormat {
    /// The format's name (`json`, `xml`, `text`, `form`).
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Xml => "xml",
            BodyFormat::Text => "text",
            BodyFormat::Form => "form",
        }
    }
}

/// What a renderer is asked to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RenderRequest {
    /// Template text; `None` for the renderer's default.
    pub template: Option<String>,
    /// Format wanted.
    pub format: BodyFormat,
    /// The data the template sees.
    pub data: Value,
    /// Renderer configuration for this call.
    pub config: Value,
}

/// A rendered body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Rendered {
    /// Content type to send the body with.
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What a block runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct BlockInput {
    /// The event that triggered the workflow.
    pub event: Value,
    /// The contact's fields.
    pub contact: Value,
    /// Data of earlier blocks, keyed by block name.
    pub data: Value,
}

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Informational.
    Info,
    /// Something odd but handled.
    Warn,
    /// Something failed.
    Error,
}

/// An outbound request a block asks the host to send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HttpRequest {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<Field>,
    /// Body.
    pub body: Option<Vec<u8>>,
    /// Connector whose credentials the host adds.
    pub connector: Option<String>,
    /// Timeout shorter than the host's default, ms.
    pub timeout_ms: Option<u32>,
}

/// A response to an outbound request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    #[cfg_attr(feature = "schema", schema(value_type = Vec<Vec<String>>))]
    pub headers: Vec<Field>,
    /// Body (capped by the host).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_field(&self.headers, name)
    }
}

/// Why an outbound request got no response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum HttpError {
    /// The host refused to send it.
    Refused(String),
    /// No answer in time.
    Timeout,
    /// The connection failed.
    Connection(String),
    /// The response exceeded the host's cap (bytes).
    TooLarge(u64),
    /// The request was malformed.
    InvalidRequest(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Refused(why) => write!(f, "request refused: {why}"),
            HttpError::Timeout => write!(f, "request timed out"),
            HttpError::Connection(why) => write!(f, "connection failed: {why}"),
            HttpError::TooLarge(cap) => write!(f, "response larger than {cap} bytes"),
            HttpError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The kind of a plugin failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input could not be understood.
    InvalidInput,
    /// Well-formed input this plugin does not handle.
    Unsupported,
    /// Configuration is wrong.
    InvalidConfig,
    /// An outbound request failed.
    Upstream,
    /// A bug in the plugin.
    Internal,
}

/// The error every plugin function returns instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PluginError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A message naming what was wrong.
    pub message: String,
}

impl PluginError {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }

    /// The input could not be understood.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidInput, message)
    }

    /// Well-formed input this plugin does not handle.
    pub fn unsupported(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Unsupported, message)
    }

    /// Configuration is wrong.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidConfig, message)
    }

    /// An outbound request failed.
    pub fn upstream(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Upstream, message)
    }

    /// A bug in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Internal => "internal",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<HttpError> for PluginError {
    fn from(error: HttpError) -> Self {
        PluginError::upstream(error.to_string())
    }
}

/// The first field named `name` (case-insensitive) in a header or query list.
pub fn find_field<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
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
