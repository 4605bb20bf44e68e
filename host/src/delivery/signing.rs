//! Standard Webhooks signing of an outgoing request: the `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` headers, with one `v1,`
//! HMAC-SHA256 entry per secret the endpoint currently accepts, so a
//! receiver part-way through a secret rotation verifies with either secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::endpoint::{Endpoint, SigningSecret};
use crate::outbound::headers;

/// Header carrying the delivery's id; the same on every retry so receivers
/// can drop duplicates.
pub const HEADER_ID: &str = headers::WEBHOOK_ID;
/// Header carrying the signing time in unix seconds.
pub const HEADER_TIMESTAMP: &str = headers::WEBHOOK_TIMESTAMP;
/// Header carrying the space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = headers::WEBHOOK_SIGNATURE;
/// The Standard Webhooks signature scheme this module writes (symmetric
/// HMAC-SHA256).
pub const SIGNATURE_VERSION: &str = "v1";

type HmacSha256 = Hmac<Sha256>;

/// The three Standard Webhooks headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `webhook-id`: the delivery's stable id.
    pub id: String,
    /// `webhook-timestamp`: unix seconds, as decimal text.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64>` entries separated by spaces.
    pub signature: String,
}

impl SignatureHeaders {
    /// The headers as (name, value) pairs, in the order they are sent.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (HEADER_ID, &self.id),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }
}

/// Signs `body` for delivery `id` at `timestamp_secs` with every secret in
/// `secrets` (current first, as [`Endpoint::valid_secrets`] orders them).
///
/// An empty `secrets` gives an empty `webhook-signature`, which no receiver
/// accepts; an endpoint always has a current secret, so use
/// [`endpoint_signature_headers`] where an endpoint is at hand.
pub fn signature_headers(
    id: &str,
    timestamp_secs: i64,
    body: &[u8],
    secrets: &[&SigningSecret],
) -> SignatureHeaders {
    let timestamp = timestamp_secs.to_string();
    let signature = secrets
        .iter()
        .map(|secret| signature_entry(secret.key(), id, &timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignatureHeaders {
        id: id.to_owned(),
        timestamp,
        signature,
    }
}

/// Signs `body` for delivery `id` with the secrets `endpoint` accepts at
/// `now_ms`, stamped with that time in seconds.
pub fn endpoint_signature_headers(
    endpoint: &Endpoint,
    id: &str,
    now_ms: u64,
    body: &[u8],
) -> SignatureHeaders {
    // Epoch milliseconds fit an i64 for the next 290 million years.
    let timestamp_secs = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    signature_headers(id, timestamp_secs, body, &endpoint.valid_secrets(now_ms))
}

/// One `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` entry.
fn signature_entry(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; the fallback only
    // keeps the signature code free of a panic path.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    // Fed piecewise so a large body is never copied into a signing buffer.
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(digest))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};
    use standardwebhooks::Webhook;

    use super::*;
    use crate::domain::endpoint::tests::endpoint;
    use crate::ids::now_ms;

    fn header_map(headers: &SignatureHeaders) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in headers.pairs() {
            map.insert(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// Verifies with the independent `standardwebhooks` crate, which checks
    /// the timestamp against its own clock (5 minutes' tolerance).
    fn verifies(secret: &SigningSecret, body: &[u8], headers: &SignatureHeaders) -> bool {
        Webhook::new(secret.expose())
            .unwrap()
            .verify(body, &header_map(headers))
            .is_ok()
    }

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The reference crate's own test vector.
        let secret: SigningSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse().unwrap();
        let headers = signature_headers(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
            &[&secret],
        );
        assert_eq!(headers.id, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk");
        assert_eq!(headers.timestamp, "1649367553");
        assert_eq!(
            headers.signature,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn an_independent_implementation_verifies_the_signature() {
        let secret = SigningSecret::generate();
        let body = br#"{"type":"message.delivered","data":{"id":"m1"}}"#;
        let now = now_ms();
        let headers = signature_headers("dlv_01", (now / 1000) as i64, body, &[&secret]);
        assert!(verifies(&secret, body, &headers));

        // A changed body, id or secret does not verify.
        assert!(!verifies(&secret, b"{}", &headers));
        let other_id = SignatureHeaders {
            id: "dlv_02".into(),
            ..headers.clone()
        };
        assert!(!verifies(&secret, body, &other_id));
        assert!(!verifies(&SigningSecret::generate(), body, &headers));
    }

    #[test]
    fn during_a_rotation_old_and_new_secrets_both_verify_the_same_request() {
        let mut endpoint = endpoint();
        let old = endpoint.signing_secret.clone();
        let new = SigningSecret::generate();
        let now = now_ms();
        endpoint.rotate_secret(new.clone(), 3_600, now);

        let body = br#"[{"event":"DELIVERED","email":"a@example.com"}]"#;
        let headers = endpoint_signature_headers(&endpoint, "dlv_rotating", now, body);
        let entries: Vec<&str> = headers.signature.split(' ').collect();
        assert_eq!(entries.len(), 2, "one entry per valid secret");
        assert!(entries.iter().all(|entry| entry.starts_with("v1,")));
        assert!(verifies(&new, body, &headers), "new secret");
        assert!(
            verifies(&old, body, &headers),
            "old secret in its grace period"
        );

        // After the grace period only the new secret signs.
        let later = now + 3_600_000;
        let headers = endpoint_signature_headers(&endpoint, "dlv_rotating", later, body);
        assert_eq!(headers.signature.split(' ').count(), 1);
        assert_eq!(headers.timestamp, (later / 1000).to_string());
    }

    #[test]
    fn the_same_delivery_keeps_its_id_and_signs_each_attempt_afresh() {
        let secret = SigningSecret::generate();
        let body = b"status=DELIVERED";
        let first = signature_headers("dlv_same", 1_700_000_000, body, &[&secret]);
        let retry = signature_headers("dlv_same", 1_700_000_060, body, &[&secret]);
        assert_eq!(first.id, retry.id);
        assert_ne!(first.signature, retry.signature, "timestamp is signed");
    }

    #[test]
    fn no_secrets_gives_an_empty_signature() {
        let headers = signature_headers("dlv_none", 1, b"{}", &[]);
        assert_eq!(headers.signature, "");
    }
}
