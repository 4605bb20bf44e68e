//! Which events an endpoint wants: per channel the event types (seed 000),
//! a list of canonical statuses, and key-value filters on any field of the
//! canonical event, all ANDed (seed 003). [`EndpointFilters::matches`] is
//! what the delivery engine asks for every event and endpoint.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;
use wasmhook_sdk::path::{Path, Segment};
use wasmhook_sdk::{Channel, EventType, Status};

use super::FieldError;
use crate::domain::event::CanonicalEvent;

/// The most key-value filters an endpoint may have.
pub const MAX_MATCH_FILTERS: usize = 32;
/// The longest value a key-value filter may compare with.
pub const MAX_MATCH_VALUE_LEN: usize = 1024;

/// The top-level fields of a canonical event, where a `match` path starts.
const EVENT_FIELDS: [&str; 13] = [
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

/// Per channel, the event types wanted. Kept in the channels' declaration
/// order so responses are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSelection(Vec<(Channel, Vec<EventType>)>);

impl ChannelSelection {
    /// Builds a selection from `(channel, event types)` pairs.
    pub fn new(entries: impl IntoIterator<Item = (Channel, Vec<EventType>)>) -> Self {
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by_key(|(channel, _)| Channel::ALL.iter().position(|c| c == channel));
        entries.dedup_by_key(|(channel, _)| *channel);
        ChannelSelection(entries)
    }

    /// Whether no channel is named (every channel and type is wanted).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an event of `event_type` on `channel` is wanted: every event
    /// when no channel is named; otherwise the channel must be named, and
    /// an empty type list there means every type.
    pub fn wants(&self, channel: Channel, event_type: EventType) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .find(|(named, _)| *named == channel)
                .is_some_and(|(_, types)| types.is_empty() || types.contains(&event_type))
    }
}

impl Serialize for ChannelSelection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(channel, types)| (channel, types)))
    }
}

impl<'de> Deserialize<'de> for ChannelSelection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = HashMap::<Channel, Vec<EventType>>::deserialize(deserializer)?;
        Ok(ChannelSelection::new(map))
    }
}

/// The events an endpoint receives; every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointFilters {
    /// Per channel the event types wanted, e.g.
    /// `{"whatsapp": ["status", "inbound_message"], "sms": ["status"]}`.
    /// Empty: every channel and type. A channel with an empty list: every
    /// type on that channel.
    #[serde(default)]
    #[schema(value_type = HashMap<String, Vec<EventType>>)]
    pub channels: ChannelSelection,
    /// Canonical statuses wanted for `status` events (empty: all). Inbound
    /// messages are chosen by `channels` alone.
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// Key-value filters, all of which must hold: the key is a dot path into
    /// the canonical event (`source`, `status.error_code`,
    /// `reference.idempotency_key`, `vendor_response.gupshup.type`), the
    /// value the text the field must equal (numbers and booleans compare
    /// as printed).
    #[serde(default, rename = "match")]
    pub match_fields: BTreeMap<String, String>,
}

/// `filters` in a create or update: each part given replaces that part.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FiltersInput {
    /// New per-channel event types.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, Vec<EventType>>>)]
    pub channels: Option<ChannelSelection>,
    /// New status list.
    #[serde(default)]
    pub statuses: Option<Vec<Status>>,
    /// New key-value filters.
    #[serde(default, rename = "match")]
    pub match_fields: Option<BTreeMap<String, String>>,
}

impl EndpointFilters {
    /// Changes the parts `input` gives.
    pub fn apply(&mut self, input: FiltersInput) {
        if let Some(channels) = input.channels {
            self.channels = channels;
        }
        if let Some(statuses) = input.statuses {
            self.statuses = statuses;
        }
        if let Some(match_fields) = input.match_fields {
            self.match_fields = match_fields;
        }
    }

    /// Checks the key-value filters: known root fields, parseable paths,
    /// bounded sizes.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.match_fields.len() > MAX_MATCH_FILTERS {
            return Err(FieldError::new(
                "filters.match",
                format!("at most {MAX_MATCH_FILTERS} filters"),
            ));
        }
        for (key, value) in &self.match_fields {
            let field = format!("filters.match.{key}");
            let path = Path::parse(key).map_err(|error| FieldError::new(&field, error))?;
            match path.segments().first() {
                Some(Segment::Key(root)) if EVENT_FIELDS.contains(&root.as_str()) => {}
                _ => {
                    return Err(FieldError::new(
                        &field,
                        format!(
                            "must start with a canonical event field ({})",
                            EVENT_FIELDS.join(", ")
                        ),
                    ));
                }
            }
            if value.chars().count() > MAX_MATCH_VALUE_LEN {
                return Err(FieldError::new(
                    &field,
                    format!("at most {MAX_MATCH_VALUE_LEN} characters"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the endpoint wants `event`.
    pub fn matches(&self, event: &CanonicalEvent) -> bool {
        self.channels.wants(event.channel, event.event_type)
            && self.status_matches(event)
            && self.fields_match(event)
    }

    fn status_matches(&self, event: &CanonicalEvent) -> bool {
        match event.status_value() {
            Some(status) => self.statuses.is_empty() || self.statuses.contains(&status),
            None => true,
        }
    }

    fn fields_match(&self, event: &CanonicalEvent) -> bool {
        if self.match_fields.is_empty() {
            return true;
        }
        // Paths reach any field, including the vendor's payload, so they
        // are read from the event's JSON form (the form subscribers get).
        let Ok(json) = serde_json::to_value(event) else {
            return false;
        };
        self.match_fields.iter().all(|(key, expected)| {
            Path::parse(key)
                .ok()
                .and_then(|path| path.first(&json).and_then(scalar_text))
                .is_some_and(|actual| actual == *expected)
        })
    }
}

/// A scalar as the text a filter compares with.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wasmhook_sdk::{InboundMessage, Reference, StatusInfo};

    use super::*;
    use crate::domain::event::EVENT_VERSION;
    use crate::ids::EventId;

    fn status_event(channel: Channel, status: Status) -> CanonicalEvent {
        CanonicalEvent {
            id: EventId::new(1_000),
            version: EVENT_VERSION.into(),
            event_type: EventType::Status,
            channel,
            channel_value: Some("+919892488888".into()),
            distinct_id: None,
            status: Some(StatusInfo {
                error_code: Some("1001".into()),
                hard_bounce: Some(true),
                ..StatusInfo::new(status)
            }),
            inbound_message: None,
            reference: Reference {
                vendor_message_id: Some("m-1".into()),
                idempotency_key: Some("tx-42".into()),
            },
            vendor_name: "gupshup".into(),
            source: "gupshup-sms".into(),
            received_at: 1_000,
            vendor_response: json!({"gupshup": {"type": "DLR", "cause": 7}}),
        }
    }

    fn inbound_event(channel: Channel) -> CanonicalEvent {
        CanonicalEvent {
            event_type: EventType::InboundMessage,
            status: None,
            inbound_message: Some(InboundMessage::new("+1555", "text")),
            ..status_event(channel, Status::Delivered)
        }
    }

    fn filters(json: Value) -> EndpointFilters {
        let filters: EndpointFilters = serde_json::from_value(json).unwrap();
        filters.validate().unwrap();
        filters
    }

    #[test]
    fn empty_filters_match_every_event() {
        let all = EndpointFilters::default();
        assert!(all.matches(&status_event(Channel::Email, Status::Failed)));
        assert!(all.matches(&inbound_event(Channel::Whatsapp)));
    }

    #[test]
    fn channels_select_event_types_per_channel() {
        let seed_000 = filters(json!({"channels": {
            "whatsapp": ["status", "inbound_message"], "sms": ["status"], "email": []
        }}));
        assert!(seed_000.matches(&status_event(Channel::Whatsapp, Status::Read)));
        assert!(seed_000.matches(&inbound_event(Channel::Whatsapp)));
        assert!(seed_000.matches(&status_event(Channel::Sms, Status::Delivered)));
        assert!(!seed_000.matches(&inbound_event(Channel::Sms)));
        assert!(
            seed_000.matches(&inbound_event(Channel::Email)),
            "[] = all types"
        );
        assert!(!seed_000.matches(&status_event(Channel::Viber, Status::Read)));
    }

    #[test]
    fn statuses_select_status_events_and_leave_inbound_alone() {
        let failures = filters(json!({"statuses": ["failed", "spam"]}));
        assert!(failures.matches(&status_event(Channel::Sms, Status::Failed)));
        assert!(!failures.matches(&status_event(Channel::Sms, Status::Delivered)));
        assert!(failures.matches(&inbound_event(Channel::Sms)));
    }

    #[test]
    fn key_value_filters_are_anded_over_dot_paths() {
        let seed_003 = filters(json!({"match": {
            "source": "gupshup-sms",
            "status.error_code": "1001",
            "reference.idempotency_key": "tx-42",
        }}));
        let event = status_event(Channel::Sms, Status::Failed);
        assert!(seed_003.matches(&event));
        let mut other_key = event.clone();
        other_key.reference.idempotency_key = Some("tx-43".into());
        assert!(
            !seed_003.matches(&other_key),
            "one filter failing fails all"
        );
        let mut no_key = event.clone();
        no_key.reference.idempotency_key = None;
        assert!(!seed_003.matches(&no_key), "a missing field never matches");
    }

    #[test]
    fn key_value_filters_reach_the_vendor_payload_and_compare_scalars_as_text() {
        let event = status_event(Channel::Sms, Status::Failed);
        assert!(filters(json!({"match": {"vendor_response.gupshup.cause": "7"}})).matches(&event));
        assert!(filters(json!({"match": {"status.hard_bounce": "true"}})).matches(&event));
        assert!(
            filters(json!({"match": {"status.status": "failed", "channel": "sms"}}))
                .matches(&event)
        );
        assert!(!filters(json!({"match": {"vendor_response.gupshup": "DLR"}})).matches(&event));
    }

    #[test]
    fn all_parts_must_hold_together() {
        let combined = filters(json!({
            "channels": {"sms": ["status"]},
            "statuses": ["failed"],
            "match": {"vendor_name": "gupshup"},
        }));
        assert!(combined.matches(&status_event(Channel::Sms, Status::Failed)));
        assert!(!combined.matches(&status_event(Channel::Whatsapp, Status::Failed)));
        assert!(!combined.matches(&status_event(Channel::Sms, Status::Sent)));
        let mut other_vendor = status_event(Channel::Sms, Status::Failed);
        other_vendor.vendor_name = "twilio".into();
        assert!(!combined.matches(&other_vendor));
    }

    #[test]
    fn match_keys_must_be_paths_into_the_event() {
        for bad in ["nope.x", "status..code", "", "[0]"] {
            let filters: EndpointFilters =
                serde_json::from_value(json!({"match": {bad: "1"}})).unwrap();
            let error = filters.validate().unwrap_err();
            assert!(error.field.starts_with("filters.match"), "{error}");
        }
    }

    #[test]
    fn channels_serialise_in_declaration_order_and_unknown_ones_are_refused() {
        let selection = filters(json!({"channels": {"sms": ["status"], "whatsapp": []}}));
        let text = serde_json::to_string(&selection.channels).unwrap();
        assert_eq!(text, r#"{"whatsapp":[],"sms":["status"]}"#);
        assert!(
            serde_json::from_value::<EndpointFilters>(json!({"channels": {"fax": []}})).is_err()
        );
        assert!(serde_json::from_value::<EndpointFilters>(json!({"statuses": ["lost"]})).is_err());
    }
}
