//! What one block request may look like and how many one run may make:
//! the methods blocks need, and caps on the URL, the headers and the body,
//! checked on the request as the plugin handed it over — before the host
//! copies, parses or sends any of it.

use wasmhook_sdk::{HttpError, HttpRequest};

use crate::runtime::Limits;

/// The methods a block may use: what reading and writing a customer's
/// resource takes. `CONNECT` (a tunnel through the host), `TRACE` (echoes
/// the request, credentials included) and anything else are refused.
pub const ALLOWED_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The longest URL a block may send, bytes: 8 KiB, what common servers
/// accept in a request line.
pub const MAX_URL_BYTES: usize = 8 << 10;

/// The most headers one request may carry.
pub const MAX_HEADERS: usize = 64;

/// The most bytes of header names and values one request may carry: 16 KiB
/// (servers commonly refuse more).
pub const MAX_HEADER_BYTES: usize = 16 << 10;

/// The largest request body a block may send: 1 MiB, or the plugin's
/// `output_bytes` if smaller.
pub const MAX_REQUEST_BODY_BYTES: usize = 1 << 20;

/// What one run's requests are held to, from its plugin's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCaps {
    /// Requests one run may make (the plugin's `max_http_requests`).
    pub max_requests: u64,
    /// The largest request body, bytes.
    pub max_body_bytes: usize,
}

impl RunCaps {
    /// The caps of a plugin with `limits`.
    pub fn from_limits(limits: &Limits) -> Self {
        RunCaps {
            max_requests: limits.max_http_requests,
            max_body_bytes: usize::try_from(limits.output_bytes)
                .unwrap_or(usize::MAX)
                .min(MAX_REQUEST_BODY_BYTES),
        }
    }
}

impl Default for RunCaps {
    fn default() -> Self {
        RunCaps::from_limits(&Limits::default())
    }
}

/// Checks the method, the URL's length, the headers' count and size and
/// the body's size, reading the request only. Returns the method as one
/// of [`ALLOWED_METHODS`].
pub fn check_shape(
    request: &HttpRequest,
    max_body_bytes: usize,
) -> Result<&'static str, HttpError> {
    let asked = request.method.trim();
    let method = ALLOWED_METHODS
        .iter()
        .find(|allowed| allowed.eq_ignore_ascii_case(asked))
        .ok_or_else(|| {
            HttpError::InvalidRequest(format!(
                "method `{}` is not allowed for blocks: use {}",
                cut(asked, 32),
                ALLOWED_METHODS.join(", ")
            ))
        })?;
    let url = request.url.trim();
    if url.len() > MAX_URL_BYTES {
        return Err(HttpError::InvalidRequest(format!(
            "url of {} bytes is over the {MAX_URL_BYTES}-byte cap",
            url.len()
        )));
    }
    if request.headers.len() > MAX_HEADERS {
        return Err(HttpError::InvalidRequest(format!(
            "{} headers is over the cap of {MAX_HEADERS}",
            request.headers.len()
        )));
    }
    let header_bytes: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(HttpError::InvalidRequest(format!(
            "headers of {header_bytes} bytes are over the {MAX_HEADER_BYTES}-byte cap"
        )));
    }
    let body_bytes = request.body.as_ref().map_or(0, Vec::len);
    if body_bytes > max_body_bytes {
        return Err(HttpError::InvalidRequest(format!(
            "request body of {body_bytes} bytes is over the {max_body_bytes}-byte cap"
        )));
    }
    Ok(method)
}

/// At most `max` bytes of `text` (cut on a character boundary), with `…`
/// when something was cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url: "https://x.example/a".into(),
            ..HttpRequest::default()
        }
    }

    fn refusal(result: Result<&'static str, HttpError>) -> String {
        match result {
            Err(HttpError::InvalidRequest(why)) => why,
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }

    #[test]
    fn only_the_methods_blocks_need_are_allowed() {
        for method in ALLOWED_METHODS {
            assert_eq!(check_shape(&request(method), 10), Ok(method));
        }
        assert_eq!(check_shape(&request(" post "), 10), Ok("POST"));
        for method in ["CONNECT", "trace", "PROPFIND", "", "GET X"] {
            let why = refusal(check_shape(&request(method), 10));
            assert!(why.contains("is not allowed for blocks"), "{why}");
            assert!(
                why.contains("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
                "{why}"
            );
        }
        let huge = "X".repeat(1 << 20);
        let why = refusal(check_shape(&request(&huge), 10));
        assert!(
            why.len() < 200,
            "the message quotes a cut method: {}",
            why.len()
        );
    }

    #[test]
    fn url_headers_and_body_are_capped() {
        let mut long_url = request("GET");
        long_url.url = format!("https://x.example/{}", "a".repeat(MAX_URL_BYTES));
        let expected = format!(
            "url of {} bytes is over the 8192-byte cap",
            long_url.url.len()
        );
        assert_eq!(refusal(check_shape(&long_url, 10)), expected);

        let mut many = request("GET");
        many.headers = vec![("x-a".into(), "1".into()); MAX_HEADERS + 1];
        assert_eq!(
            refusal(check_shape(&many, 10)),
            "65 headers is over the cap of 64"
        );
        many.headers.truncate(MAX_HEADERS);
        assert!(check_shape(&many, 10).is_ok());

        let mut big = request("GET");
        big.headers = vec![("x-big".into(), "v".repeat(1 << 20))];
        assert!(
            refusal(check_shape(&big, 10)).starts_with("headers of 1048581 bytes"),
            "a 1 MiB header is refused"
        );

        let mut body = request("POST");
        body.body = Some(vec![0; 11]);
        assert_eq!(
            refusal(check_shape(&body, 10)),
            "request body of 11 bytes is over the 10-byte cap"
        );
        body.body = Some(vec![0; 10]);
        assert!(check_shape(&body, 10).is_ok());
    }

    #[test]
    fn run_caps_follow_the_plugin_limits() {
        let caps = RunCaps::default();
        assert_eq!(caps.max_requests, Limits::DEFAULT_MAX_HTTP_REQUESTS);
        assert_eq!(caps.max_body_bytes, MAX_REQUEST_BODY_BYTES);
        let small = Limits {
            output_bytes: 1000,
            max_http_requests: 3,
            ..Limits::default()
        };
        assert_eq!(
            RunCaps::from_limits(&small),
            RunCaps {
                max_requests: 3,
                max_body_bytes: 1000
            }
        );
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
        assert_eq!(cut("ééé", 3), "é…");
    }
}
