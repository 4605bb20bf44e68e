//! Outbound HTTP for blocks: the [`HttpHandler`] the embedder supplies (the
//! server applies connectors, allowlists and timeouts there) and the
//! `wasmhook:plugin/http` import that forwards a block's requests to it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse};

use super::activity::CallPhase;
use super::bindings::http;
use super::state::CallState;

/// The answer to one request, as a future: the call waits for it without
/// holding a thread, and its deadline drops it (cancelling the request).
pub type HttpSent<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'a>>;

/// Sends the requests a block makes. `remaining` is the time left before
/// the call's deadline: a handler should not wait longer (at the deadline
/// the call ends and the request is dropped anyway).
pub trait HttpHandler: Send + Sync {
    /// Sends `request` and resolves to the response.
    fn send(&self, request: HttpRequest, remaining: Duration) -> HttpSent<'_>;
}

/// Refuses every request: the default when a call may not reach the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAllHttp;

impl HttpHandler for DenyAllHttp {
    fn send(&self, _request: HttpRequest, _remaining: Duration) -> HttpSent<'_> {
        Box::pin(std::future::ready(Err(HttpError::Refused(
            "outbound HTTP is not allowed for this call".to_owned(),
        ))))
    }
}

impl<T: HttpHandler + ?Sized> HttpHandler for Arc<T> {
    fn send(&self, request: HttpRequest, remaining: Duration) -> HttpSent<'_> {
        (**self).send(request, remaining)
    }
}

impl http::Host for CallState {
    async fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
        let body_len = request.body.as_ref().map_or(0, Vec::len);
        if body_len > self.max_input_bytes {
            return Err(http::HttpError::InvalidRequest(format!(
                "request body of {body_len} bytes is over the {}-byte cap",
                self.max_input_bytes
            )));
        }
        let Some(handler) = self.http.clone() else {
            return Err(HttpError::Refused("outbound HTTP is not available".into()).into());
        };
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(http::HttpError::Timeout);
        }
        let request: HttpRequest = request.into();
        let target = format!(
            "{} {}",
            request.method.trim().to_ascii_uppercase(),
            without_query(&request.url)
        );
        let activity = Arc::clone(&self.activity);
        let _phase = activity.enter(CallPhase::HttpSend { target });
        // The handler is embedder code; a bug in it must not unwind through
        // the guest, so a panic becomes a failed request.
        let sent = futures_catch_unwind(handler.send(request, remaining)).await;
        match sent {
            Some(result) => result.map(Into::into).map_err(Into::into),
            None => Err(http::HttpError::Connection(
                "the host's HTTP handler failed".to_owned(),
            )),
        }
    }
}

/// Awaits `future`, turning a panic inside it into `None`.
async fn futures_catch_unwind<T>(future: impl Future<Output = T>) -> Option<T> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::Poll;
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Some(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    })
    .await
}

/// A URL without its query and fragment (they carry personal data).
fn without_query(url: &str) -> &str {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}
