//! The one outbound HTTP client every delivery and workflow block request
//! goes through: a pooled `reqwest` client with connect and total timeouts,
//! no redirects and no proxy, whose resolver drops addresses the
//! [`AddressPolicy`] refuses, so the address checked is the address
//! connected (no DNS-rebinding bypass). Responses keep a bounded excerpt of
//! the body; failures are typed with a stable [`OutboundError::kind`].

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, redirect};
use url::{Host, Url};

use super::address_policy::{AddressPolicy, AllowlistError, Refusal};
use crate::config::ServeConfig;

/// The `User-Agent` of every outbound request.
pub const USER_AGENT: &str = concat!("wasmhook/", env!("CARGO_PKG_VERSION"));

/// How the outbound client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Special-range targets the operator allows: CIDRs (`127.0.0.0/8`),
    /// single addresses or host names.
    pub allowlist: Vec<String>,
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest a request may take, connection to last byte read, unless the
    /// request sets its own.
    pub total_timeout: Duration,
    /// Most response body bytes kept in [`OutboundResponse::body_excerpt`].
    pub max_excerpt_bytes: usize,
    /// The `User-Agent` of every request.
    pub user_agent: String,
}

impl OutboundConfig {
    /// Default connect timeout: 5 s.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Default total timeout: 30 s.
    pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default response excerpt: 4 KiB.
    pub const DEFAULT_MAX_EXCERPT_BYTES: usize = 4 << 10;

    /// The defaults with the server's operator allowlist.
    pub fn for_server(config: &ServeConfig) -> Self {
        OutboundConfig {
            allowlist: config.outbound_allowlist.clone(),
            ..OutboundConfig::default()
        }
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allowlist: Vec::new(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            total_timeout: Self::DEFAULT_TOTAL_TIMEOUT,
            max_excerpt_bytes: Self::DEFAULT_MAX_EXCERPT_BYTES,
            user_agent: USER_AGENT.to_owned(),
        }
    }
}

/// Why the outbound client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OutboundSetupError {
    /// An allowlist entry does not parse.
    #[error(transparent)]
    Allowlist(#[from] AllowlistError),
    /// The user agent is not a valid header value.
    #[error("outbound user agent {0:?} is not a valid header value")]
    UserAgent(String),
    /// reqwest refused the configuration.
    #[error("building the outbound HTTP client failed: {0}")]
    Client(#[source] reqwest::Error),
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// HTTP method.
    pub method: Method,
    /// Target; only `http` and `https` are sent.
    pub url: Url,
    /// Header pairs, sent in order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// Body bytes; an empty body is not sent with GET or HEAD.
    pub body: Vec<u8>,
    /// This request's total timeout instead of the client's.
    pub timeout: Option<Duration>,
}

impl OutboundRequest {
    /// A request with no headers, no body and the client's timeout.
    pub fn new(method: Method, url: Url) -> Self {
        OutboundRequest {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }
}

/// What came back. Any status is a response (a 3xx is not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header pairs as received (values that are not UTF-8 are converted
    /// lossily).
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body, at most the configured excerpt size.
    pub body_excerpt: Vec<u8>,
    /// Whether the body went on past the excerpt (the rest was not read).
    pub truncated: bool,
    /// From sending to the end of the excerpt.
    pub duration: Duration,
}

impl OutboundResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    #[cfg(test)]
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no response. [`kind`](Self::kind) is a stable code
/// for attempt logs and metrics; messages never include the URL's path or
/// query (they may carry credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The target is in a special range and not allowlisted.
    #[error("refused target {target}: {refusal}")]
    RefusedTarget {
        /// The host as written in the URL.
        target: String,
        /// The address refused and why.
        refusal: Refusal,
    },
    /// The host name did not resolve.
    #[error("DNS lookup of {host} failed: {detail}")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        detail: String,
    },
    /// No connection could be made, or it broke before a response.
    #[error("connection to {target} failed: {detail}")]
    Connect {
        /// `host:port`.
        target: String,
        /// The underlying error.
        detail: String,
    },
    /// The connect or total timeout passed.
    #[error("{target} timed out after {} ms {phase}", after.as_millis())]
    Timeout {
        /// `host:port`.
        target: String,
        /// The timeout that passed.
        after: Duration,
        /// `connecting` or `waiting for the response`.
        phase: &'static str,
    },
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS with {target} failed: {detail}")]
    Tls {
        /// `host:port`.
        target: String,
        /// The TLS error.
        detail: String,
    },
    /// The request cannot be sent as given (scheme, header, method).
    #[error("invalid outbound request: {detail}")]
    InvalidRequest {
        /// What is wrong, naming the part.
        detail: String,
    },
    /// The response started but its body could not be read.
    #[error("reading the response body from {target} failed: {detail}")]
    Body {
        /// `host:port`.
        target: String,
        /// The underlying error.
        detail: String,
    },
}

impl OutboundError {
    /// Stable code: `refused_target`, `dns`, `connect`, `timeout`, `tls`,
    /// `invalid_request` or `body`.
    pub fn kind(&self) -> &'static str {
        match self {
            OutboundError::RefusedTarget { .. } => "refused_target",
            OutboundError::Dns { .. } => "dns",
            OutboundError::Connect { .. } => "connect",
            OutboundError::Timeout { .. } => "timeout",
            OutboundError::Tls { .. } => "tls",
            OutboundError::InvalidRequest { .. } => "invalid_request",
            OutboundError::Body { .. } => "body",
        }
    }
}

/// The pooled, guarded outbound client. Cheap to clone (one shared pool).
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    connect_timeout: Duration,
    total_timeout: Duration,
    max_excerpt_bytes: usize,
}

impl OutboundClient {
    /// Builds the client; fails naming a bad allowlist entry or user agent.
    pub fn new(config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        let policy = Arc::new(AddressPolicy::from_allowlist(&config.allowlist)?);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| OutboundSetupError::UserAgent(config.user_agent.clone()))?;
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            // A proxy would be what we connect to, hiding the target from
            // the address check.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::clone(&policy),
            }))
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .user_agent(user_agent)
            .build()
            .map_err(OutboundSetupError::Client)?;
        Ok(OutboundClient {
            client,
            policy,
            connect_timeout: config.connect_timeout,
            total_timeout: config.total_timeout,
            max_excerpt_bytes: config.max_excerpt_bytes,
        })
    }

    /// The address policy the client applies.
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// The checks that need no network: scheme, host present, and an
    /// IP-literal host allowed by the policy. (Host names are checked on
    /// each address they resolve to, when connecting.) Endpoint validation
    /// can call it to refuse a bad URL early.
    pub fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::InvalidRequest {
                detail: format!("url scheme {:?} is not http or https", url.scheme()),
            });
        }
        let literal = match url.host() {
            None => {
                return Err(OutboundError::InvalidRequest {
                    detail: "url has no host".to_owned(),
                });
            }
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(v4)) => v4.into(),
            Some(Host::Ipv6(v6)) => v6.into(),
        };
        // IP literals never reach the resolver, so they are judged here.
        self.policy
            .check_ip(literal)
            .map_err(|refusal| OutboundError::RefusedTarget {
                target: url.host_str().unwrap_or_default().to_owned(),
                refusal,
            })
    }

    /// Sends `request` and reads at most the excerpt of its response body.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.check_url(&request.url)?;
        let headers = header_map(&request.headers)?;
        let target = target_of(&request.url);
        let timeout = request.timeout.unwrap_or(self.total_timeout);
        let skip_body =
            request.body.is_empty() && matches!(request.method, Method::GET | Method::HEAD);
        let mut builder = self
            .client
            .request(request.method, request.url)
            .headers(headers)
            .timeout(timeout);
        if !skip_body {
            builder = builder.body(request.body);
        }

        let started = Instant::now();
        let mut response = builder
            .send()
            .await
            .map_err(|error| self.classify(error, &target, timeout))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let (body_excerpt, truncated) = read_excerpt(&mut response, self.max_excerpt_bytes)
            .await
            .map_err(|error| self.classify(error, &target, timeout))?;
        Ok(OutboundResponse {
            status,
            headers,
            body_excerpt,
            truncated,
            duration: started.elapsed(),
        })
    }

    /// Names a reqwest failure by what went wrong, most specific first: our
    /// resolver's refusal or lookup failure, TLS, timeout, connection, body.
    fn classify(&self, error: reqwest::Error, target: &str, timeout: Duration) -> OutboundError {
        let error = error.without_url();
        for cause in causes(&error) {
            if let Some(refused) = cause.downcast_ref::<ResolvedRefusal>() {
                return OutboundError::RefusedTarget {
                    target: refused.host.clone(),
                    refusal: refused.refusal.clone(),
                };
            }
            if let Some(failed) = cause.downcast_ref::<LookupFailure>() {
                return OutboundError::Dns {
                    host: failed.host.clone(),
                    detail: failed.detail.clone(),
                };
            }
        }
        let target = target.to_owned();
        let detail = describe(&error);
        if causes(&error).any(|cause| cause.is::<rustls::Error>()) {
            return OutboundError::Tls { target, detail };
        }
        if error.is_timeout() {
            let (after, phase) = if error.is_connect() {
                (self.connect_timeout.min(timeout), "connecting")
            } else {
                (timeout, "waiting for the response")
            };
            return OutboundError::Timeout {
                target,
                after,
                phase,
            };
        }
        if error.is_body() || error.is_decode() {
            return OutboundError::Body { target, detail };
        }
        if error.is_builder() {
            return OutboundError::InvalidRequest { detail };
        }
        OutboundError::Connect { target, detail }
    }
}

/// `Retry-After` of a response as a delay from now: delay-seconds or an
/// HTTP date (a date in the past is no delay). `None` when absent or
/// unreadable.
pub fn retry_after(response: &OutboundResponse) -> Option<Duration> {
    parse_retry_after(response.header("retry-after")?, SystemTime::now())
}

/// [`retry_after`] on a header value, against `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, OutboundError> {
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| OutboundError::InvalidRequest {
                detail: format!("header name {name:?} is not valid"),
            })?;
        // The value is not quoted back: it may be a credential.
        let header_value =
            HeaderValue::from_str(value).map_err(|_| OutboundError::InvalidRequest {
                detail: format!("header {name:?} has a value that is not valid in HTTP"),
            })?;
        headers.append(header_name, header_value);
    }
    Ok(headers)
}

/// `host:port` of a URL, for messages that must not carry its path or query.
fn target_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Reads the body chunk by chunk into at most `limit` bytes; stops (and
/// drops the rest unread) as soon as the body goes past it.
async fn read_excerpt(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let expected = response
        .content_length()
        .and_then(|length| usize::try_from(length).ok())
        .unwrap_or(limit);
    let mut excerpt = Vec::with_capacity(expected.min(limit));
    while let Some(chunk) = response.chunk().await? {
        let room = limit - excerpt.len();
        if chunk.len() > room {
            excerpt.extend_from_slice(&chunk[..room]);
            return Ok((excerpt, true));
        }
        excerpt.extend_from_slice(&chunk);
    }
    Ok((excerpt, false))
}

/// Every cause of `error`, looking inside `io::Error`s too (their `source`
/// skips the error they wrap, where TLS failures live).
fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut found: Vec<&'a (dyn StdError + 'static)> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        found.push(current);
        next = match current.downcast_ref::<io::Error>() {
            Some(io_error) => io_error
                .get_ref()
                .map(|inner| -> &'a (dyn StdError + 'static) { inner }),
            None => current.source(),
        };
    }
    found.into_iter()
}

/// The causes of `error` joined, skipping reqwest's and hyper's generic
/// wrappers' repeats.
fn describe(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in causes(error).skip(1) {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

/// Resolves host names with the system resolver and keeps only addresses
/// the policy allows; what it returns is exactly what hyper connects to.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| LookupFailure {
                    host: host.clone(),
                    detail: error.to_string(),
                })?;
            let allowed = allowed_addresses(&policy, &host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The resolved addresses of `host` the policy allows (all of them when
/// the host name is allowlisted); an error when none is left.
fn allowed_addresses(
    policy: &AddressPolicy,
    host: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, Box<dyn StdError + Send + Sync>> {
    let host_allowed = policy.host_allowlisted(host);
    let mut allowed = Vec::new();
    let mut first_refusal = None;
    for address in resolved {
        match policy.check_ip(address.ip()) {
            Ok(()) => allowed.push(address),
            Err(_) if host_allowed => allowed.push(address),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    if !allowed.is_empty() {
        return Ok(allowed);
    }
    Err(match first_refusal {
        Some(refusal) => Box::new(ResolvedRefusal {
            host: host.to_owned(),
            refusal,
        }),
        None => Box::new(LookupFailure {
            host: host.to_owned(),
            detail: "no addresses".to_owned(),
        }),
    })
}

/// Every address a host name resolved to is refused; carried through
/// reqwest's error chain and turned back into [`OutboundError::RefusedTarget`].
#[derive(Debug, thiserror::Error)]
#[error("refused target {host}: {refusal}")]
struct ResolvedRefusal {
    host: String,
    refusal: Refusal,
}

/// The system resolver failed; becomes [`OutboundError::Dns`].
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {host} failed: {detail}")]
struct LookupFailure {
    host: String,
    detail: String,
}

#[cfg(test)]
mod tests;
