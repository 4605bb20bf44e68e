//! The fieldmap configuration and how it is read. Every mistake is named by
//! its place in the config (`config.fields.status: path `a[`: …`), thanks to
//! `Config::parse` and custom deserialisers that validate while reading.

use std::collections::BTreeMap;

use chrono::FixedOffset;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use wasmhook_sdk::time::{TimeFormat, parse_offset};
use wasmhook_sdk::{Channel, EventType, Status};

use crate::shapes::Shape;
use crate::spec::{FieldSpec, PathRef};

/// A vendor described by configuration (see the crate doc).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldmapConfig {
    /// The vendor's short name, the events' `vendor_name`.
    #[serde(deserialize_with = "non_empty")]
    pub vendor: String,
    /// The channel: a name, or `{path, map}`.
    #[serde(default)]
    pub channel: Option<Selector<Channel>>,
    /// Where the batch of items is (`results[]`); fields are read relative
    /// to each item.
    #[serde(default, deserialize_with = "optional_path")]
    pub items: Option<PathRef>,
    /// `status` (default) or `inbound_message`, or `{path, map}`.
    #[serde(default)]
    pub event_type: Option<Selector<EventType>>,
    /// Where each canonical field is found.
    #[serde(default)]
    pub fields: Fields,
    /// Vendor status text → canonical status (case-insensitive; `"*"` is
    /// the default).
    #[serde(default, deserialize_with = "statuses")]
    pub statuses: BTreeMap<String, StatusTarget>,
    /// How timestamps are written (default `auto`).
    #[serde(default, deserialize_with = "time_format")]
    pub timestamp_format: TimeFormat,
    /// The offset of timestamps written without one (default UTC).
    #[serde(default, deserialize_with = "offset")]
    pub timezone: Option<FixedOffset>,
    /// Payload shapes with their own settings; the first whose `when`
    /// holds adds to (and overrides) the settings above.
    #[serde(default)]
    pub shapes: Vec<Shape>,
}

/// Where each canonical field is read from. Each is a path (`a.b`,
/// `a[0].b`, `a[-1]`, `a.@json.b`, `"quoted.key"`, `$` for the item
/// itself, `$root.…` for the whole payload, `$parent.…` for the enclosing
/// batch element), a list of fallbacks, `{"value": constant}`, or
/// `{"path": …, "ignore": […], "when": …, "transform": […], "map": {…}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Fields {
    pub channel_value: Option<FieldSpec>,
    pub vendor_message_id: Option<FieldSpec>,
    pub idempotency_key: Option<FieldSpec>,
    pub distinct_id: Option<FieldSpec>,
    pub status: Option<FieldSpec>,
    pub timestamp: Option<FieldSpec>,
    pub error_code: Option<FieldSpec>,
    pub description: Option<FieldSpec>,
    pub hard_bounce: Option<FieldSpec>,
    pub link: Option<FieldSpec>,
    pub inbound_from: Option<FieldSpec>,
    pub inbound_to: Option<FieldSpec>,
    pub inbound_text: Option<FieldSpec>,
    pub inbound_type: Option<FieldSpec>,
}

impl Fields {
    /// These fields with the ones `over` sets replacing them (a shape's
    /// fields over the shared ones).
    pub fn overlay(&self, over: &Fields) -> Fields {
        let pick = |base: &Option<FieldSpec>, over: &Option<FieldSpec>| {
            over.clone().or_else(|| base.clone())
        };
        Fields {
            channel_value: pick(&self.channel_value, &over.channel_value),
            vendor_message_id: pick(&self.vendor_message_id, &over.vendor_message_id),
            idempotency_key: pick(&self.idempotency_key, &over.idempotency_key),
            distinct_id: pick(&self.distinct_id, &over.distinct_id),
            status: pick(&self.status, &over.status),
            timestamp: pick(&self.timestamp, &over.timestamp),
            error_code: pick(&self.error_code, &over.error_code),
            description: pick(&self.description, &over.description),
            hard_bounce: pick(&self.hard_bounce, &over.hard_bounce),
            link: pick(&self.link, &over.link),
            inbound_from: pick(&self.inbound_from, &over.inbound_from),
            inbound_to: pick(&self.inbound_to, &over.inbound_to),
            inbound_text: pick(&self.inbound_text, &over.inbound_text),
            inbound_type: pick(&self.inbound_type, &over.inbound_type),
        }
    }
}

/// A value that is either constant or read from the payload and mapped.
#[derive(Debug, Clone)]
pub enum Selector<T> {
    /// Always this.
    Constant(T),
    /// Read at `path`, then looked up in `map` (case-insensitive; `"*"` is
    /// the default; a value that already names a `T` needs no entry).
    Mapped {
        /// Where the vendor's value is.
        path: FieldSpec,
        /// Vendor text (lower case) → `T`.
        map: BTreeMap<String, T>,
        /// What to use when `path` holds nothing (default: the built-in
        /// default, `status` / `other`).
        missing: Option<T>,
    },
}

/// Names that `Selector` can read (`Channel`, `EventType`).
pub trait Named: Sized {
    /// What the names are called in messages.
    const WHAT: &'static str;
    /// Parses a canonical name case-insensitively.
    fn from_name(name: &str) -> Option<Self>;
    /// The canonical names, for messages.
    fn names() -> String;
}

impl Named for Channel {
    const WHAT: &'static str = "channel";
    fn from_name(name: &str) -> Option<Self> {
        Channel::parse(name)
    }
    fn names() -> String {
        Channel::ALL.map(Channel::as_str).join(", ")
    }
}

impl Named for EventType {
    const WHAT: &'static str = "event type";
    fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "status" => Some(EventType::Status),
            "inbound_message" => Some(EventType::InboundMessage),
            _ => None,
        }
    }
    fn names() -> String {
        "status, inbound_message".to_string()
    }
}

fn parse_named<T: Named, E: serde::de::Error>(name: &str) -> Result<T, E> {
    T::from_name(name)
        .ok_or_else(|| E::custom(format!("`{name}` is not a {} ({})", T::WHAT, T::names())))
}

impl<'de, T: Named> Deserialize<'de> for Selector<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(name) => Ok(Selector::Constant(parse_named(&name)?)),
            Value::Object(mut object) => {
                if let Some(unknown) = object
                    .keys()
                    .find(|k| !matches!(k.as_str(), "path" | "map" | "missing"))
                {
                    return Err(D::Error::custom(format!(
                        "unknown key `{unknown}`, expected `path`, `map` and `missing`"
                    )));
                }
                let missing = match object.remove("missing") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(name)) => Some(
                        parse_named(&name)
                            .map_err(|e: D::Error| D::Error::custom(format!("missing: {e}")))?,
                    ),
                    Some(other) => {
                        return Err(D::Error::custom(format!(
                            "missing: expected a name, got {other}"
                        )));
                    }
                };
                let path = object
                    .remove("path")
                    .ok_or_else(|| D::Error::custom("`path` is missing"))?;
                let path = FieldSpec::deserialize(path)
                    .map_err(|e| D::Error::custom(format!("path: {e}")))?;
                let mut map = BTreeMap::new();
                if let Some(entries) = object.remove("map") {
                    let Value::Object(entries) = entries else {
                        return Err(D::Error::custom(
                            "`map` must be an object {vendor value: name}",
                        ));
                    };
                    for (key, name) in entries {
                        let name = name.as_str().ok_or_else(|| {
                            D::Error::custom(format!("map.{key}: expected a name"))
                        })?;
                        let target = parse_named(name)
                            .map_err(|e: D::Error| D::Error::custom(format!("map.{key}: {e}")))?;
                        map.insert(key.trim().to_lowercase(), target);
                    }
                }
                Ok(Selector::Mapped { path, map, missing })
            }
            other => Err(D::Error::custom(format!(
                "expected a {} name or {{\"path\": …, \"map\": {{…}}}}, got {other}",
                T::WHAT
            ))),
        }
    }
}

/// What a vendor status maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusTarget {
    /// The canonical status.
    pub status: Status,
    /// Whether this status means the address bounced permanently (overrides
    /// `fields.hard_bounce`).
    pub hard_bounce: Option<bool>,
}

pub(crate) fn statuses<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, StatusTarget>, D::Error> {
    let entries = BTreeMap::<String, Value>::deserialize(deserializer)?;
    let mut map = BTreeMap::new();
    let names = || Status::ALL.map(Status::as_str).join(", ");
    for (vendor_status, target) in entries {
        let bad = |why: String| D::Error::custom(format!("\"{vendor_status}\": {why}"));
        let (name, hard_bounce) = match &target {
            Value::String(name) => (name.clone(), None),
            Value::Object(object) => {
                if let Some(unknown) = object
                    .keys()
                    .find(|k| !matches!(k.as_str(), "status" | "hard_bounce"))
                {
                    return Err(bad(format!(
                        "unknown key `{unknown}`, expected `status` and `hard_bounce`"
                    )));
                }
                let name = object
                    .get("status")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("`status` is missing".into()))?;
                let hard = match object.get("hard_bounce") {
                    None | Some(Value::Null) => None,
                    Some(Value::Bool(hard)) => Some(*hard),
                    Some(other) => {
                        return Err(bad(format!(
                            "`hard_bounce` must be true or false, got {other}"
                        )));
                    }
                };
                (name.to_string(), hard)
            }
            other => return Err(bad(format!("expected a canonical status, got {other}"))),
        };
        let status = Status::parse(&name)
            .ok_or_else(|| bad(format!("`{name}` is not a canonical status ({})", names())))?;
        map.insert(
            vendor_status.trim().to_lowercase(),
            StatusTarget {
                status,
                hard_bounce,
            },
        );
    }
    Ok(map)
}

fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    Ok(text.trim().to_string())
}

pub(crate) fn optional_path<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathRef>, D::Error> {
    let text = String::deserialize(deserializer)?;
    PathRef::parse(&text).map(Some).map_err(D::Error::custom)
}

pub(crate) fn time_format<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<TimeFormat, D::Error> {
    let name = String::deserialize(deserializer)?;
    TimeFormat::parse(&name).ok_or_else(|| {
        D::Error::custom(format!(
            "`{name}` is not auto, epoch_s, epoch_ms, iso8601, compact or a strftime pattern (with `%`)"
        ))
    })
}

pub(crate) fn offset<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<FixedOffset>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_offset(&text).map(Some).ok_or_else(|| {
        D::Error::custom(format!(
            "`{text}` is not an offset like +05:30, -0300 or UTC"
        ))
    })
}
