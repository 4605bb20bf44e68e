//! Real outbound HTTP for `plugin run --allow-http`: a reqwest client with
//! no redirects, bounded by the call's remaining time and a
//! response size cap. Connectors do not exist outside the server, so a request
//! naming one is refused.

use std::time::Duration;

use wasmhook_sdk::{HttpError, HttpRequest, HttpResponse};

use crate::runtime::{HttpHandler, HttpSent};

/// The most response body bytes handed to the plugin.
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// Sends a block's requests for real.
pub(super) struct ReqwestHttp {
    client: Result<reqwest::Client, String>,
}

impl ReqwestHttp {
    pub(super) fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|error| error.to_string());
        ReqwestHttp { client }
    }
}

impl HttpHandler for ReqwestHttp {
    fn send(&self, request: HttpRequest, remaining: Duration) -> HttpSent<'_> {
        Box::pin(self.exchange(request, remaining))
    }
}

impl ReqwestHttp {
    async fn exchange(
        &self,
        request: HttpRequest,
        remaining: Duration,
    ) -> Result<HttpResponse, HttpError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| HttpError::Refused(e.clone()))?;
        if let Some(connector) = &request.connector {
            return Err(HttpError::Refused(format!(
                "connector `{connector}` is not available in `plugin run`"
            )));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("bad method `{}`", request.method)))?;
        let url = reqwest::Url::parse(&request.url)
            .map_err(|error| HttpError::InvalidRequest(format!("bad url: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::InvalidRequest(format!(
                "scheme `{}` is not http or https",
                url.scheme()
            )));
        }
        let timeout = request.timeout_ms.map_or(remaining, |ms| {
            remaining.min(Duration::from_millis(ms.into()))
        });
        let mut builder = client.request(method, url).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(send_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| HttpError::Connection(error.to_string()))?
        {
            if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
                return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn send_error(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_builder() || error.is_request() && !error.is_connect() {
        HttpError::InvalidRequest(error.to_string())
    } else {
        HttpError::Connection(error.to_string())
    }
}
