//! The mapper world: the vendor callback a mapper reads and what it answers
//! (events and an optional reply to the vendor).

use serde::{Deserialize, Serialize};

use super::{Event, Field};

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
