//! Compressed callbacks: a vendor may send its body `gzip`- or
//! `deflate`-encoded, and the mapper gets it decoded. Decoding stops at
//! the same cap as a plain body and at a ratio to the compressed size, so a
//! small bomb cannot become gigabytes (nor seconds of CPU).

use std::io::Read;

/// How many times its compressed size a body may grow when decoded.
/// Vendor JSON compresses 5–20×; a bomb compresses 1000×.
pub const MAX_RATIO: usize = 100;

/// Why an encoded body was not decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// An encoding other than gzip, deflate or identity.
    #[error("content-encoding `{0}` is not supported: send gzip, deflate or no encoding")]
    Unsupported(String),
    /// Decoded, the body would be larger than allowed.
    #[error(
        "the decoded body is larger than {limit} bytes (the callback size cap, or {MAX_RATIO}× \
         its compressed size)"
    )]
    TooLarge {
        /// The cap that applied.
        limit: usize,
    },
    /// The bytes are not what the encoding says.
    #[error("the body is not valid {encoding}: {detail}")]
    Corrupt {
        /// The declared encoding.
        encoding: &'static str,
        /// What the decoder said.
        detail: String,
    },
}

/// The body decoded as `content_encoding` says, at most `max_bytes` (and
/// [`MAX_RATIO`] times its size) long; `None` means it was not encoded.
pub fn decode(
    content_encoding: Option<&str>,
    body: &[u8],
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let Some(encoding) = content_encoding.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let limit = max_bytes.min(body.len().saturating_mul(MAX_RATIO));
    let (name, decoder): (&'static str, Box<dyn Read + '_>) =
        match encoding.to_ascii_lowercase().as_str() {
            "identity" => return Ok(None),
            "gzip" | "x-gzip" => ("gzip", Box::new(flate2::read::GzDecoder::new(body))),
            // HTTP's `deflate` is the zlib format.
            "deflate" => ("deflate", Box::new(flate2::read::ZlibDecoder::new(body))),
            _ => return Err(DecodeError::Unsupported(encoding.to_owned())),
        };
    let mut decoded = Vec::with_capacity(limit.min(body.len().saturating_mul(8)));
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|error| DecodeError::Corrupt {
            encoding: name,
            detail: error.to_string(),
        })?;
    if decoded.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(Some(decoded))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded_and_plain_ones_left_alone() {
        let json = br#"{"app":"DemoAPI","type":"message-event"}"#;
        assert_eq!(
            decode(Some("gzip"), &gzip(json), 1 << 20)
                .unwrap()
                .as_deref(),
            Some(&json[..])
        );
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(json).unwrap();
        assert_eq!(
            decode(Some("Deflate"), &zlib.finish().unwrap(), 1 << 20)
                .unwrap()
                .as_deref(),
            Some(&json[..])
        );
        assert_eq!(decode(None, json, 10).unwrap(), None);
        assert_eq!(decode(Some("identity"), json, 10).unwrap(), None);
    }

    #[test]
    fn a_bomb_stops_at_the_ratio_or_the_size_cap() {
        let bomb = gzip(&vec![b'a'; 8 << 20]);
        assert!(bomb.len() < 64 << 10, "a real bomb: {} bytes", bomb.len());
        let error = decode(Some("gzip"), &bomb, 4 << 20).unwrap_err();
        assert_eq!(
            error,
            DecodeError::TooLarge {
                limit: (bomb.len() * MAX_RATIO).min(4 << 20)
            }
        );
    }

    #[test]
    fn unknown_encodings_and_corrupt_bodies_are_refused_by_name() {
        assert_eq!(
            decode(Some("br"), b"x", 10).unwrap_err(),
            DecodeError::Unsupported("br".into())
        );
        assert!(matches!(
            decode(Some("gzip"), b"not gzip at all", 1 << 20).unwrap_err(),
            DecodeError::Corrupt {
                encoding: "gzip",
                ..
            }
        ));
    }
}
