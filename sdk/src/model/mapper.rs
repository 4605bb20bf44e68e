//! The mapper world: the vendor callback a mapper reads and what it answers
//! (events and an optional reply to the vendor).
//!
//! A mapper returns anything that converts into [`Mapped`]: an [`Event`],
//! a `Vec<Event>`, or a `Mapped` with an explicit [`Reply`]:
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//!
//! #[mapper]
//! fn map(callback: Callback, _config: Config) -> Result<Mapped, PluginError> {
//!     let params = callback.form_params();
//!     let event = Event::status(Channel::Sms, Status::Delivered, "acme")
//!         .message_id(params.get("MessageSid").map(String::from));
//!     Ok(Mapped {
//!         events: vec![event],
//!         reply: Some(Reply { status: 200, content_type: "text/plain".into(), body: b"OK".to_vec() }),
//!     })
//! }
//!
//! # fn main() {
//! let mapped = map(Callback::form("MessageSid=SM1"), Config::default()).unwrap();
//! assert_eq!(mapped.events[0].reference.vendor_message_id.as_deref(), Some("SM1"));
//! assert_eq!(mapped.reply.unwrap().body, b"OK");
//! # }
//! ```

use serde::{Deserialize, Serialize};

use super::{Event, Field};

/// A vendor callback exactly as the host received it. The methods that
/// read it (`json_value`, `form_params`, `payload`, ...) are in
/// [`crate::body`]; in tests, build one with `Callback::json`,
/// `Callback::form`, `Callback::get` or field by field.
///
/// ```
/// use wasmhook_sdk::Callback;
///
/// let callback = Callback {
///     method: "POST".into(),
///     headers: vec![("X-Acme-Signature".into(), "sha256=ab12".into())],
///     query: "source=eu".into(),
///     content_type: Some("application/json".into()),
///     body: br#"{"id": "m-1"}"#.to_vec(),
/// };
/// assert_eq!(callback.header("x-acme-signature"), Some("sha256=ab12"));
/// assert_eq!(callback.json_value().unwrap()["id"], "m-1");
/// ```
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

/// An explicit answer to the vendor (without one the host answers `200`).
/// In JSON, a UTF-8 body is written as text.
///
/// ```
/// use wasmhook_sdk::Reply;
///
/// let reply = Reply {
///     status: 200,
///     content_type: "application/xml".into(),
///     body: b"<Response/>".to_vec(),
/// };
/// let json = serde_json::to_value(&reply).unwrap();
/// assert_eq!(json["body"], "<Response/>");
/// assert_eq!(serde_json::from_value::<Reply>(json).unwrap(), reply);
/// ```
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

/// A mapper's result for one callback. `From<Event>` and `From<Vec<Event>>`
/// make one without a reply.
///
/// ```
/// use wasmhook_sdk::{Channel, Event, Mapped, Status};
///
/// let mapped: Mapped = vec![
///     Event::status(Channel::Sms, Status::Sent, "acme"),
///     Event::status(Channel::Sms, Status::Delivered, "acme"),
/// ]
/// .into();
/// assert_eq!(mapped.events.len(), 2);
/// assert!(mapped.reply.is_none());
/// ```
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
