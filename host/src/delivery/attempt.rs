//! One delivery attempt: render the body with the endpoint's renderer,
//! build and sign the request, send it, log the attempt, and decide what
//! comes next (done, retry later, give up, disable the endpoint on 410).

use std::time::{Duration, Instant};

use wasmhook_sdk::BodyFormat;

use super::engine::{DeliveryEngine, EndpointSlot};
use super::outbound::{OutboundError, retry_after};
use super::request::{self, Body, EventJson};
use super::retry::{AttemptOutcome, Jitter, LastAttempt, NextStep, next_step};
use crate::domain::Name;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{DEFAULT_RENDERER, Endpoint, HttpMethod, OrderingMode};
use crate::runtime::Lane;
use crate::store::Due;
use crate::telemetry;

/// The renderer GET endpoints fall back to when they keep the default JSON
/// one: GET sends the fields in the query string, which needs a form body.
const FORM_RENDERER: &str = "form-renderer";

/// Runs one attempt of `due` to `endpoint` and records it. Failures are
/// logged in the attempt, never returned.
pub(super) async fn run(
    engine: &DeliveryEngine,
    due: Due,
    endpoint: &Endpoint,
    slot: &mut EndpointSlot<'_>,
) {
    if let Err(error) = attempt(engine, due, endpoint, slot).await {
        tracing::error!(delivery = %due.id, %error, "recording a delivery attempt failed");
    }
}

async fn attempt(
    engine: &DeliveryEngine,
    due: Due,
    endpoint: &Endpoint,
    slot: &mut EndpointSlot<'_>,
) -> Result<(), crate::store::StoreError> {
    let store = &engine.store;
    let Some(mut delivery) = store.delivery(due.id)? else {
        slot.not_sent();
        return Ok(());
    };
    if delivery.state != DeliveryState::Pending || delivery.next_attempt_at != Some(due.at_ms) {
        // Someone (a manual retry, a replay) changed it since it was due.
        slot.not_sent();
        return Ok(());
    }
    let started_at = engine.clock.now_ms();
    let clock_start = Instant::now();
    let number = delivery.attempts + 1;
    let mut attempt = Attempt {
        number,
        started_at,
        duration_ms: 0,
        request: None,
        status: None,
        response_excerpt: None,
        error_kind: None,
        error: None,
    };
    let outcome = match prepare(engine, &delivery, endpoint).await {
        Err(failure) => {
            slot.not_sent();
            attempt.error_kind = Some(failure.kind.to_owned());
            attempt.error = Some(failure.detail);
            failure.outcome
        }
        Ok(built) => {
            attempt.request = Some(built.shown);
            let mut request = built.request;
            request.timeout = Some(engine.config.attempt_timeout);
            let sent = engine.outbound.send(request).await;
            slot.answered();
            match sent {
                Ok(response) => {
                    attempt.status = Some(response.status);
                    attempt.response_excerpt =
                        Some(String::from_utf8_lossy(&response.body_excerpt).into_owned());
                    if !(200..300).contains(&response.status) {
                        attempt.error_kind = Some("http_status".into());
                        attempt.error = Some(format!("the endpoint answered {}", response.status));
                    }
                    (
                        AttemptOutcome::Status(response.status),
                        retry_after(&response),
                    )
                        .into()
                }
                Err(error) => {
                    attempt.error_kind = Some(error.kind().to_owned());
                    attempt.error = Some(error.to_string());
                    transport_outcome(&error).into()
                }
            }
        }
    };
    // The receiver is done with this request; with the endpoint ordered as
    // a whole the next one must wait until this one is recorded, so the
    // slot stays taken. (With `key`, the next of this key is not due until
    // this one is recorded.)
    if endpoint.config.ordering.mode != OrderingMode::Endpoint {
        slot.release();
    }
    let Outcome {
        outcome,
        retry_after,
    } = outcome;
    attempt.duration_ms = clock_start.elapsed().as_millis() as u64;
    telemetry::delivery_attempt(
        &endpoint.id.to_string(),
        Duration::from_millis(attempt.duration_ms),
        attempt.succeeded(),
    );

    let now = engine.clock.now_ms();
    let last = LastAttempt {
        outcome,
        retry_after,
        attempts_made: number,
        age: Duration::from_millis(now.saturating_sub(delivery.created_at)),
    };
    let previous_due = delivery.next_attempt_at;
    delivery.attempts = number;
    delivery.updated_at = now;
    delivery.last_status = attempt.status;
    delivery.last_error = attempt.error.as_ref().map(|error| {
        format!(
            "{}: {error}",
            attempt.error_kind.as_deref().unwrap_or("error")
        )
    });
    let mut disable = false;
    match next_step(&endpoint.config.retry, &last, Jitter::random()) {
        NextStep::Delivered => {
            delivery.state = DeliveryState::Succeeded;
            delivery.next_attempt_at = None;
        }
        NextStep::Retry { after } => {
            delivery.next_attempt_at = Some(now + after.as_millis() as u64);
        }
        NextStep::GiveUp { reason } => {
            delivery.state = DeliveryState::Failed;
            delivery.next_attempt_at = None;
            // With `hold`, the ones ordered behind it (the endpoint's, or
            // its key's) wait until an operator retries or releases it.
            let ordering = &endpoint.config.ordering;
            delivery.held = ordering.holds_after_final_failure()
                && (ordering.mode == OrderingMode::Endpoint || delivery.ordering_key.is_some());
            delivery.last_error = Some(format!(
                "{} ({})",
                delivery.last_error.unwrap_or_default(),
                reason.as_str()
            ));
        }
        NextStep::DisableEndpoint => {
            // 410 Gone: the delivery waits with the others until an
            // operator enables the endpoint again.
            delivery.next_attempt_at = Some(now);
            disable = true;
        }
    }
    telemetry::delivery_outcome(&endpoint.id.to_string(), delivery.state);
    store
        .commit_attempt(&delivery, &attempt, previous_due)
        .await?;
    if disable {
        disable_endpoint(engine, endpoint)?;
    }
    Ok(())
}

/// The outcome and `Retry-After` of an attempt, for the retry decision.
struct Outcome {
    outcome: AttemptOutcome,
    retry_after: Option<Duration>,
}

impl From<(AttemptOutcome, Option<Duration>)> for Outcome {
    fn from((outcome, retry_after): (AttemptOutcome, Option<Duration>)) -> Self {
        Outcome {
            outcome,
            retry_after,
        }
    }
}

impl From<AttemptOutcome> for Outcome {
    fn from(outcome: AttemptOutcome) -> Self {
        Outcome {
            outcome,
            retry_after: None,
        }
    }
}

fn transport_outcome(error: &OutboundError) -> AttemptOutcome {
    match error.kind() {
        "timeout" => AttemptOutcome::Timeout,
        "refused_target" => AttemptOutcome::TargetRefused,
        _ => AttemptOutcome::Connection,
    }
}

/// Why no request went out.
struct PrepareFailure {
    kind: &'static str,
    detail: String,
    outcome: Outcome,
}

/// Loads the event and connector, renders the body and builds the request.
async fn prepare(
    engine: &DeliveryEngine,
    delivery: &Delivery,
    endpoint: &Endpoint,
) -> Result<request::Built, PrepareFailure> {
    let fail = |kind: &'static str, detail: String| PrepareFailure {
        kind,
        detail,
        outcome: AttemptOutcome::RenderFailed.into(),
    };
    let store_error = |error: crate::store::StoreError| fail("store", error.to_string());
    let event = engine
        .store
        .event_json(delivery.event)
        .map_err(store_error)?
        .map(EventJson::from_text)
        .ok_or_else(|| {
            fail(
                "event_missing",
                format!("event {} is not stored", delivery.event),
            )
        })?;
    let connector = match endpoint.config.connector {
        None => None,
        Some(id) => Some(
            engine
                .store
                .connector(id)
                .map_err(store_error)?
                .ok_or_else(|| {
                    fail(
                        "connector_missing",
                        format!("connector {id} does not exist"),
                    )
                })?,
        ),
    };
    let body = render(engine, endpoint, &event)
        .await
        .map_err(|detail| fail("render_failed", detail))?;
    request::build(
        endpoint,
        connector.as_ref(),
        &event,
        body,
        delivery.id,
        engine.clock.now_ms(),
    )
    .map_err(|error| fail("bad_request", error.to_string()))
}

/// Renders the body with the endpoint's renderer (a form renderer for GET
/// endpoints that kept the JSON default).
pub(super) async fn render(
    engine: &DeliveryEngine,
    endpoint: &Endpoint,
    event: &EventJson,
) -> Result<Body, String> {
    let spec = &endpoint.config.renderer;
    let is_get = endpoint.config.method == HttpMethod::Get;
    let (plugin_name, format) =
        if is_get && spec.plugin.as_str() == DEFAULT_RENDERER && spec.format != BodyFormat::Form {
            (
                FORM_RENDERER.parse::<Name>().map_err(|e| e.to_string())?,
                BodyFormat::Form,
            )
        } else {
            (spec.plugin.clone(), spec.format)
        };
    let loaded = engine
        .registry
        .active_async(&plugin_name)
        .await
        .map_err(|error| error.to_string())?;
    let template = spec.template.clone();
    // The event's JSON goes to the renderer as stored: no parse, no copy
    // of a parsed value, no writing it out again.
    let data_json = event.text().to_owned();
    // Each endpoint's renders are a lane of their own: a slow template on
    // one endpoint delays only that endpoint's deliveries.
    let lane = Lane::new(format!("endpoint:{}", endpoint.id));
    let outcome = loaded
        .plugin
        .render_json_async(&lane, template, format, data_json, "{}".to_owned())
        .await;
    telemetry::plugin_call(
        plugin_name.as_str(),
        outcome.stats.duration,
        outcome.result.as_ref().err(),
    );
    let rendered = outcome.result.map_err(|error| error.to_string())?;
    if is_get
        && !rendered
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    {
        return Err(format!(
            "GET endpoints send the rendered fields in the query string, so the renderer must produce a form body; `{plugin_name}` produced `{}`",
            rendered.content_type
        ));
    }
    Ok(Body {
        content_type: rendered.content_type,
        bytes: rendered.body,
    })
}

fn disable_endpoint(
    engine: &DeliveryEngine,
    endpoint: &Endpoint,
) -> Result<(), crate::store::StoreError> {
    if engine
        .store
        .disable_endpoint(endpoint.id, engine.clock.now_ms())?
    {
        tracing::warn!(endpoint = %endpoint.id, "endpoint answered 410 Gone; disabled");
    }
    Ok(())
}
