//! A vendor callback as received: who may send it (the tokens it presents),
//! what the mapper sees (the request minus that token), which bodies a
//! mapper can read, and the callback kept whole for a later retry.

use wasmhook_sdk::Callback;

use crate::domain::rejected::StoredCallback;

/// The header a vendor may carry the ingest token in.
pub const TOKEN_HEADER: &str = "x-wasmhook-token";

/// The query parameter a vendor may carry the ingest token in.
pub const TOKEN_PARAM: &str = "token";

/// Where a vendor put a token it presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPlace {
    /// The `X-Wasmhook-Token` header.
    Header,
    /// `Authorization: Bearer …` (which may also be the vendor's own
    /// credential, meant for someone else).
    Bearer,
    /// The `?token=` query parameter.
    Query,
}

/// A callback as received, split into the tokens it presents and what the
/// mapper gets.
#[derive(Debug)]
pub struct Received {
    /// Every token presented, wherever it was.
    pub tokens: Vec<(TokenPlace, String)>,
    /// The callback without the `X-Wasmhook-Token` header and the `token`
    /// query parameter. An `Authorization` header stays until it proves to
    /// be the token: a vendor may send its own beside `?token=`.
    pub callback: Callback,
}

/// Why a callback was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No token anywhere.
    #[error("missing ingest token: send `X-Wasmhook-Token`, `Authorization: Bearer`, or `?token=`")]
    Missing,
    /// Tokens, but none the source accepts (or no such source: answered
    /// alike, so source names cannot be discovered by probing).
    #[error("the ingest token is wrong for this source (or there is no such source)")]
    Wrong,
}

impl Received {
    /// The callback the mapper sees, if one of the presented tokens is one
    /// `accepts` takes; the `Authorization` header goes when it was that
    /// token.
    pub fn authenticate(self, accepts: impl Fn(&str) -> bool) -> Result<Callback, AuthFailure> {
        if self.tokens.is_empty() {
            return Err(AuthFailure::Missing);
        }
        let Some((place, _)) = self.tokens.iter().find(|(_, token)| accepts(token)) else {
            return Err(AuthFailure::Wrong);
        };
        let mut callback = self.callback;
        if *place == TokenPlace::Bearer {
            callback
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        }
        Ok(callback)
    }
}

/// Splits a request (its method, its headers in arrival order, its query
/// string and body) into the tokens it presents and the callback the mapper
/// sees.
pub fn receive<'a>(
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    query: Option<&str>,
    body: Vec<u8>,
) -> Received {
    let mut tokens = Vec::new();
    let mut kept_headers = Vec::new();
    // The first `Content-Type` says it; one that is not text says nothing.
    let mut content_type: Option<Option<String>> = None;
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value).into_owned();
        if name.eq_ignore_ascii_case(TOKEN_HEADER) {
            tokens.push((TokenPlace::Header, text));
            continue;
        }
        if name.eq_ignore_ascii_case("authorization")
            && let Some(bearer) = text.strip_prefix("Bearer ")
        {
            tokens.push((TokenPlace::Bearer, bearer.trim().to_owned()));
        }
        if content_type.is_none() && name.eq_ignore_ascii_case("content-type") {
            content_type = Some(is_visible_ascii(value).then(|| text.clone()));
        }
        kept_headers.push((name.to_owned(), text));
    }
    let mut kept_query = form_urlencoded::Serializer::new(String::new());
    let mut any_kept = false;
    let raw_query = query.unwrap_or("");
    let mut had_token_param = false;
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        if key == TOKEN_PARAM {
            had_token_param = true;
            tokens.push((TokenPlace::Query, value.into_owned()));
        } else {
            any_kept = true;
            kept_query.append_pair(&key, &value);
        }
    }
    // Keep the vendor's exact query text unless a token had to come out of it.
    let query = if !had_token_param {
        raw_query.to_owned()
    } else if any_kept {
        kept_query.finish()
    } else {
        String::new()
    };
    Received {
        tokens,
        callback: Callback {
            method: method.to_owned(),
            headers: kept_headers,
            query,
            content_type: content_type.flatten(),
            body,
        },
    }
}

/// Whether a header value is text as HTTP defines it (visible ASCII,
/// spaces and tabs); a content type that is not is treated as absent.
fn is_visible_ascii(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
}

/// Why a callback's body is not one a mapper can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableBody {
    /// `multipart/form-data`: the SDK gives mappers no multipart parser,
    /// so such a callback could only ever be rejected.
    #[error(
        "content type `{0}` is not read: mappers get no multipart parser; send the callback as \
         JSON, XML, a URL-encoded form or text"
    )]
    Multipart(String),
    /// Anything else that is not JSON, XML, a form or text.
    #[error("content type `{0}` is not a callback body a mapper reads (JSON, XML, form, text)")]
    Other(String),
}

/// Checks that a callback's content type is one a mapper can read: JSON,
/// XML, a URL-encoded form, text, bytes, or none at all.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), UnreadableBody> {
    let Some(content_type) = content_type else {
        return Ok(());
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let readable = essence.is_empty()
        || essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "application/octet-stream"
        );
    match () {
        () if readable => Ok(()),
        () if essence == "multipart/form-data" => {
            Err(UnreadableBody::Multipart(content_type.to_owned()))
        }
        () => Err(UnreadableBody::Other(content_type.to_owned())),
    }
}

impl From<&Callback> for StoredCallback {
    fn from(callback: &Callback) -> Self {
        use base64::Engine as _;
        StoredCallback {
            method: callback.method.clone(),
            headers: callback.headers.clone(),
            query: callback.query.clone(),
            content_type: callback.content_type.clone(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&callback.body),
        }
    }
}

impl StoredCallback {
    /// The callback again, for a retry.
    pub fn to_callback(&self) -> Result<Callback, base64::DecodeError> {
        use base64::Engine as _;
        Ok(Callback {
            method: self.method.clone(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            content_type: self.content_type.clone(),
            body: base64::engine::general_purpose::STANDARD.decode(&self.body_base64)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        pairs.iter().map(|(name, value)| (*name, value.as_bytes()))
    }

    #[test]
    fn the_token_comes_out_of_the_query_and_headers_but_a_vendors_own_bearer_stays() {
        let received = receive(
            "POST",
            headers(&[
                ("content-type", "application/json"),
                ("authorization", "Bearer vendor-own"),
            ]),
            Some("a=1&token=secret-token&b=2"),
            b"{}".to_vec(),
        );
        let callback = received
            .authenticate(|token| token == "secret-token")
            .unwrap();
        assert_eq!(callback.query, "a=1&b=2");
        assert_eq!(callback.content_type.as_deref(), Some("application/json"));
        assert!(callback.headers.iter().any(|(n, _)| n == "authorization"));

        let received = receive(
            "POST",
            headers(&[("authorization", "Bearer secret-token")]),
            Some("x=%20y"),
            Vec::new(),
        );
        let callback = received
            .authenticate(|token| token == "secret-token")
            .unwrap();
        assert!(callback.headers.is_empty(), "the bearer token was ours");
        assert_eq!(
            callback.query, "x=%20y",
            "the vendor's query text kept as is"
        );
    }

    #[test]
    fn no_token_and_a_wrong_token_fail_differently() {
        let none = receive("GET", headers(&[]), None, Vec::new());
        assert_eq!(
            none.authenticate(|_| true).unwrap_err(),
            AuthFailure::Missing
        );
        let wrong = receive("GET", headers(&[(TOKEN_HEADER, "nope")]), None, Vec::new());
        assert_eq!(
            wrong.authenticate(|_| false).unwrap_err(),
            AuthFailure::Wrong
        );
    }

    #[test]
    fn multipart_is_refused_by_name_and_readable_bodies_pass() {
        for readable in [
            None,
            Some("application/json; charset=utf-8"),
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/vnd.api+json"),
            Some("application/octet-stream"),
        ] {
            assert_eq!(check_content_type(readable), Ok(()), "{readable:?}");
        }
        let multipart = "multipart/form-data; boundary=xyz";
        let error = check_content_type(Some(multipart)).unwrap_err();
        assert_eq!(error, UnreadableBody::Multipart(multipart.into()));
        assert!(error.to_string().contains(multipart), "{error}");
        assert!(matches!(
            check_content_type(Some("image/png")),
            Err(UnreadableBody::Other(_))
        ));
    }
}
