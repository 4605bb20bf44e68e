//! One delivery attempt: prepare the request (render, build, sign), send
//! it, log the attempt, and decide what comes next (done, retry later, give
//! up, disable the endpoint on 410) from how it went, as an
//! [`AttemptOutcome`].

use std::time::{Duration, Instant};

use super::engine::{DeliveryEngine, EndpointSlot};
use super::prepare::{PrepareError, prepare};
use super::request::{Built, EventJson};
use super::retry::{AttemptOutcome, Jitter, LastAttempt, NextStep, next_step};
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, OrderingMode};
use crate::outbound::retry_after;
use crate::store::Due;
use crate::telemetry;

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
    let Some(mut delivery) = store.delivery(due.id).await? else {
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
    let (outcome, retry_after) = match prepare_attempt(engine, &delivery, endpoint).await {
        Err(failure) => {
            slot.not_sent();
            attempt.error_kind = Some(failure.kind().to_owned());
            attempt.error = Some(failure.to_string());
            (AttemptOutcome::from(&failure), None)
        }
        Ok(built) => {
            attempt.request = Some(built.shown);
            let sent = engine.outbound.send(built.request).await;
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
                }
                Err(error) => {
                    attempt.error_kind = Some(error.kind().to_owned());
                    attempt.error = Some(error.to_string());
                    (AttemptOutcome::from(&error), None)
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
    attempt.duration_ms = clock_start.elapsed().as_millis() as u64;
    telemetry::delivery_attempt(
        endpoint.tenant.as_str(),
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
    telemetry::delivery_outcome(
        endpoint.tenant.as_str(),
        &endpoint.id.to_string(),
        delivery.state,
    );
    store
        .commit_attempt(&delivery, &attempt, previous_due)
        .await?;
    if disable {
        disable_endpoint(engine, endpoint).await?;
    }
    Ok(())
}

/// Loads the delivery's event and prepares its request.
async fn prepare_attempt(
    engine: &DeliveryEngine,
    delivery: &Delivery,
    endpoint: &Endpoint,
) -> Result<Built, PrepareError> {
    let event = engine
        .store
        .event_json(delivery.event)
        .await?
        .map(EventJson::from_text)
        .ok_or(PrepareError::EventMissing(delivery.event))?;
    prepare(engine, endpoint, &event, delivery.id, engine.clock.now_ms()).await
}

async fn disable_endpoint(
    engine: &DeliveryEngine,
    endpoint: &Endpoint,
) -> Result<(), crate::store::StoreError> {
    if engine
        .store
        .disable_endpoint(endpoint.id, engine.clock.now_ms())
        .await?
    {
        tracing::warn!(endpoint = %endpoint.id, "endpoint answered 410 Gone; disabled");
    }
    Ok(())
}
