//! `/v1/events`: publish a canonical event directly, get one, list them with
//! filters and cursor pagination.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::ingest::Accepted;
use super::sources::page_limit;
use crate::domain::event::{CanonicalEvent, EventFilter, PublishEvent};
use crate::ids::{EventId, now_ms};
use crate::store::EventPage;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, publish_event))
        .routes(routes!(get_event))
}

/// Publish a canonical event directly (not from a vendor callback). Stored
/// durably before the answer; a resend (same source, vendor message id,
/// status and timestamp) is reported as a duplicate.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    request_body = PublishEvent,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "Names the field at fault", body = ErrorBody)))]
async fn publish_event(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PublishEvent>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let now = now_ms();
    let event = body
        .into_event(EventId::new(now), now)
        .map_err(|error| ApiError::invalid("invalid_field", error.to_string()))?;
    let inserted = state.store.insert_events(std::slice::from_ref(&event))?;
    state.store.durable().await?;
    state.engine.wake();
    Ok((StatusCode::ACCEPTED, Json(Accepted::new(inserted))))
}

/// One event.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id (`evt_…`)")),
    responses((status = 200, body = CanonicalEvent), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CanonicalEvent>> {
    let not_found = || ApiError::not_found(format!("no event `{id}`"));
    let event_id: EventId = id.parse().map_err(|_| not_found())?;
    state.store.event(event_id)?.map(Json).ok_or_else(not_found)
}

/// Events, newest first, filtered; follow `next_cursor` for the next page.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventFilter),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<EventFilter>,
) -> ApiResult<Json<EventPage>> {
    let limit = page_limit(filter.limit)?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "since: must be before until",
        ));
    }
    Ok(Json(state.store.list_events(&filter, limit)?))
}
