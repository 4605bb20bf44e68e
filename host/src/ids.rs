//! Typed, prefixed identifiers (`evt_…`, `rej_…`, `ep_…`, `conn_…`): a ULID
//! behind a prefix that says what it names. They sort by creation time, which
//! the store relies on for time-ordered listing and cursors, and they are only
//! built by generating or parsing, so a handler never holds an unchecked id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Why text is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {kind} id (expected `{prefix}` followed by 26 base32 characters)")]
pub struct IdError {
    /// What kind of id was expected.
    pub kind: &'static str,
    /// Its prefix.
    pub prefix: &'static str,
    /// The text given (truncated).
    pub text: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The text every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new id for something created at `time_ms` (epoch ms).
            /// Ids made in this process increase strictly, even within one
            /// millisecond, so their order is creation order (events of one
            /// batch keep the mapper's order).
            pub fn new(time_ms: u64) -> Self {
                $name(next_ulid(time_ms))
            }

            /// The id at `time_ms` whose other bits derive from `material`:
            /// the same inputs give the same id, so work redone after a
            /// crash gets the id it had.
            pub fn derived(time_ms: u64, material: &[u8]) -> Self {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(material);
                let mut low = [0u8; 16];
                low[6..].copy_from_slice(&digest[..10]);
                $name(Ulid::from_parts(time_ms, u128::from_be_bytes(low)))
            }

            /// The smallest id created at `time_ms`: a range bound for
            /// time-filtered scans.
            pub fn min_at(time_ms: u64) -> Self {
                $name(Ulid::from_parts(time_ms, 0))
            }

            /// The creation time encoded in the id, epoch ms.
            pub fn time_ms(self) -> u64 {
                self.0.timestamp_ms()
            }

            /// Big-endian bytes: the store key, ordered like the ids.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }

            /// Back from [`Self::to_bytes`].
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(Ulid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                text.strip_prefix($prefix)
                    .and_then(|rest| Ulid::from_string(rest).ok())
                    .map($name)
                    .ok_or_else(|| IdError {
                        kind: $kind,
                        prefix: $prefix,
                        text: text.chars().take(64).collect(),
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9A-HJKMNP-TV-Z]{26}$")))
                    .examples([serde_json::json!(concat!($prefix, "01JD8Z6Q3V6J4W8K2C9X7T5R1M"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// A canonical event.
    EventId, "evt_", "event"
);
prefixed_id!(
    /// A callback the mapper refused or failed on, kept for a retry.
    RejectedId, "rej_", "rejected callback"
);
prefixed_id!(
    /// An accepted callback kept whole for a while, so a new build of its
    /// source's mapper can be replayed over it.
    CallbackId, "cb_", "kept callback"
);
prefixed_id!(
    /// A subscriber endpoint.
    EndpointId, "ep_", "endpoint"
);
prefixed_id!(
    /// A connector (stored outbound credentials).
    ConnectorId, "conn_", "connector"
);
prefixed_id!(
    /// One event's delivery to one endpoint; its text is the `webhook-id`
    /// receivers dedupe on, the same across retries.
    DeliveryId, "msg_", "delivery"
);
prefixed_id!(
    /// A tenant's API key (the id it is listed and revoked by, not the
    /// secret).
    KeyId, "key_", "API key"
);
prefixed_id!(
    /// One entry of a tenant's audit log.
    AuditId, "aud_", "audit entry"
);

/// A ULID at `time_ms`: random bits, except that within the millisecond of
/// the previous one it is the previous one plus one, so ids made in one
/// millisecond sort in creation order. (An earlier `time_ms` gets fresh
/// random bits: the id must encode the time it was given.)
fn next_ulid(time_ms: u64) -> Ulid {
    static LAST: std::sync::Mutex<Option<Ulid>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let next = match *last {
        Some(previous) if previous.timestamp_ms() == time_ms => previous
            .increment()
            .unwrap_or_else(|| Ulid::from_parts(time_ms, rand::random())),
        _ => Ulid::from_parts(time_ms, rand::random()),
    };
    *last = Some(next);
    next
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let early = EventId::new(1_000);
        let late = EventId::new(2_000);
        assert!(early < late);
        assert!(early.to_bytes() < late.to_bytes());
        let text = early.to_string();
        assert!(text.starts_with("evt_"));
        assert_eq!(text.parse::<EventId>().unwrap(), early);
        assert_eq!(early.time_ms(), 1_000);
    }

    #[test]
    fn ids_made_in_one_millisecond_keep_their_order() {
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::new(42)).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn wrong_prefix_is_refused_with_the_kind() {
        let id = EndpointId::new(5).to_string();
        let error = id.parse::<EventId>().unwrap_err();
        assert!(error.to_string().contains("event id"), "{error}");
        assert!("evt_nope".parse::<EventId>().is_err());
    }
}
