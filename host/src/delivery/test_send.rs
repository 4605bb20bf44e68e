//! Requests an operator asks for by hand: "Test webhook" (seed 002) sends a
//! sample event to an endpoint now, prepared exactly like a delivery's
//! ([`prepare`]), and returns what was sent and what came back; the
//! verification GET (seed 001) checks that a URL answers before it is
//! saved. (The answer's types keep their `Probe…` names: they are the API's
//! schema names.)

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::engine::DeliveryEngine;
use super::prepare::prepare;
use super::request::EventJson;
use crate::domain::delivery::SentRequest;
use crate::domain::endpoint::Endpoint;
use crate::ids::{DeliveryId, EventId};
use crate::outbound::OutboundRequest;

/// What came back from a test send or URL verification.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbeResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The start of the body, as text.
    pub body: String,
    /// Whether the body went on past what is shown.
    pub truncated: bool,
    /// Round trip, ms.
    pub duration_ms: u64,
}

/// Why a test send or URL verification got no response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProbeError {
    /// `refused_target`, `timeout`, `connect`, `render_failed`, …
    pub kind: String,
    /// What happened.
    pub detail: String,
}

/// A test send: the request and its response or error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestSend {
    /// The sample event sent.
    pub event: serde_json::Value,
    /// The request, credentials masked.
    pub request: Option<SentRequest>,
    /// What came back.
    pub response: Option<ProbeResponse>,
    /// Why nothing came back.
    pub error: Option<ProbeError>,
}

fn sample_event(now_ms: u64) -> serde_json::Value {
    json!({
        "id": EventId::new(now_ms).to_string(),
        "version": crate::domain::event::EVENT_VERSION,
        "event_type": "status",
        "channel": "sms",
        "channel_value": "+15555550100",
        "distinct_id": null,
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": now_ms,
                   "error_code": null, "description": null, "hard_bounce": null},
        "inbound_message": null,
        "reference": {"vendor_message_id": "wasmhook-test-message", "idempotency_key": null},
        "vendor_name": "wasmhook",
        "source": "wasmhook-test",
        "received_at": now_ms,
        "vendor_response": null
    })
}

/// Sends a sample event to `endpoint` now, as a delivery would.
pub async fn send_sample_event(engine: &DeliveryEngine, endpoint: &Endpoint) -> TestSend {
    let now = engine.clock.now_ms();
    let event = sample_event(now);
    let mut result = TestSend {
        event: event.clone(),
        request: None,
        response: None,
        error: None,
    };
    let event_json = EventJson::from_value(event.clone());
    let built = match prepare(engine, endpoint, &event_json, DeliveryId::new(now), now).await {
        Ok(built) => built,
        Err(error) => {
            result.error = Some(ProbeError {
                kind: error.kind().into(),
                detail: error.to_string(),
            });
            return result;
        }
    };
    result.request = Some(built.shown);
    match send(engine, built.request).await {
        Ok(response) => result.response = Some(response),
        Err(error) => result.error = Some(error),
    }
    result
}

/// Sends a plain GET to `url`: the check an endpoint's URL passes before it
/// is saved (any 2xx).
pub async fn verify_url(
    engine: &DeliveryEngine,
    url: &url::Url,
) -> Result<ProbeResponse, ProbeError> {
    let mut request = OutboundRequest::new(reqwest::Method::GET, url.clone());
    request.timeout = Some(engine.config.attempt_timeout);
    let response = send(engine, request).await?;
    if (200..300).contains(&response.status) {
        Ok(response)
    } else {
        Err(ProbeError {
            kind: "http_status".into(),
            detail: format!("GET {url} answered {}", response.status),
        })
    }
}

async fn send(
    engine: &DeliveryEngine,
    request: OutboundRequest,
) -> Result<ProbeResponse, ProbeError> {
    engine
        .outbound
        .send(request)
        .await
        .map(|response| ProbeResponse {
            status: response.status,
            headers: response.headers,
            body: String::from_utf8_lossy(&response.body_excerpt).into_owned(),
            truncated: response.truncated,
            duration_ms: response.duration.as_millis() as u64,
        })
        .map_err(|error| ProbeError {
            kind: error.kind().to_owned(),
            detail: error.to_string(),
        })
}
