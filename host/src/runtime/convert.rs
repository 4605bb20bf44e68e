//! Conversions between the generated WIT types and the SDK's model types.
//! (What a returned value may be — its size, event count, reply — is
//! checked in `output` before it is converted.)

use serde_json::Value;
use wasmhook_sdk as sdk;

use super::bindings::{http, types};

impl From<types::LogLevel> for sdk::LogLevel {
    fn from(level: types::LogLevel) -> Self {
        match level {
            types::LogLevel::Trace => sdk::LogLevel::Trace,
            types::LogLevel::Debug => sdk::LogLevel::Debug,
            types::LogLevel::Info => sdk::LogLevel::Info,
            types::LogLevel::Warn => sdk::LogLevel::Warn,
            types::LogLevel::Error => sdk::LogLevel::Error,
        }
    }
}

impl From<types::PluginError> for sdk::PluginError {
    fn from(error: types::PluginError) -> Self {
        let kind = match error.kind {
            types::ErrorKind::InvalidInput => sdk::ErrorKind::InvalidInput,
            types::ErrorKind::Unsupported => sdk::ErrorKind::Unsupported,
            types::ErrorKind::InvalidConfig => sdk::ErrorKind::InvalidConfig,
            types::ErrorKind::Upstream => sdk::ErrorKind::Upstream,
            types::ErrorKind::Internal => sdk::ErrorKind::Internal,
        };
        sdk::PluginError::new(kind, error.message)
    }
}

impl From<&sdk::Callback> for types::Callback {
    fn from(callback: &sdk::Callback) -> Self {
        types::Callback {
            method: callback.method.clone(),
            headers: callback.headers.clone(),
            query: callback.query.clone(),
            content_type: callback.content_type.clone(),
            body: callback.body.clone(),
        }
    }
}

impl From<sdk::BodyFormat> for types::BodyFormat {
    fn from(format: sdk::BodyFormat) -> Self {
        match format {
            sdk::BodyFormat::Json => types::BodyFormat::Json,
            sdk::BodyFormat::Xml => types::BodyFormat::Xml,
            sdk::BodyFormat::Text => types::BodyFormat::Text,
            sdk::BodyFormat::Form => types::BodyFormat::Form,
        }
    }
}

impl From<&sdk::RenderRequest> for types::RenderRequest {
    fn from(request: &sdk::RenderRequest) -> Self {
        types::RenderRequest {
            template: request.template.clone(),
            format: request.format.into(),
            data: request.data.to_string(),
            config: request.config.to_string(),
        }
    }
}

impl From<types::Rendered> for sdk::Rendered {
    fn from(rendered: types::Rendered) -> Self {
        sdk::Rendered {
            content_type: rendered.content_type,
            body: rendered.body,
        }
    }
}

impl From<&sdk::BlockInput> for types::BlockInput {
    fn from(input: &sdk::BlockInput) -> Self {
        types::BlockInput {
            event: input.event.to_string(),
            contact: input.contact.to_string(),
            data: input.data.to_string(),
        }
    }
}

/// Converts a mapper's result; fails with a description when an event's
/// `vendor-response` is not JSON.
pub(crate) fn mapped_from_wit(mapped: types::Mapped) -> Result<sdk::Mapped, String> {
    let events = mapped
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            event_from_wit(event).map_err(|error| format!("event {index}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sdk::Mapped {
        events,
        reply: mapped.reply.map(|reply| sdk::Reply {
            status: reply.status,
            content_type: reply.content_type,
            body: reply.body,
        }),
    })
}

fn event_from_wit(event: types::Event) -> Result<sdk::Event, String> {
    let vendor_response = parse_json(&event.vendor_response)
        .map_err(|error| format!("vendor_response is not JSON: {error}"))?;
    Ok(sdk::Event {
        event_type: match event.event_type {
            types::EventType::Status => sdk::EventType::Status,
            types::EventType::InboundMessage => sdk::EventType::InboundMessage,
        },
        channel: channel_from_wit(event.channel),
        channel_value: event.channel_value,
        distinct_id: event.distinct_id,
        status: event.status.map(status_from_wit),
        inbound_message: event.inbound_message.map(inbound_from_wit),
        reference: sdk::Reference {
            vendor_message_id: event.reference.vendor_message_id,
            idempotency_key: event.reference.idempotency_key,
        },
        vendor_name: event.vendor_name,
        vendor_response,
    })
}

fn channel_from_wit(channel: types::Channel) -> sdk::Channel {
    match channel {
        types::Channel::Whatsapp => sdk::Channel::Whatsapp,
        types::Channel::Sms => sdk::Channel::Sms,
        types::Channel::Email => sdk::Channel::Email,
        types::Channel::Viber => sdk::Channel::Viber,
        types::Channel::Rcs => sdk::Channel::Rcs,
        types::Channel::Push => sdk::Channel::Push,
        types::Channel::Voice => sdk::Channel::Voice,
        types::Channel::Other => sdk::Channel::Other,
    }
}

fn status_from_wit(info: types::StatusInfo) -> sdk::StatusInfo {
    let status = match info.status {
        types::DeliveryStatus::Queued => sdk::Status::Queued,
        types::DeliveryStatus::Sent => sdk::Status::Sent,
        types::DeliveryStatus::Delivered => sdk::Status::Delivered,
        types::DeliveryStatus::Deferred => sdk::Status::Deferred,
        types::DeliveryStatus::Read => sdk::Status::Read,
        types::DeliveryStatus::Clicked => sdk::Status::Clicked,
        types::DeliveryStatus::Failed => sdk::Status::Failed,
        types::DeliveryStatus::Spam => sdk::Status::Spam,
        types::DeliveryStatus::Unsubscribed => sdk::Status::Unsubscribed,
        types::DeliveryStatus::SubscriptionChanged => sdk::Status::SubscriptionChanged,
    };
    sdk::StatusInfo {
        status,
        vendor_status: info.vendor_status,
        timestamp: info.timestamp,
        error_code: info.error_code,
        description: info.description,
        hard_bounce: info.hard_bounce,
        link: info.link,
    }
}

fn inbound_from_wit(message: types::InboundMessage) -> sdk::InboundMessage {
    sdk::InboundMessage {
        from: message.from,
        to: message.to,
        message_type: message.message_type,
        text: message.text,
        payload: message.payload,
        media: message
            .media
            .into_iter()
            .map(|media| sdk::Media {
                url: media.url,
                id: media.id,
                mime_type: media.mime_type,
                caption: media.caption,
            })
            .collect(),
        context: message.context.map(|context| sdk::MessageContext {
            from: context.from,
            id: context.id,
        }),
        timestamp: message.timestamp,
    }
}

/// JSON text to a value; empty text is `null` (a plugin with nothing to say).
pub(crate) fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    if text.trim().is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_str(text)
    }
}

impl From<http::Request> for sdk::HttpRequest {
    fn from(request: http::Request) -> Self {
        sdk::HttpRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            connector: request.connector,
            timeout_ms: request.timeout_ms,
        }
    }
}

impl From<sdk::HttpResponse> for http::Response {
    fn from(response: sdk::HttpResponse) -> Self {
        http::Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}

impl From<sdk::HttpError> for http::HttpError {
    fn from(error: sdk::HttpError) -> Self {
        match error {
            sdk::HttpError::Refused(why) => http::HttpError::Refused(why),
            sdk::HttpError::Timeout => http::HttpError::Timeout,
            sdk::HttpError::Connection(why) => http::HttpError::Connection(why),
            sdk::HttpError::TooLarge(cap) => http::HttpError::TooLarge(cap),
            sdk::HttpError::InvalidRequest(why) => http::HttpError::InvalidRequest(why),
        }
    }
}
