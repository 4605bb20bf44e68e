//! Several payload shapes in one source (a batch report and a
//! per-recipient one; WhatsApp `statuses` and `messages`): `config.shapes`
//! lists them, the first whose `when` holds for the payload wins, and its
//! settings go over the shared ones.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::FixedOffset;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use wasmhook_sdk::time::TimeFormat;
use wasmhook_sdk::{Channel, EventType, PluginError};

use crate::config::{
    FieldmapConfig, Fields, Selector, StatusTarget, offset, optional_path, statuses, time_format,
};
use crate::extract::Item;
use crate::spec::{Condition, PathRef};

/// One payload shape: when it applies and what it changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// What the payload must look like (one condition or a list, all must
    /// hold), tested on the whole payload.
    #[serde(deserialize_with = "conditions")]
    pub when: Vec<Condition>,
    /// A name for messages (default: the shape's position).
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces `channel`.
    #[serde(default)]
    pub channel: Option<Selector<Channel>>,
    /// Replaces `items`.
    #[serde(default, deserialize_with = "optional_path")]
    pub items: Option<PathRef>,
    /// Replaces `event_type`.
    #[serde(default)]
    pub event_type: Option<Selector<EventType>>,
    /// Each field set here replaces the shared one.
    #[serde(default)]
    pub fields: Fields,
    /// Added to the shared `statuses` (an entry here wins).
    #[serde(default, deserialize_with = "statuses")]
    pub statuses: BTreeMap<String, StatusTarget>,
    /// Replaces `timestamp_format`.
    #[serde(default, deserialize_with = "some_time_format")]
    pub timestamp_format: Option<TimeFormat>,
    /// Replaces `timezone`.
    #[serde(default, deserialize_with = "offset")]
    pub timezone: Option<FixedOffset>,
}

fn conditions<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Condition>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    // The error starts with the place inside `when` (`[1].path: …`,
    // `.equals: …`, `: …`); serde already names `when` itself.
    Condition::list(&value)
        .map_err(|e| D::Error::custom(e.trim_start_matches(": ").trim_start_matches('.')))
}

fn some_time_format<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TimeFormat>, D::Error> {
    time_format(deserializer).map(Some)
}

impl FieldmapConfig {
    /// The settings for `payload`: these, or those of the first shape that
    /// matches it laid over these. No shape matching is `unsupported`,
    /// listing what each shape needs.
    pub fn for_payload(&self, payload: &Value) -> Result<Cow<'_, FieldmapConfig>, PluginError> {
        if self.shapes.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        let whole = Item {
            value: payload,
            parent: None,
            root: payload,
        };
        match self.shapes.iter().find(|shape| whole.holds(&shape.when)) {
            Some(shape) => Ok(Cow::Owned(self.with(shape))),
            None => Err(PluginError::unsupported(format!(
                "the payload matches none of config.shapes: {}",
                self.shapes
                    .iter()
                    .enumerate()
                    .map(|(i, shape)| {
                        let name = shape.name.clone().unwrap_or_else(|| format!("shapes[{i}]"));
                        let needs: Vec<String> =
                            shape.when.iter().map(Condition::describe).collect();
                        format!("{name} needs {}", needs.join(" and "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
        }
    }

    /// These settings with `shape`'s laid over them.
    fn with(&self, shape: &Shape) -> FieldmapConfig {
        let mut statuses = self.statuses.clone();
        statuses.extend(shape.statuses.iter().map(|(k, v)| (k.clone(), *v)));
        FieldmapConfig {
            vendor: self.vendor.clone(),
            channel: shape.channel.clone().or_else(|| self.channel.clone()),
            items: shape.items.clone().or_else(|| self.items.clone()),
            event_type: shape.event_type.clone().or_else(|| self.event_type.clone()),
            fields: self.fields.overlay(&shape.fields),
            statuses,
            timestamp_format: shape
                .timestamp_format
                .clone()
                .unwrap_or_else(|| self.timestamp_format.clone()),
            timezone: shape.timezone.or(self.timezone),
            shapes: Vec::new(),
        }
    }
}
