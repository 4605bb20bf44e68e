//! How secrets are kept out of what is shown of an outbound request (an
//! attempt log, a block run's answer, a log line): credential header values
//! and passwords in URLs become [`MASK`].

use url::Url;

use super::headers::is_secret;

/// What a shown secret reads as.
pub const MASK: &str = "***";

/// A header value as shown: [`MASK`] for a credential header
/// ([`SECRET_HEADERS`](super::headers::SECRET_HEADERS)), else the value.
pub fn masked_header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) { MASK } else { value }
}

/// `url` with a password in it replaced by [`MASK`]; anything else (no
/// password, not a URL) as written.
pub fn url_without_password(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this
            // one just showed it has.
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_and_url_passwords_are_masked() {
        assert_eq!(masked_header_value("Authorization", "Bearer t"), MASK);
        assert_eq!(masked_header_value("cookie", "a=b"), MASK);
        assert_eq!(masked_header_value("X-Request-Id", "r1"), "r1");
        assert_eq!(
            url_without_password("https://u:hunter2@x.example/a"),
            "https://u:***@x.example/a"
        );
        assert_eq!(
            url_without_password("https://x.example/a?q=1"),
            "https://x.example/a?q=1"
        );
    }
}
