//! Outbound HTTP for blocks: the [`HttpHandler`] the embedder supplies (the
//! server applies connectors, allowlists and timeouts there) and the
//! `wasmhook:plugin/http` import that forwards a block's requests to it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse};

use super::bindings::http;
use super::state::CallState;

/// Sends the requests a block makes. Called on the plugin call's thread, so
/// it blocks; `remaining` is the time left before the call's deadline, and a
/// handler should not wait longer than that (the guest is interrupted at the
/// deadline anyway once the handler returns).
pub trait HttpHandler: Send + Sync {
    /// Sends `request` and waits for the response.
    fn send(&self, request: HttpRequest, remaining: Duration) -> Result<HttpResponse, HttpError>;
}

/// Refuses every request: the default when a call may not reach the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAllHttp;

impl HttpHandler for DenyAllHttp {
    fn send(&self, _request: HttpRequest, _remaining: Duration) -> Result<HttpResponse, HttpError> {
        Err(HttpError::Refused(
            "outbound HTTP is not allowed for this call".to_owned(),
        ))
    }
}

impl<T: HttpHandler + ?Sized> HttpHandler for Arc<T> {
    fn send(&self, request: HttpRequest, remaining: Duration) -> Result<HttpResponse, HttpError> {
        (**self).send(request, remaining)
    }
}

impl http::Host for CallState {
    fn send(&mut self, request: http::Request) -> Result<http::Response, http::HttpError> {
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
        // The handler is embedder code; a bug in it must not unwind through
        // the guest, so a panic becomes a failed request.
        let sent =
            std::panic::catch_unwind(AssertUnwindSafe(|| handler.send(request.into(), remaining)));
        match sent {
            Ok(result) => result.map(Into::into).map_err(Into::into),
            Err(_) => Err(http::HttpError::Connection(
                "the host's HTTP handler failed".to_owned(),
            )),
        }
    }
}
