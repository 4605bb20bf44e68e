//! Building canonical events in a few readable lines:
//! `Event::status(Channel::Sms, Status::Delivered, "gupshup").recipient(..).message_id(..)`.

use serde_json::Value;

use crate::model::{Channel, Event, EventType, InboundMessage, Reference, Status, StatusInfo};

impl Event {
    /// A status event from `vendor` with nothing else known yet.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Delivered, "acme");
    /// assert_eq!(event.status.unwrap().status, Status::Delivered);
    /// assert_eq!(event.vendor_name, "acme");
    /// ```
    pub fn status(channel: Channel, status: Status, vendor: &str) -> Event {
        Event {
            event_type: EventType::Status,
            channel,
            channel_value: None,
            distinct_id: None,
            status: Some(StatusInfo::new(status)),
            inbound_message: None,
            reference: Reference::default(),
            vendor_name: vendor.to_string(),
            vendor_response: Value::Null,
        }
    }

    /// An inbound-message event; `channel_value` is the sender.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::inbound(Channel::Sms, InboundMessage::text("+15550100", "STOP"), "acme");
    /// assert_eq!(event.channel_value.as_deref(), Some("+15550100"));
    /// assert!(event.status.is_none());
    /// ```
    pub fn inbound(channel: Channel, message: InboundMessage, vendor: &str) -> Event {
        Event {
            event_type: EventType::InboundMessage,
            channel,
            channel_value: Some(message.from.clone()),
            distinct_id: None,
            status: None,
            inbound_message: Some(message),
            reference: Reference::default(),
            vendor_name: vendor.to_string(),
            vendor_response: Value::Null,
        }
    }

    /// Sets the end user's address (recipient of a status, sender of a reply).
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Sent, "acme").recipient(Some("+15550100".to_string()));
    /// assert_eq!(event.channel_value.as_deref(), Some("+15550100"));
    /// // An empty address counts as absent.
    /// let event = event.recipient(Some(String::new()));
    /// assert_eq!(event.channel_value, None);
    /// ```
    pub fn recipient(mut self, address: impl Into<Option<String>>) -> Event {
        self.channel_value = address.into().filter(|a| !a.is_empty());
        self
    }

    /// Sets the vendor's message id.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Sent, "acme").message_id(Some("m-1".to_string()));
    /// assert_eq!(event.reference.vendor_message_id.as_deref(), Some("m-1"));
    /// ```
    pub fn message_id(mut self, id: impl Into<Option<String>>) -> Event {
        self.reference.vendor_message_id = id.into().filter(|a| !a.is_empty());
        self
    }

    /// Sets the sender's idempotency key.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Sent, "acme").idempotency_key(Some("order-7".to_string()));
    /// assert_eq!(event.reference.idempotency_key.as_deref(), Some("order-7"));
    /// ```
    pub fn idempotency_key(mut self, key: impl Into<Option<String>>) -> Event {
        self.reference.idempotency_key = key.into().filter(|a| !a.is_empty());
        self
    }

    /// Sets the sender's id for the end user.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Email, Status::Read, "acme").distinct_id(Some("user-42".to_string()));
    /// assert_eq!(event.distinct_id.as_deref(), Some("user-42"));
    /// ```
    pub fn distinct_id(mut self, id: impl Into<Option<String>>) -> Event {
        self.distinct_id = id.into().filter(|a| !a.is_empty());
        self
    }

    /// Sets when it happened (epoch ms): the status time, or the inbound
    /// message's time.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Sent, "acme").timestamp(Some(1_700_000_000_000));
    /// assert_eq!(event.status.unwrap().timestamp, Some(1_700_000_000_000));
    /// let event = Event::inbound(Channel::Sms, InboundMessage::text("+1", "hi"), "acme").timestamp(Some(5));
    /// assert_eq!(event.inbound_message.unwrap().timestamp, Some(5));
    /// ```
    pub fn timestamp(mut self, millis: Option<i64>) -> Event {
        if let Some(status) = &mut self.status {
            status.timestamp = millis;
        }
        if let Some(message) = &mut self.inbound_message {
            message.timestamp = millis;
        }
        self
    }

    /// Sets the vendor's own name for the status.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Failed, "acme").vendor_status(Some("UNDELIV".to_string()));
    /// assert_eq!(event.status.unwrap().vendor_status.as_deref(), Some("UNDELIV"));
    /// ```
    pub fn vendor_status(mut self, vendor_status: impl Into<Option<String>>) -> Event {
        if let Some(status) = &mut self.status {
            status.vendor_status = vendor_status.into();
        }
        self
    }

    /// Sets the error code and description (either may be absent; empty
    /// strings count as absent).
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Sms, Status::Failed, "acme")
    ///     .error(Some("30003".to_string()), Some("  Unreachable handset ".to_string()));
    /// let status = event.status.unwrap();
    /// assert_eq!(status.error_code.as_deref(), Some("30003"));
    /// assert_eq!(status.description.as_deref(), Some("Unreachable handset"));
    /// ```
    pub fn error(
        mut self,
        code: impl Into<Option<String>>,
        description: impl Into<Option<String>>,
    ) -> Event {
        if let Some(status) = &mut self.status {
            status.error_code = code.into().filter(|c| !c.trim().is_empty());
            status.description = description
                .into()
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty());
        }
        self
    }

    /// Marks whether the address bounced permanently.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Email, Status::Failed, "acme").hard_bounce(Some(true));
    /// assert_eq!(event.status.unwrap().hard_bounce, Some(true));
    /// ```
    pub fn hard_bounce(mut self, hard: Option<bool>) -> Event {
        if let Some(status) = &mut self.status {
            status.hard_bounce = hard;
        }
        self
    }

    /// Sets the clicked link.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let event = Event::status(Channel::Email, Status::Clicked, "acme")
    ///     .link(Some("https://example.com/offer".to_string()));
    /// assert_eq!(event.status.unwrap().link.as_deref(), Some("https://example.com/offer"));
    /// ```
    pub fn link(mut self, link: impl Into<Option<String>>) -> Event {
        if let Some(status) = &mut self.status {
            status.link = link.into().filter(|l| !l.is_empty());
        }
        self
    }

    /// Keeps the part of the callback this event came from.
    ///
    /// ```
    /// use wasmhook_sdk::{Channel, Event, InboundMessage, Status, json};
    ///
    /// let item = json!({"id": "m-1", "state": "DELIVERED"});
    /// let event = Event::status(Channel::Sms, Status::Delivered, "acme").raw(item.clone());
    /// assert_eq!(event.vendor_response, item);
    /// ```
    pub fn raw(mut self, payload: Value) -> Event {
        self.vendor_response = payload;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_a_status_event() {
        let event = Event::status(Channel::Sms, Status::Failed, "gupshup")
            .recipient(Some("91989".to_string()))
            .message_id(Some("ext-1".to_string()))
            .timestamp(Some(1_526_347_800_000))
            .error(
                Some("003".to_string()),
                Some(" UNKNOWN_SUBSCRIBER".to_string()),
            )
            .raw(json!({"x": 1}));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event_type"], "status");
        assert_eq!(json["status"]["status"], "failed");
        assert_eq!(json["status"]["description"], "UNKNOWN_SUBSCRIBER");
        assert_eq!(json["reference"]["vendor_message_id"], "ext-1");
        assert_eq!(json["channel_value"], "91989");
    }

    #[test]
    fn inbound_event_uses_sender_as_channel_value() {
        let event = Event::inbound(Channel::Whatsapp, InboundMessage::text("+1", "Hi"), "meta")
            .timestamp(Some(5));
        assert_eq!(event.channel_value.as_deref(), Some("+1"));
        assert_eq!(event.inbound_message.unwrap().timestamp, Some(5));
    }
}
