//! The host side of a block's `http.send`: every request a block plugin
//! asks for is counted against the run's request cap, checked (its shape —
//! method, URL, header and body sizes — in [`caps`] first, then the URL,
//! plain http and the plugin's allowed hosts), given its connector's
//! credentials (the plugin never sees them), sent through the shared
//! guarded [`OutboundClient`] (the delivery engine's, with its address
//! rules) within the run's deadline and the response size cap, traced, and
//! recorded — bounded, its secrets masked — for the API's answer
//! ([`record`]).

pub mod caps;
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use tracing::Instrument;
use url::Url;
use utoipa::ToSchema;
use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse};

use crate::domain::Name;
use crate::domain::block::Block;
use crate::domain::plugin::HostPattern;
use crate::outbound::headers::is_framing;
use crate::outbound::masking::{masked_header_value, url_without_password};
use crate::outbound::{Credential, MASK, OutboundClient, OutboundError, OutboundRequest};
use crate::runtime::{HttpHandler, HttpSent};
use crate::store::Store;
use caps::{MAX_HEADERS, MAX_URL_BYTES, RunCaps, check_shape, cut};
use record::{KEPT_BODY_BYTES, KEPT_HEADER_VALUE_BYTES, Recorded, Recorder};

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

/// A request as the API shows it: what was sent, secrets masked, header
/// values and the body cut to excerpts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShownRequest {
    /// Method, upper case.
    pub method: String,
    /// The URL as sent, query included.
    pub url: String,
    /// Headers as `[name, value]` pairs in the order sent; credentials are
    /// shown as `***`, values longer than 256 bytes cut (`…`).
    #[schema(value_type = Vec<Vec<String>>)]
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8, its first 4 KiB), or `null` when
    /// there was none.
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

/// The [`HttpHandler`] of one block run: it holds the run to its caps and
/// records its requests (bounded).
pub struct BlockHttp {
    client: OutboundClient,
    store: Arc<Store>,
    policy: HttpPolicy,
    /// The block's tenant: its connectors are the ones the block may name.
    tenant: Name,
    block: String,
    plugin: String,
    allowed_hosts: Vec<HostPattern>,
    caps: RunCaps,
    recorder: Recorder,
}

impl BlockHttp {
    /// A handler for one run of `block` (its connectors are its tenant's),
    /// whose requests may
    /// target `allowed_hosts` and are held to `caps` (see
    /// [`RunCaps::from_limits`]).
    pub fn new(
        client: OutboundClient,
        store: Arc<Store>,
        policy: HttpPolicy,
        block: &Block,
        allowed_hosts: Vec<HostPattern>,
        caps: RunCaps,
    ) -> Self {
        BlockHttp {
            client,
            store,
            policy,
            tenant: block.tenant.clone(),
            block: block.name.to_string(),
            plugin: block.plugin.to_string(),
            allowed_hosts,
            caps,
            recorder: Recorder::new(caps.max_requests),
        }
    }

    /// What the run kept of its requests so far: the first ones, the
    /// latest, and the counts.
    pub fn recorded(&self) -> Recorded {
        self.recorder.snapshot()
    }

    /// Counts the request against the run's cap. Past the cap it is
    /// refused at once: counted, but neither checked, sent, logged (but
    /// for the first) nor recorded, so a flood costs next to nothing.
    fn admit(&self) -> Result<(), HttpError> {
        self.recorder.admit().map_err(|over| {
            if over.first {
                tracing::warn!(
                    block = %self.block,
                    plugin = %self.plugin,
                    cap = over.cap,
                    "block run reached its request cap; further requests are refused"
                );
            }
            HttpError::Refused(format!(
                "request cap reached: a run of plugin `{}` may make {} requests (its \
                 `max_http_requests` limit; raise it with PUT /v1/plugins/{}/settings \
                 {{\"limits\": {{\"max_http_requests\": …}}}})",
                self.plugin, over.cap, self.plugin
            ))
        })
    }

    /// The request as the API shows it (before the host's checks: what the
    /// plugin asked for, credentials masked), bounded whatever its size: a
    /// URL over the cap is not copied, header values and the body are cut.
    fn shown(request: &HttpRequest) -> ShownRequest {
        let url = request.url.trim();
        ShownRequest {
            method: shown_method(&request.method),
            url: if url.len() > MAX_URL_BYTES {
                format!("({}-byte url, not shown)", url.len())
            } else {
                url_without_password(url)
            },
            headers: request
                .headers
                .iter()
                .take(MAX_HEADERS)
                .map(|(name, value)| (cut(name, 64), shown_value(name, value)))
                .collect(),
            body: request
                .body
                .as_deref()
                .map(|body| text_excerpt(body, KEPT_BODY_BYTES)),
        }
    }

    /// The host's checks and the connector's credentials; `shown` follows
    /// what is added (the credential, masked) so it stays the request sent.
    /// The request's shape is checked first, on the request as handed over;
    /// its headers and body then move into the outbound request uncopied.
    async fn prepare(
        &self,
        request: HttpRequest,
        shown: &mut ShownRequest,
    ) -> Result<OutboundRequest, HttpError> {
        let method = check_shape(&request, self.caps.max_body_bytes)?;
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| {
            HttpError::InvalidRequest(format!("method `{method}` is not an HTTP method"))
        })?;
        let url = Url::parse(request.url.trim()).map_err(|error| {
            HttpError::InvalidRequest(format!("url is not an absolute URL: {error}"))
        })?;
        self.check_target(&url)?;
        let mut headers = Vec::with_capacity(request.headers.len() + 1);
        for (name, value) in request.headers {
            if is_framing(&name) {
                return Err(HttpError::InvalidRequest(format!(
                    "header `{}` is set by the host",
                    cut(&name, 64)
                )));
            }
            headers.push((name, value));
        }
        let connector = request
            .connector
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        if let Some(connector) = connector {
            let credential = self.credential_of(connector).await?;
            // The connector's header wins: a block cannot send a second
            // `Authorization` beside (or instead of) the stored one.
            headers.retain(|(existing, _)| !credential.replaces(existing));
            shown
                .headers
                .retain(|(existing, _)| !credential.replaces(existing));
            shown
                .headers
                .push((credential.name.clone(), MASK.to_owned()));
            headers.push((credential.name, credential.value));
        }
        shown.url = url.to_string();
        Ok(OutboundRequest {
            method,
            url,
            headers,
            body: request.body.unwrap_or_default(),
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

    async fn credential_of(&self, connector: &str) -> Result<Credential, HttpError> {
        let unknown = || HttpError::Refused(format!("no connector named `{}`", cut(connector, 64)));
        let name: Name = connector.parse().map_err(|_| unknown())?;
        match self.store.connector_by_name(&self.tenant, &name).await {
            Ok(Some(found)) => Ok(Credential::of(&found.auth)),
            Ok(None) => Err(unknown()),
            Err(error) => {
                tracing::error!(%error, connector, "reading a block's connector failed");
                Err(HttpError::Refused(format!(
                    "connector `{}` could not be read",
                    cut(connector, 64)
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
        self.admit()?;
        let target = target_of(&request);
        let span = tracing::info_span!(
            "block_request",
            block = %self.block,
            plugin = %self.plugin,
            target = %target,
        );
        let mut shown = Self::shown(&request);
        let asked_timeout = request.timeout_ms;
        let (response, answer) = match self.prepare(request, &mut shown).await {
            Err(error) => (None, Err(error)),
            Ok(outbound) => {
                let timeout = self.timeout(asked_timeout, remaining);
                self.transmit(outbound, timeout)
                    .instrument(span.clone())
                    .await
            }
        };
        {
            let _entered = span.enter();
            self.finish(shown, target, response, &answer, started);
        }
        answer
    }
}

impl BlockHttp {
    /// Logs and records an admitted request's outcome.
    fn finish(
        &self,
        shown: ShownRequest,
        target: String,
        response: Option<ReceivedResponse>,
        answer: &Result<HttpResponse, HttpError>,
        started: Instant,
    ) {
        let duration = started.elapsed();
        let failure = answer.as_ref().err().map(failure_of);
        let status = response.as_ref().map(|response| response.status);
        tracing::info!(
            status,
            duration_ms = duration.as_millis() as u64,
            outcome = failure.as_ref().map_or("answered", |f| f.kind.as_str()),
            "block request"
        );
        self.recorder.record(Exchange {
            request: shown,
            target,
            response,
            failure,
            duration,
        });
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

/// A header value as shown: credentials masked, long values cut.
fn shown_value(name: &str, value: &str) -> String {
    cut(masked_header_value(name, value), KEPT_HEADER_VALUE_BYTES)
}

/// A method as shown: upper case, at most 16 bytes.
fn shown_method(method: &str) -> String {
    cut(method.trim(), 16).to_ascii_uppercase()
}

/// `METHOD scheme://host/path` of a request, for logs and messages:
/// without the query, and bounded (a URL over the cap is only measured).
fn target_of(request: &HttpRequest) -> String {
    let method = shown_method(&request.method);
    let url = without_query(&request.url);
    if url.len() > MAX_URL_BYTES {
        format!("{method} ({}-byte url)", url.len())
    } else {
        format!("{method} {}", url_without_password(url))
    }
}

/// The most bytes of a body an API answer shows.
pub const SHOWN_BODY_BYTES: usize = 64 << 10;

/// A body as text for an API answer: lossy UTF-8, at most
/// [`SHOWN_BODY_BYTES`] (a cut is marked with `…`).
pub fn shown_text(body: &[u8]) -> String {
    text_excerpt(body, SHOWN_BODY_BYTES)
}

/// A body as text: lossy UTF-8, at most `max` bytes of it (a cut is marked
/// with `…`).
pub fn text_excerpt(body: &[u8], max: usize) -> String {
    if body.len() <= max {
        return String::from_utf8_lossy(body).into_owned();
    }
    let mut text = String::from_utf8_lossy(&body[..max]).into_owned();
    text.push('…');
    text
}

/// A URL without its query and fragment: queries carry personal data
/// (`?email=…`), so logs and messages leave them out.
pub fn without_query(url: &str) -> &str {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests;
