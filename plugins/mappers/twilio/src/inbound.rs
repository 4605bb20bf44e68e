//! Twilio inbound-message webhooks (what the end user sent): SMS, MMS and
//! WhatsApp, with media, quick-reply buttons, locations and replies.

use wasmhook_sdk::prelude::*;

use crate::{VENDOR, channel_of, message_sid, strip_prefix};

/// Twilio sends at most this many media per message; a larger `NumMedia`
/// is not trusted as a loop bound.
const MAX_MEDIA: usize = 10;

/// Maps an inbound-message webhook.
pub fn map_inbound(params: &Params) -> Result<Event, PluginError> {
    let from = params
        .non_empty("From")
        .ok_or_else(|| PluginError::invalid_input("inbound message without `From`"))?;
    let channel = channel_of(params, Some(from));
    let media = media(params);
    let button = params.non_empty("ButtonText").map(str::to_string);
    let location = location(params);
    let message_type = params
        .non_empty("MessageType")
        .map(str::to_string)
        .unwrap_or_else(|| {
            if button.is_some() {
                "button".into()
            } else if location.is_some() {
                "location".into()
            } else if let Some(kind) = media
                .first()
                .and_then(|m| m.mime_type.as_deref())
                .and_then(|mime| mime.split('/').next())
            {
                kind.to_string()
            } else {
                "text".into()
            }
        });
    let mut message = InboundMessage::new(strip_prefix(from), message_type);
    message.to = params.non_empty("To").map(strip_prefix);
    message.text = button
        .or_else(|| params.non_empty("Body").map(str::to_string))
        .or(location);
    message.payload = params.non_empty("ButtonPayload").map(str::to_string);
    message.media = media;
    let context = MessageContext {
        from: params
            .non_empty("OriginalRepliedMessageSender")
            .map(strip_prefix),
        id: params
            .non_empty("OriginalRepliedMessageSid")
            .map(str::to_string),
    };
    if context.from.is_some() || context.id.is_some() {
        message.context = Some(context);
    }
    Ok(Event::inbound(channel, message, VENDOR).message_id(message_sid(params)))
}

/// `MediaUrlN` / `MediaContentTypeN` for `N < NumMedia`.
fn media(params: &Params) -> Vec<Media> {
    let count = params
        .non_empty("NumMedia")
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_MEDIA);
    (0..count)
        .filter_map(|i| {
            let url = params
                .non_empty(&format!("MediaUrl{i}"))
                .map(str::to_string);
            let mime_type = params
                .non_empty(&format!("MediaContentType{i}"))
                .map(str::to_string);
            (url.is_some() || mime_type.is_some()).then_some(Media {
                url,
                id: None,
                mime_type,
                caption: None,
            })
        })
        .collect()
}

/// A shared WhatsApp location as text: `"lat,long (label, address)"`.
fn location(params: &Params) -> Option<String> {
    let latitude = params.non_empty("Latitude")?;
    let longitude = params.non_empty("Longitude")?;
    let label: Vec<&str> = ["Label", "Address"]
        .into_iter()
        .filter_map(|name| params.non_empty(name))
        .collect();
    Some(if label.is_empty() {
        format!("{latitude},{longitude}")
    } else {
        format!("{latitude},{longitude} ({})", label.join(", "))
    })
}
