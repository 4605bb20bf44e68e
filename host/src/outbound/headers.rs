//! The header names outbound requests treat specially, in one place: those
//! the host sets itself (the client's framing headers, and on deliveries
//! the Standard Webhooks signature), which no operator or plugin may set,
//! and those whose values are credentials, which are masked wherever a
//! request is shown. Names are compared case-insensitively, as in HTTP.

/// `webhook-id`: a delivery's stable id, the same on every retry so
/// receivers can drop duplicates.
pub const WEBHOOK_ID: &str = "webhook-id";
/// `webhook-timestamp`: the signing time in unix seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// `webhook-signature`: the space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Headers the HTTP client owns: setting them from outside could
/// desynchronise the request's framing (or, hop-by-hop, the connection).
pub const FRAMING_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

/// The Standard Webhooks headers the host signs every delivery with; a
/// receiver verifies them, so an endpoint's configuration cannot set them.
pub const SIGNATURE_HEADERS: [&str; 3] = [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE];

/// Request headers whose values are credentials whoever set them.
pub const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Whether `name` is one of the client's [`FRAMING_HEADERS`].
pub fn is_framing(name: &str) -> bool {
    is_in(&FRAMING_HEADERS, name)
}

/// Whether the host sets `name` on a delivery itself (framing or
/// signature), so an endpoint or connector may not configure it.
pub fn is_host_owned(name: &str) -> bool {
    is_framing(name) || is_in(&SIGNATURE_HEADERS, name)
}

/// Whether `name`'s value is a credential ([`SECRET_HEADERS`]).
pub fn is_secret(name: &str) -> bool {
    is_in(&SECRET_HEADERS, name)
}

fn is_in(list: &[&str], name: &str) -> bool {
    list.iter().any(|listed| listed.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_case_insensitively() {
        assert!(is_framing("Content-Length"));
        assert!(!is_framing("webhook-id"));
        assert!(is_host_owned("Webhook-Signature"));
        assert!(is_host_owned("HOST"));
        assert!(!is_host_owned("x-request-id"));
        assert!(is_secret("X-Api-Key"));
        assert!(!is_secret("x-request-id"));
    }
}
