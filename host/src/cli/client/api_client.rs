//! The HTTP side of the client commands: one blocking request to a running
//! server with the admin token or a tenant key (and `X-Wasmhook-Tenant`
//! when `--tenant` names one), the answer's JSON back, and every failure
//! turned into one line that names the request (or says the server is not
//! there).

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::ClientArgs;
use crate::cli::error::CliError;
use crate::domain::tenant::TENANT_HEADER;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// An upload waits longer: the server validates and compiles the component
/// before it answers, which takes a while on a busy machine.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// How much of a non-JSON error body is quoted in the error line.
const QUOTED_BODY_CHARS: usize = 200;

/// The API of a running server, the token to call it with, and the
/// tenant the admin token acts in.
pub(super) struct ApiClient {
    base: Url,
    token: String,
    tenant: Option<String>,
    http: Client,
}

/// A request body with its content type, and how long its request may take.
pub(super) struct RequestBody {
    content_type: &'static str,
    bytes: Vec<u8>,
    timeout: Duration,
}

impl RequestBody {
    /// A JSON body.
    pub(super) fn json(value: &Value) -> Self {
        RequestBody {
            content_type: "application/json",
            bytes: value.to_string().into_bytes(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    /// A component upload.
    pub(super) fn wasm(bytes: Vec<u8>) -> Self {
        RequestBody {
            content_type: "application/wasm",
            bytes,
            timeout: UPLOAD_TIMEOUT,
        }
    }
}

impl ApiClient {
    /// The server `--server` names, with the admin token `--token` gives.
    /// Refuses before any request when there is no token: every client
    /// command needs one.
    pub(super) fn connect(args: &ClientArgs) -> Result<Self, CliError> {
        let base = parse_server_url(&args.server)?;
        let token = args
            .token
            .as_ref()
            .map(|token| token.expose().trim().to_owned())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| CliError::NoToken {
                server: display_base(&base),
            })?;
        let http = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The API never redirects; following one would send the token
            // somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wasmhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| CliError::Arg {
                arg: "--server",
                detail: format!("cannot set up an HTTP client: {}", innermost_cause(&error)),
            })?;
        Ok(ApiClient {
            base,
            token,
            tenant: args.tenant.as_ref().map(ToString::to_string),
            http,
        })
    }

    /// `GET` the path made of `segments` (each percent-encoded), with the
    /// given query parameters.
    pub(super) fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, CliError> {
        self.send(Method::GET, segments, query, None)
    }

    /// `POST` a JSON body.
    pub(super) fn post(&self, segments: &[&str], body: &Value) -> Result<Value, CliError> {
        self.send(Method::POST, segments, &[], Some(RequestBody::json(body)))
    }

    /// Any method with an optional JSON body: `PATCH`, `DELETE`, a `POST`
    /// with query parameters.
    pub(super) fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        self.send(method, segments, query, body.map(RequestBody::json))
    }

    /// `PUT` a body; the answer with its status (a plugin push tells a new
    /// version, 201, from bytes the server already had, 200).
    pub(super) fn put(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        body: RequestBody,
    ) -> Result<(StatusCode, Value), CliError> {
        self.exchange(Method::PUT, segments, query, Some(body))
    }

    fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<RequestBody>,
    ) -> Result<Value, CliError> {
        Ok(self.exchange(method, segments, query, body)?.1)
    }

    fn exchange(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<RequestBody>,
    ) -> Result<(StatusCode, Value), CliError> {
        let url = self.url(segments, query)?;
        let timeout = body.as_ref().map_or(REQUEST_TIMEOUT, |body| body.timeout);
        let target = Target {
            method: method.to_string(),
            path: match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
        };
        let mut request: RequestBuilder = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .timeout(timeout);
        if let Some(tenant) = &self.tenant {
            request = request.header(TENANT_HEADER, tenant);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, body.content_type)
                .body(body.bytes);
        }
        let response = request
            .send()
            .map_err(|error| self.transport_error(&target, timeout, &error))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .map_err(|error| self.transport_error(&target, timeout, &error))?;
        if !status.is_success() {
            return Err(api_error(target, status, &bytes));
        }
        if bytes.is_empty() {
            return Ok((status, Value::Null));
        }
        let answer = serde_json::from_slice(&bytes).map_err(|error| CliError::BadAnswer {
            method: target.method,
            path: target.path,
            detail: format!("not JSON: {error}"),
        })?;
        Ok((status, answer))
    }

    /// The base URL with `segments` appended (each percent-encoded, so an id
    /// with `/` or `?` in it stays one segment) and `query` set.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, CliError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CliError::Arg {
                arg: "--server",
                detail: format!("`{}` cannot have a path", self.base),
            })?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(name, value)| (*name, value.as_str())));
        }
        Ok(url)
    }

    fn transport_error(
        &self,
        target: &Target,
        timeout: Duration,
        error: &reqwest::Error,
    ) -> CliError {
        if error.is_connect() {
            CliError::Unreachable {
                server: display_base(&self.base),
                cause: innermost_cause(error),
            }
        } else if error.is_timeout() {
            CliError::BadAnswer {
                method: target.method.clone(),
                path: target.path.clone(),
                detail: format!(
                    "no answer from {} within {} s",
                    display_base(&self.base),
                    timeout.as_secs()
                ),
            }
        } else {
            CliError::BadAnswer {
                method: target.method.clone(),
                path: target.path.clone(),
                detail: innermost_cause(error),
            }
        }
    }
}

/// The request an error line names.
struct Target {
    method: String,
    path: String,
}

/// Parses `--server`: an http(s) URL; a bare `host:port` means http.
fn parse_server_url(text: &str) -> Result<Url, CliError> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let invalid = |detail: String| CliError::Arg {
        arg: "--server",
        detail,
    };
    let url = Url::parse(&with_scheme).map_err(|error| invalid(format!("`{text}`: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "`{text}`: the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("`{text}` names no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "`{text}`: give the server's base URL, without `?` or `#`"
        )));
    }
    Ok(url)
}

/// The server's URL as people write it: no trailing `/` on a bare host.
fn display_base(base: &Url) -> String {
    base.as_str().trim_end_matches('/').to_owned()
}

/// The server's `{code, detail}` (or, for a body that is not one, the
/// status's name and the start of the body).
fn api_error(target: Target, status: StatusCode, body: &[u8]) -> CliError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        code: String,
        detail: String,
    }
    let (code, detail) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => (error.code, error.detail),
        Err(_) => {
            let code = status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase()
                .replace(' ', "_");
            let text = String::from_utf8_lossy(body);
            let mut quoted: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some((cut, _)) = quoted.char_indices().nth(QUOTED_BODY_CHARS) {
                quoted.truncate(cut);
                quoted.push('…');
            }
            let detail = if quoted.is_empty() {
                "(empty body)".to_owned()
            } else {
                quoted
            };
            (code, detail)
        }
    };
    // The server names the header; people set it with a flag.
    let hint = if status == StatusCode::UNAUTHORIZED {
        " (check --token or WASMHOOK_TOKEN)"
    } else if matches!(code.as_str(), "tenant_mismatch" | "invalid_tenant")
        || detail.starts_with(TENANT_HEADER)
    {
        " (the tenant is --tenant or WASMHOOK_TENANT)"
    } else {
        ""
    };
    CliError::Api {
        method: target.method,
        path: target.path,
        status: status.as_u16(),
        code,
        detail: format!("{detail}{hint}"),
    }
}

/// The deepest cause of a reqwest error ("Connection refused (os error
/// 111)"), which says what happened; the outer ones repeat the URL.
fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_default_to_http_and_refuse_other_schemes() {
        let url = parse_server_url("127.0.0.1:9000").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(display_base(&url), "http://127.0.0.1:9000");
        assert!(parse_server_url("https://hooks.example.com/wasmhook").is_ok());
        for bad in [
            "ftp://example.com",
            "http://",
            "http://h/?x=1",
            "http://[::1",
        ] {
            let error = parse_server_url(bad).unwrap_err().to_string();
            assert!(error.contains("--server"), "{bad}: {error}");
        }
    }

    #[test]
    fn paths_are_encoded_segment_by_segment_under_a_prefix() {
        let server = ApiClient {
            base: parse_server_url("http://h/prefix/").unwrap(),
            token: "t".to_owned(),
            tenant: None,
            http: Client::new(),
        };
        let url = server
            .url(&["v1", "events", "a/b?c"], &[("status", "a b".to_owned())])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://h/prefix/v1/events/a%2Fb%3Fc?status=a+b"
        );
    }

    #[test]
    fn error_bodies_become_one_line() {
        let target = || Target {
            method: "GET".to_owned(),
            path: "/v1/plugins/nope".to_owned(),
        };
        let json = br#"{"code":"not_found","detail":"no plugin named `nope`"}"#;
        assert_eq!(
            api_error(target(), StatusCode::NOT_FOUND, json).to_string(),
            "GET /v1/plugins/nope: 404 not_found: no plugin named `nope`"
        );
        let html = b"<html>\n  Bad gateway\n</html>";
        assert_eq!(
            api_error(target(), StatusCode::BAD_GATEWAY, html).to_string(),
            "GET /v1/plugins/nope: 502 bad_gateway: <html> Bad gateway </html>"
        );
    }
}
