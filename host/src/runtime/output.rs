//! What a plugin call may hand back, checked on the value as the guest
//! returned it — before the host converts, copies or keeps any of it: a
//! mapper's event count, the bytes its result counts against the output cap
//! (text and structure), and its reply to the vendor.

use super::bindings::types;
use super::error::CallError;
use super::limits::Limits;
use super::plugin::Plugin;

/// The largest body a mapper's reply to a vendor may carry: a reply is an
/// acknowledgement or a verification challenge, never a payload.
pub const MAX_REPLY_BODY_BYTES: usize = 64 << 10;

/// The longest content type a reply may name.
pub const MAX_REPLY_CONTENT_TYPE_BYTES: usize = 256;

impl Plugin {
    /// Refuses a mapper's result with more events than the plugin's
    /// `max_events`, more bytes than its `output_bytes` (see
    /// [`mapped_size`]) or a reply a vendor should not get (see
    /// [`check_reply`]). Checked in that order, so a flood of events is
    /// reported as such.
    pub(crate) fn check_mapped(
        &self,
        mapped: &types::Mapped,
        output_cap: u64,
    ) -> Result<(), CallError> {
        let limits = &self.inner.limits;
        let count = mapped.events.len() as u64;
        if count > limits.max_events {
            return Err(CallError::TooManyEvents {
                plugin: self.inner.id.name.clone(),
                version: self.inner.id.version.clone(),
                count,
                limit: limits.max_events,
            });
        }
        self.check_output_under(mapped_size(mapped), output_cap)?;
        match &mapped.reply {
            Some(reply) => check_reply(reply).map_err(|detail| self.bad_output(detail)),
            None => Ok(()),
        }
    }
}

/// What a mapper's result counts against the output cap: the bytes of its
/// text and binary payloads, plus [`Limits::EVENT_BYTES`] per event and
/// [`Limits::MEDIA_BYTES`] per media item for their structure — what the
/// host allocates and stores for each even when every string is empty.
pub(crate) fn mapped_size(mapped: &types::Mapped) -> u64 {
    fn opt(text: &Option<String>) -> u64 {
        text.as_ref().map_or(0, |text| text.len() as u64)
    }
    let events: u64 = mapped
        .events
        .iter()
        .map(|event| {
            let status = event.status.as_ref().map_or(0, |s| {
                opt(&s.vendor_status) + opt(&s.error_code) + opt(&s.description) + opt(&s.link)
            });
            let inbound = event.inbound_message.as_ref().map_or(0, |m| {
                let media: u64 = m
                    .media
                    .iter()
                    .map(|md| {
                        Limits::MEDIA_BYTES
                            + opt(&md.url)
                            + opt(&md.id)
                            + opt(&md.mime_type)
                            + opt(&md.caption)
                    })
                    .sum();
                let context = m.context.as_ref().map_or(0, |c| opt(&c.from) + opt(&c.id));
                m.from.len() as u64
                    + opt(&m.to)
                    + m.message_type.len() as u64
                    + opt(&m.text)
                    + opt(&m.payload)
                    + media
                    + context
            });
            Limits::EVENT_BYTES
                + event.vendor_response.len() as u64
                + event.vendor_name.len() as u64
                + opt(&event.channel_value)
                + opt(&event.distinct_id)
                + opt(&event.reference.vendor_message_id)
                + opt(&event.reference.idempotency_key)
                + status
                + inbound
        })
        .sum();
    let reply = mapped
        .reply
        .as_ref()
        .map_or(0, |r| r.content_type.len() as u64 + r.body.len() as u64);
    events + reply
}

/// Whether a mapper's reply may go to the vendor as is: a final status
/// (200–599: a 1xx would break the exchange, and below 100 is not HTTP),
/// no body with 204, 205 or 304 (HTTP forbids one), a body of at most
/// [`MAX_REPLY_BODY_BYTES`], and a content type that is a short, valid
/// header value. The error names the field at fault.
pub(crate) fn check_reply(reply: &types::Reply) -> Result<(), String> {
    if !(200..=599).contains(&reply.status) {
        return Err(format!(
            "reply.status: {} is not a final HTTP status (200 to 599)",
            reply.status
        ));
    }
    if matches!(reply.status, 204 | 205 | 304) && !reply.body.is_empty() {
        return Err(format!(
            "reply.body: must be empty with status {} ({} bytes given)",
            reply.status,
            reply.body.len()
        ));
    }
    if reply.body.len() > MAX_REPLY_BODY_BYTES {
        return Err(format!(
            "reply.body: {} bytes is over the {MAX_REPLY_BODY_BYTES}-byte cap of a reply",
            reply.body.len()
        ));
    }
    let content_type = &reply.content_type;
    if content_type.len() > MAX_REPLY_CONTENT_TYPE_BYTES {
        return Err(format!(
            "reply.content_type: {} bytes is over the {MAX_REPLY_CONTENT_TYPE_BYTES}-byte cap",
            content_type.len()
        ));
    }
    if content_type
        .bytes()
        .any(|byte| !(byte == b'\t' || (b' '..=b'~').contains(&byte)))
    {
        return Err(
            "reply.content_type: only visible ASCII characters and spaces may be used".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(vendor_response: &str) -> types::Event {
        types::Event {
            event_type: types::EventType::Status,
            channel: types::Channel::Other,
            channel_value: None,
            distinct_id: None,
            status: None,
            inbound_message: None,
            reference: types::Reference {
                vendor_message_id: Some("m1".into()),
                idempotency_key: None,
            },
            vendor_name: "v".into(),
            vendor_response: vendor_response.into(),
        }
    }

    fn reply(status: u16, body: &[u8]) -> types::Reply {
        types::Reply {
            status,
            content_type: "text/plain".into(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn every_event_counts_its_structure_besides_its_text() {
        let one = types::Mapped {
            events: vec![event("{}")],
            reply: None,
        };
        // "{}" + "v" + "m1" = 5 bytes of text.
        assert_eq!(mapped_size(&one), Limits::EVENT_BYTES + 5);
        let empty = types::Mapped {
            events: vec![event(""); 1000],
            reply: None,
        };
        assert_eq!(mapped_size(&empty), 1000 * (Limits::EVENT_BYTES + 3));
        let with_reply = types::Mapped {
            events: Vec::new(),
            reply: Some(reply(200, b"ok")),
        };
        assert_eq!(mapped_size(&with_reply), "text/plain".len() as u64 + 2);
    }

    #[test]
    fn a_flood_of_empty_events_hits_the_default_output_cap() {
        // What the audit's hostile mapper returned: 100,000 near-empty
        // events. Its text alone (~0.3 MB) is far under the cap.
        let flood = types::Mapped {
            events: vec![event(""); 100_000],
            reply: None,
        };
        assert!(mapped_size(&flood) > Limits::DEFAULT_OUTPUT_BYTES);
    }

    #[test]
    fn media_items_count_too() {
        let mut message = event("");
        message.inbound_message = Some(types::InboundMessage {
            from: "a".into(),
            to: None,
            message_type: "image".into(),
            text: None,
            payload: None,
            media: vec![
                types::Media {
                    url: None,
                    id: None,
                    mime_type: None,
                    caption: None,
                };
                10
            ],
            context: None,
            timestamp: None,
        });
        let mapped = types::Mapped {
            events: vec![message],
            reply: None,
        };
        assert_eq!(
            mapped_size(&mapped),
            Limits::EVENT_BYTES + 3 + 1 + 5 + 10 * Limits::MEDIA_BYTES
        );
    }

    #[test]
    fn a_reply_needs_a_final_status() {
        assert_eq!(check_reply(&reply(200, b"ok")), Ok(()));
        assert_eq!(check_reply(&reply(599, b"")), Ok(()));
        assert_eq!(check_reply(&reply(302, b"")), Ok(()));
        for status in [0, 99, 100, 101, 199, 600, u16::MAX] {
            let error = check_reply(&reply(status, b"")).unwrap_err();
            assert!(error.starts_with("reply.status: "), "{status}: {error}");
            assert!(error.contains(&status.to_string()), "{error}");
        }
    }

    #[test]
    fn no_body_with_204_205_or_304() {
        for status in [204, 205, 304] {
            assert_eq!(check_reply(&reply(status, b"")), Ok(()));
            let error = check_reply(&reply(status, b"x")).unwrap_err();
            assert!(error.starts_with("reply.body: must be empty"), "{error}");
        }
    }

    #[test]
    fn a_reply_body_and_content_type_are_capped() {
        assert_eq!(
            check_reply(&reply(200, &vec![b'a'; MAX_REPLY_BODY_BYTES])),
            Ok(())
        );
        let error = check_reply(&reply(200, &vec![b'a'; MAX_REPLY_BODY_BYTES + 1])).unwrap_err();
        assert!(error.starts_with("reply.body: 65537 bytes"), "{error}");

        let long = types::Reply {
            content_type: "a".repeat(MAX_REPLY_CONTENT_TYPE_BYTES + 1),
            ..reply(200, b"")
        };
        assert!(
            check_reply(&long)
                .unwrap_err()
                .starts_with("reply.content_type: 257 bytes")
        );
        let split = types::Reply {
            content_type: "text/plain\r\nSet-Cookie: a=b".into(),
            ..reply(200, b"")
        };
        assert!(
            check_reply(&split)
                .unwrap_err()
                .starts_with("reply.content_type: only visible")
        );
    }
}
