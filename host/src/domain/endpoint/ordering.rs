//! An endpoint's ordering: none (parallel), the whole endpoint in event
//! order (seed 001), or FIFO per key (a path into the canonical event,
//! `channel_value` by default) with keys in parallel; and what a delivery
//! that fails for good does to the ones behind it (hold them until an
//! operator acts, or let them go). Also reads stored endpoints and requests
//! that still say `"ordering": "strict"` or `"none"`.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::event::CanonicalEvent;

/// The longest key path.
pub const MAX_KEY_PATH_LEN: usize = 256;
/// A key value longer than this is kept as `sha256:<hex>` of itself.
pub const MAX_KEY_VALUE_LEN: usize = 256;
/// The key path unless told.
pub const DEFAULT_KEY_PATH: &str = "channel_value";

/// The top-level fields of a canonical event, where a key path may start.
pub const EVENT_FIELDS: [&str; 13] = [
    "id",
    "version",
    "event_type",
    "channel",
    "channel_value",
    "distinct_id",
    "status",
    "inbound_message",
    "reference",
    "vendor_name",
    "source",
    "received_at",
    "vendor_response",
];

/// Which deliveries of an endpoint wait for which.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderingMode {
    /// Deliveries go in parallel (the default).
    #[default]
    None,
    /// One at a time in event order: a delivery waits until every earlier
    /// one of the endpoint is delivered (seed 001). `strict` is accepted
    /// for it.
    #[serde(alias = "strict")]
    Endpoint,
    /// FIFO per key: a delivery waits until every earlier one with the same
    /// key is delivered; different keys go in parallel.
    Key,
}

/// What the deliveries behind one that failed for good (retries
/// exhausted) do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterFinalFailure {
    /// They keep waiting until an operator retries the failed delivery
    /// (`POST /v1/deliveries/{id}/retry`) or releases it
    /// (`POST /v1/deliveries/{id}/release`). The default.
    #[default]
    Hold,
    /// The next one goes at once; the failed one stays failed, retryable
    /// by hand.
    Skip,
}

/// A dotted path into the canonical event (`channel_value`,
/// `reference.vendor_message_id`, `vendor_response.esputnik.contactId`);
/// a numeric segment indexes an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "channel_value")]
pub struct KeyPath(String);

impl KeyPath {
    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

impl Default for KeyPath {
    fn default() -> Self {
        KeyPath(DEFAULT_KEY_PATH.to_owned())
    }
}

impl TryFrom<String> for KeyPath {
    type Error = String;

    fn try_from(path: String) -> Result<Self, String> {
        if path.is_empty() || path.len() > MAX_KEY_PATH_LEN {
            return Err(format!(
                "give a path of 1 to {MAX_KEY_PATH_LEN} characters, like `channel_value`"
            ));
        }
        let valid_segment = |segment: &str| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !path.split('.').all(valid_segment) {
            return Err(format!(
                "`{path}` is not a dotted path of letters, digits, `_` and `-` (like `reference.vendor_message_id`)"
            ));
        }
        let first = path.split('.').next().unwrap_or_default();
        if !EVENT_FIELDS.contains(&first) {
            return Err(format!(
                "`{first}` is not a field of the canonical event; a path starts at one of: {}",
                EVENT_FIELDS.join(", ")
            ));
        }
        Ok(KeyPath(path))
    }
}

impl From<KeyPath> for String {
    fn from(path: KeyPath) -> String {
        path.0
    }
}

/// An endpoint's ordering, as stored and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryOrdering {
    /// `none`, `endpoint` or `key`.
    pub mode: OrderingMode,
    /// With `key`: the path whose value groups deliveries (default
    /// `channel_value`). Events without a value there share one queue.
    pub key: KeyPath,
    /// With `endpoint` or `key`: `hold` (default) or `skip`.
    pub after_final_failure: AfterFinalFailure,
}

/// The object form of `ordering`, every field optional (the defaults on
/// create; the current values on update).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderingFields {
    /// `none`, `endpoint` (`strict` also accepted) or `key`.
    #[serde(default)]
    pub mode: Option<OrderingMode>,
    /// A dotted path into the canonical event, from one of its top-level
    /// fields (`channel_value`, `distinct_id`, `reference.vendor_message_id`,
    /// `vendor_response.<vendor>.<field>` …).
    #[serde(default)]
    pub key: Option<KeyPath>,
    /// `hold` or `skip`.
    #[serde(default)]
    pub after_final_failure: Option<AfterFinalFailure>,
}

/// `ordering` in a create or update: the object form, or the older
/// `"strict"` / `"none"` (the mode alone).
#[derive(Debug, Clone, Default)]
pub struct OrderingInput(pub OrderingFields);

impl DeliveryOrdering {
    /// Changes the fields `input` gives.
    pub fn apply(&mut self, OrderingInput(fields): OrderingInput) {
        if let Some(mode) = fields.mode {
            self.mode = mode;
        }
        if let Some(key) = fields.key {
            self.key = key;
        }
        if let Some(after) = fields.after_final_failure {
            self.after_final_failure = after;
        }
    }

    /// Whether a delivery that failed for good keeps holding the ones
    /// behind it.
    pub fn holds_after_final_failure(&self) -> bool {
        self.mode != OrderingMode::None && self.after_final_failure == AfterFinalFailure::Hold
    }

    /// The ordering key of `event`'s delivery: `None` unless the mode is
    /// `key`; the value at the path otherwise (a string as is, anything
    /// else as JSON text; `""` when the event has no value there), kept
    /// as `sha256:<hex>` when longer than [`MAX_KEY_VALUE_LEN`].
    pub fn key_of(&self, event: &CanonicalEvent) -> Option<String> {
        if self.mode != OrderingMode::Key {
            return None;
        }
        let value = match self.key.as_str() {
            // The common paths, without turning the event into JSON.
            "channel_value" => event.channel_value.clone().unwrap_or_default(),
            "distinct_id" => event.distinct_id.clone().unwrap_or_default(),
            _ => serde_json::to_value(event)
                .ok()
                .and_then(|json| lookup(&json, &self.key).map(key_text))
                .unwrap_or_default(),
        };
        Some(bounded(value))
    }
}

fn lookup<'a>(json: &'a Value, path: &KeyPath) -> Option<&'a Value> {
    path.segments()
        .try_fold(json, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn key_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn bounded(value: String) -> String {
    if value.len() <= MAX_KEY_VALUE_LEN {
        return value;
    }
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(value.as_bytes())))
}

/// Reads the mode alone (`"strict"`, `"none"`, …) or the object form.
struct OrderingVisitor;

impl<'de> Visitor<'de> for OrderingVisitor {
    type Value = OrderingFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an object like {\"mode\": \"key\", \"key\": \"channel_value\", \"after_final_failure\": \"hold\"}, or `none` / `strict`",
        )
    }

    fn visit_str<E: de::Error>(self, mode: &str) -> Result<OrderingFields, E> {
        let mode = OrderingMode::deserialize(de::value::StrDeserializer::<E>::new(mode))?;
        Ok(OrderingFields {
            mode: Some(mode),
            ..OrderingFields::default()
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OrderingFields, A::Error> {
        OrderingFields::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

impl<'de> Deserialize<'de> for OrderingInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(OrderingVisitor)
            .map(OrderingInput)
    }
}

impl<'de> Deserialize<'de> for DeliveryOrdering {
    /// Stored endpoints from before the object form hold `"strict"` or
    /// `"none"`; `strict` reads as `endpoint` with `hold`, which is what
    /// seed 001 and the docs always said it did.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut ordering = DeliveryOrdering::default();
        ordering.apply(OrderingInput::deserialize(deserializer)?);
        Ok(ordering)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<DeliveryOrdering, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn the_older_strings_still_read() {
        let strict = parse(json!("strict")).unwrap();
        assert_eq!(strict.mode, OrderingMode::Endpoint);
        assert_eq!(strict.after_final_failure, AfterFinalFailure::Hold);
        assert_eq!(parse(json!("none")).unwrap(), DeliveryOrdering::default());
        let error = parse(json!("fifo")).unwrap_err();
        assert!(error.contains("unknown variant `fifo`"), "{error}");
    }

    #[test]
    fn the_object_form_reads_with_defaults_and_shows_every_field() {
        let ordering = parse(json!({"mode": "key"})).unwrap();
        assert_eq!(ordering.mode, OrderingMode::Key);
        assert_eq!(ordering.key.as_str(), "channel_value");
        assert_eq!(
            serde_json::to_value(&ordering).unwrap(),
            json!({"mode": "key", "key": "channel_value", "after_final_failure": "hold"})
        );
        let skip = parse(json!({"mode": "endpoint", "after_final_failure": "skip"})).unwrap();
        assert!(!skip.holds_after_final_failure());
        assert!(!DeliveryOrdering::default().holds_after_final_failure());
    }

    #[test]
    fn bad_paths_and_fields_are_refused_with_the_reason() {
        for (value, expected) in [
            (json!({"key": ""}), "1 to 256"),
            (json!({"key": "a..b"}), "dotted path"),
            (json!({"key": "status status"}), "dotted path"),
            (
                json!({"key": "contact.email"}),
                "not a field of the canonical event",
            ),
            (json!({"mode": "key", "keys": "x"}), "unknown field `keys`"),
            (
                json!({"after_final_failure": "drop"}),
                "unknown variant `drop`",
            ),
            (json!(3), "an object like"),
        ] {
            let error = parse(value.clone()).unwrap_err();
            assert!(error.contains(expected), "{value}: {error}");
        }
    }

    #[test]
    fn the_event_fields_list_matches_the_canonical_event() {
        let event = crate::domain::endpoint::tests::event(crate::ids::EventId::new(1), "m");
        let shown = serde_json::to_value(&event).unwrap();
        let mut fields: Vec<&str> = shown
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = EVENT_FIELDS.to_vec();
        fields.sort_unstable();
        expected.sort_unstable();
        assert_eq!(fields, expected);
    }

    #[test]
    fn keys_are_read_from_the_event_at_the_path() {
        let mut event = crate::domain::endpoint::tests::event(crate::ids::EventId::new(1), "m-1");
        event.vendor_response = json!({"esputnik": {"contactId": 42, "tags": ["a", "b"]}});
        let key_at = |event: &CanonicalEvent, path: &str| {
            let ordering = parse(json!({"mode": "key", "key": path})).unwrap();
            ordering.key_of(event).unwrap()
        };
        let at = |path: &str| key_at(&event, path);
        assert_eq!(at("channel_value"), event.channel_value.clone().unwrap());
        assert_eq!(at("reference.vendor_message_id"), "m-1");
        assert_eq!(at("vendor_response.esputnik.contactId"), "42");
        assert_eq!(at("vendor_response.esputnik.tags.1"), "b");
        assert_eq!(at("vendor_response.esputnik.missing"), "");
        assert_eq!(at("distinct_id"), "");
        event.channel_value = Some("x".repeat(MAX_KEY_VALUE_LEN + 1));
        assert!(key_at(&event, "channel_value").starts_with("sha256:"));
        assert_eq!(DeliveryOrdering::default().key_of(&event), None);
    }
}
