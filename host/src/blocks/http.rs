//! The host side of a block's `http.send`: every request a block plugin
//! asks for is checked (method, URL, plain http, the plugin's allowed
//! hosts), given its connector's credentials (the plugin never sees them),
//! sent through the guarded [`OutboundClient`] (the delivery engine's
//! address rules) within the run's deadline and the response size cap,
//! traced, and recorded with its secrets masked for the API's answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use tracing::Instrument;
use url::Url;
use utoipa::ToSchema;
use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse};

use crate::delivery::outbound::{OutboundClient, OutboundError, OutboundRequest};
use crate::delivery::request::credential;
use crate::domain::Name;
use crate::domain::plugin::HostPattern;
use crate::runtime::{HttpHandler, HttpSent};
use crate::store::Store;

/// What every block request is held to, from the server configuration.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Whether plain `http://` URLs may be called.
    pub allow_plain_http: bool,
    /// The longest a request may take when neither the block nor the run's
    /// deadline asks for less.
    pub default_timeout: Duration,
    /// The largest response body read, bytes (the client reads no more).
    pub max_response_bytes: u64,
}

/// How a shown header value replaces a secret.
pub const MASK: &str = "***";

/// Request headers whose values are credentials whoever set them.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Headers the HTTP client owns: a block setting them could desynchronise
/// the request framing.
const FRAMING_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

/// A request as the API shows it: what was sent, secrets masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShownRequest {
    /// Method, upper case.
    pub method: String,
    /// The URL as sent, query included.
    pub url: String,
    /// Headers as `[name, value]` pairs in the order sent; credentials are
    /// shown as `***`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8), or `null` when there was none.
    pub body: Option<String>,
}

/// The answer to one request, as received (the body up to the cap).
#[derive(Debug, Clone)]
pub struct ReceivedResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers as received.
    pub headers: Vec<(String, String)>,
    /// The body (at most the response cap).
    pub body: Vec<u8>,
}

/// Why a request got no usable answer, as the host saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Not sent: plain http, a host outside the allowed hosts, an unknown
    /// connector, or a target the outbound address rules refuse.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// DNS, connection, TLS or body read failure.
    Connection,
    /// The body was larger than the cap.
    TooLarge,
    /// The request itself was malformed (method, URL, header).
    InvalidRequest,
}

/// A failed request: its kind and what happened.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// What happened (never the URL's query or a credential).
    pub detail: String,
}

/// One request a block made and its outcome.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was (or would have been) sent.
    pub request: ShownRequest,
    /// `METHOD scheme://host/path`: the target without its query, for
    /// messages and logs.
    pub target: String,
    /// The answer, when one came (also for a too-large one).
    pub response: Option<ReceivedResponse>,
    /// Why there is no usable answer.
    pub failure: Option<Failure>,
    /// From the plugin's call to its answer.
    pub duration: Duration,
}

/// The [`HttpHandler`] of one block run: it records every request.
pub struct BlockHttp {
    client: OutboundClient,
    store: Arc<Store>,
    policy: HttpPolicy,
    block: String,
    plugin: String,
    allowed_hosts: Vec<HostPattern>,
    exchanges: Mutex<Vec<Exchange>>,
}

impl BlockHttp {
    /// A handler for one run of `block` by `plugin`, whose requests may
    /// target `allowed_hosts`.
    pub fn new(
        client: OutboundClient,
        store: Arc<Store>,
        policy: HttpPolicy,
        block: String,
        plugin: String,
        allowed_hosts: Vec<HostPattern>,
    ) -> Self {
        BlockHttp {
            client,
            store,
            policy,
            block,
            plugin,
            allowed_hosts,
            exchanges: Mutex::new(Vec::new()),
        }
    }

    /// The requests made so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn record(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(exchange);
    }

    /// The request as the API shows it (before the host's checks: what the
    /// plugin asked for, credentials masked).
    fn shown(request: &HttpRequest) -> ShownRequest {
        ShownRequest {
            method: request.method.trim().to_ascii_uppercase(),
            url: redacted(&request.url),
            headers: request
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), shown_value(name, value)))
                .collect(),
            body: request.body.as_deref().map(shown_text),
        }
    }

    /// The host's checks and the connector's credentials; `shown` follows
    /// what is added (the credential, masked) so it stays the request sent.
    fn prepare(
        &self,
        request: &HttpRequest,
        shown: &mut ShownRequest,
    ) -> Result<OutboundRequest, HttpError> {
        let method = Method::from_bytes(shown.method.as_bytes()).map_err(|_| {
            HttpError::InvalidRequest(format!("method `{}` is not an HTTP method", shown.method))
        })?;
        let url = Url::parse(request.url.trim()).map_err(|error| {
            HttpError::InvalidRequest(format!("url is not an absolute URL: {error}"))
        })?;
        self.check_target(&url)?;
        let mut headers = Vec::with_capacity(request.headers.len() + 1);
        for (name, value) in &request.headers {
            if FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(HttpError::InvalidRequest(format!(
                    "header `{name}` is set by the host"
                )));
            }
            headers.push((name.clone(), value.clone()));
        }
        let connector = request
            .connector
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        if let Some(connector) = connector {
            let (name, value) = self.credential_of(connector)?;
            // The connector's header wins: a block cannot send a second
            // `Authorization` beside (or instead of) the stored one.
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            shown
                .headers
                .retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
            headers.push((name.clone(), value));
            shown.headers.push((name, MASK.to_owned()));
        }
        shown.url = url.to_string();
        Ok(OutboundRequest {
            method,
            url,
            headers,
            body: request.body.clone().unwrap_or_default(),
            timeout: None,
        })
    }

    /// Scheme, credentials in the URL, plain http and the allowed hosts.
    /// (The address rules are the client's, on the resolved address.)
    fn check_target(&self, url: &Url) -> Result<(), HttpError> {
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_plain_http => {}
            "http" => {
                return Err(HttpError::Refused(
                    "plain http is not allowed for blocks: use https (the operator can allow \
                     it with `allow_plain_http_blocks`)"
                        .to_owned(),
                ));
            }
            other => {
                return Err(HttpError::InvalidRequest(format!(
                    "url scheme `{other}` is not http or https"
                )));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::InvalidRequest(
                "the url must not hold a user name or password; use a connector".to_owned(),
            ));
        }
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default();
        if !self
            .allowed_hosts
            .iter()
            .any(|pattern| pattern.matches(host, port))
        {
            return Err(HttpError::Refused(format!(
                "host `{host}` is not in the allowed hosts of plugin `{}` (set them with PUT \
                 /v1/plugins/{}/settings)",
                self.plugin, self.plugin
            )));
        }
        Ok(())
    }

    fn credential_of(&self, connector: &str) -> Result<(String, String), HttpError> {
        let unknown = || HttpError::Refused(format!("no connector named `{connector}`"));
        let name: Name = connector.parse().map_err(|_| unknown())?;
        match self.store.connector_by_name(&name) {
            Ok(Some(found)) => Ok(credential(&found.auth)),
            Ok(None) => Err(unknown()),
            Err(error) => {
                tracing::error!(%error, connector, "reading a block's connector failed");
                Err(HttpError::Refused(format!(
                    "connector `{connector}` could not be read"
                )))
            }
        }
    }

    /// The timeout of one request: the block's own, the host's default and
    /// the time left in the run, less a margin so the plugin can still
    /// handle a timeout before its own deadline interrupts it.
    fn timeout(&self, asked_ms: Option<u32>, remaining: Duration) -> Duration {
        let margin = (remaining / 10).min(Duration::from_millis(200));
        let mut timeout = self.policy.default_timeout.min(remaining - margin);
        if let Some(ms) = asked_ms {
            timeout = timeout.min(Duration::from_millis(u64::from(ms)));
        }
        timeout
    }

    /// Sends a checked request, mapping the client's answer to what the
    /// plugin gets and what is recorded.
    async fn transmit(
        &self,
        mut outbound: OutboundRequest,
        timeout: Duration,
    ) -> (Option<ReceivedResponse>, Result<HttpResponse, HttpError>) {
        if timeout.is_zero() {
            return (None, Err(HttpError::Timeout));
        }
        outbound.timeout = Some(timeout);
        match self.client.send(outbound).await {
            Ok(response) => {
                let received = ReceivedResponse {
                    status: response.status,
                    headers: response.headers,
                    body: response.body_excerpt,
                };
                let answer = if response.truncated {
                    Err(HttpError::TooLarge(self.policy.max_response_bytes))
                } else {
                    Ok(HttpResponse {
                        status: received.status,
                        headers: received.headers.clone(),
                        body: received.body.clone(),
                    })
                };
                (Some(received), answer)
            }
            Err(error) => (None, Err(from_outbound(error))),
        }
    }
}

impl HttpHandler for BlockHttp {
    fn send(&self, request: HttpRequest, remaining: Duration) -> HttpSent<'_> {
        Box::pin(self.exchange(request, remaining))
    }
}

impl BlockHttp {
    /// Checks, sends and records one request.
    async fn exchange(
        &self,
        request: HttpRequest,
        remaining: Duration,
    ) -> Result<HttpResponse, HttpError> {
        let started = Instant::now();
        let target = format!(
            "{} {}",
            request.method.trim().to_ascii_uppercase(),
            redacted(without_query(&request.url))
        );
        let span = tracing::info_span!(
            "block_request",
            block = %self.block,
            plugin = %self.plugin,
            target = %target,
        );
        let mut shown = Self::shown(&request);
        let (response, answer) = match self.prepare(&request, &mut shown) {
            Err(error) => (None, Err(error)),
            Ok(outbound) => {
                let timeout = self.timeout(request.timeout_ms, remaining);
                self.transmit(outbound, timeout)
                    .instrument(span.clone())
                    .await
            }
        };
        let _entered = span.enter();
        let duration = started.elapsed();
        let failure = answer.as_ref().err().map(failure_of);
        let status = response.as_ref().map(|response| response.status);
        tracing::info!(
            status,
            duration_ms = duration.as_millis() as u64,
            outcome = failure.as_ref().map_or("answered", |f| f.kind.as_str()),
            "block request"
        );
        self.record(Exchange {
            request: shown,
            target,
            response,
            failure,
            duration,
        });
        answer
    }
}

impl FailureKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Refused => "refused",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::TooLarge => "too_large",
            FailureKind::InvalidRequest => "invalid_request",
        }
    }
}

fn failure_of(error: &HttpError) -> Failure {
    let (kind, detail) = match error {
        HttpError::Refused(why) => (FailureKind::Refused, why.clone()),
        HttpError::Timeout => (FailureKind::Timeout, "no answer within the timeout".into()),
        HttpError::Connection(why) => (FailureKind::Connection, why.clone()),
        HttpError::TooLarge(cap) => (
            FailureKind::TooLarge,
            format!("the response body is larger than the {cap}-byte cap"),
        ),
        HttpError::InvalidRequest(why) => (FailureKind::InvalidRequest, why.clone()),
    };
    Failure { kind, detail }
}

/// The client's failure as the `http-error` the plugin gets. Its messages
/// name the host, never the path or query.
fn from_outbound(error: OutboundError) -> HttpError {
    match error {
        OutboundError::RefusedTarget { .. } => HttpError::Refused(error.to_string()),
        OutboundError::Timeout { .. } => HttpError::Timeout,
        OutboundError::InvalidRequest { .. } => HttpError::InvalidRequest(error.to_string()),
        OutboundError::Dns { .. }
        | OutboundError::Connect { .. }
        | OutboundError::Tls { .. }
        | OutboundError::Body { .. } => HttpError::Connection(error.to_string()),
    }
}

/// A header value as shown: credentials masked.
fn shown_value(name: &str, value: &str) -> String {
    if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        MASK.to_owned()
    } else {
        value.to_owned()
    }
}

/// The most bytes of a body an API answer shows.
pub const SHOWN_BODY_BYTES: usize = 64 << 10;

/// A body as text for an API answer: lossy UTF-8, at most
/// [`SHOWN_BODY_BYTES`] (a cut is marked with `…`).
pub fn shown_text(body: &[u8]) -> String {
    if body.len() <= SHOWN_BODY_BYTES {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut text = String::from_utf8_lossy(&body[..SHOWN_BODY_BYTES]).into_owned();
    text.push('…');
    text
}

/// `url` with a password in it replaced by `***` (such a URL is refused,
/// but it is still recorded and logged as the plugin asked for it).
fn redacted(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A URL without its query and fragment: queries carry personal data
/// (`?email=…`), so logs and messages leave them out.
pub fn without_query(url: &str) -> &str {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_left_out_of_targets() {
        assert_eq!(
            without_query("https://x.example/a?email=a@b.c#f"),
            "https://x.example/a"
        );
        assert_eq!(
            without_query(" https://x.example/a "),
            "https://x.example/a"
        );
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_long_bodies_cut() {
        assert_eq!(
            redacted("https://u:hunter2@x.example/a"),
            "https://u:***@x.example/a"
        );
        assert_eq!(
            redacted("https://x.example/a?q=1"),
            "https://x.example/a?q=1"
        );
        let long = vec![b'a'; SHOWN_BODY_BYTES + 10];
        assert_eq!(shown_text(&long).chars().count(), SHOWN_BODY_BYTES + 1);
    }

    #[test]
    fn credential_headers_are_masked_whoever_set_them() {
        assert_eq!(shown_value("Authorization", "Bearer t"), MASK);
        assert_eq!(shown_value("X-Api-Key", "k"), MASK);
        assert_eq!(shown_value("X-Request-Id", "r1"), "r1");
    }
}
