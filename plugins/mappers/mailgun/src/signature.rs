//! Mailgun webhook signatures: `signature.signature` is the hex
//! HMAC-SHA256 of `signature.timestamp` followed by `signature.token`, keyed
//! with the account's HTTP webhook signing key.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmhook_sdk::prelude::*;

/// Checks the `signature` object of a webhook against `key`.
pub fn verify(signature: Option<&Value>, key: &str) -> Result<(), PluginError> {
    let signature = signature.ok_or_else(|| {
        PluginError::invalid_input("signature is missing (the source config has a signing_key)")
    })?;
    let field = |name: &str| {
        path::get_str(signature, name).ok_or_else(|| {
            PluginError::invalid_input(format!("field `signature.{name}` is missing"))
        })
    };
    let (timestamp, token, given) = (field("timestamp")?, field("token")?, field("signature")?);
    let expected = sign(key, &timestamp, &token)?;
    if expected
        .verify_slice(&decode_hex(&given).unwrap_or_default())
        .is_err()
    {
        return Err(PluginError::invalid_input("signature does not match"));
    }
    Ok(())
}

/// The HMAC of `timestamp` + `token` under `key`, ready to compare.
fn sign(key: &str, timestamp: &str, token: &str) -> Result<Hmac<Sha256>, PluginError> {
    // HMAC takes keys of any length; the error exists for other MACs.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .map_err(|e| PluginError::internal(format!("HMAC key: {e}")))?;
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    Ok(mac)
}

/// The hex signature Mailgun would send for `timestamp` and `token`.
#[cfg(test)]
pub fn hex_signature(key: &str, timestamp: &str, token: &str) -> String {
    sign(key, timestamp, token)
        .expect("HMAC key")
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes of a hex string (either case); `None` if it is not hex.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("00ff7A"), Some(vec![0, 255, 122]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex(""), Some(vec![]));
    }

    #[test]
    fn matches_an_independently_computed_signature() {
        // python3: hmac.new(key, b"1529006854" + token, hashlib.sha256).hexdigest()
        assert_eq!(
            hex_signature(
                "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
                "1529006854",
                "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
            ),
            "b63c0701c4f4b614f272106a1b367c5c3369bcdca664ae73ebd52787e45eef07"
        );
    }
}
