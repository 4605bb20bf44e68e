//! `/v1/events`: publish canonical events directly (one, or a batch stored
//! through the same group commit as vendor callbacks), get one, list them
//! with filters and cursor pagination.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::shared::{Accepted, page_limit};
use crate::domain::event::{CanonicalEvent, EventFilter, PublishEvent};
use crate::ids::EventId;
use crate::ingest::PublishError;
use crate::store::EventPage;

/// The most events one `POST /v1/events` takes.
pub const MAX_PUBLISH_BATCH: usize = 1000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, publish_event))
        .routes(routes!(get_event))
}

/// What `POST /v1/events` takes: one event, or a JSON array of up to
/// [`MAX_PUBLISH_BATCH`] of them. (Describes the body; [`PublishBody`]
/// reads it.)
#[derive(serde::Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "describes the body in the OpenAPI document only")]
enum PublishRequest {
    /// One event.
    One(Box<PublishEvent>),
    /// A batch, stored all or none.
    Batch(Vec<PublishEvent>),
}

/// The body as read: an array is read element by element, so an error names
/// the element (`[3].event_type: …`), and only up to the cap (the rest is
/// skipped and counted).
enum PublishBody {
    One(Box<PublishEvent>),
    Batch(Vec<PublishEvent>),
    /// A batch of this many, over the cap.
    Oversize(usize),
}

impl<'de> Deserialize<'de> for PublishBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PublishBodyVisitor)
    }
}

struct PublishBodyVisitor;

impl<'de> Visitor<'de> for PublishBodyVisitor {
    type Value = PublishBody;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an event object, or an array of event objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PublishBody, A::Error> {
        PublishEvent::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            .map(|event| PublishBody::One(Box::new(event)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PublishBody, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PUBLISH_BATCH));
        while events.len() < MAX_PUBLISH_BATCH {
            match seq.next_element()? {
                Some(event) => events.push(event),
                None => return Ok(PublishBody::Batch(events)),
            }
        }
        let mut count = events.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(if count > MAX_PUBLISH_BATCH {
            PublishBody::Oversize(count)
        } else {
            PublishBody::Batch(events)
        })
    }
}

/// The answer to a publish: for one event, what became of it; for a batch,
/// one such answer per element, in order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
enum Published {
    /// The event published alone.
    One(Accepted),
    /// One per element of the batch, in order.
    Batch(Vec<Accepted>),
}

/// Publish canonical events directly (not from a vendor callback): one event
/// object, or a JSON array of up to 1000 of them (a batch, stored all or
/// none: the first invalid element refuses the whole batch, naming it as
/// `[index]`). Stored durably before the answer; a resend (same source,
/// vendor message id, status and timestamp) is reported as a duplicate. A
/// batch is answered with an array of the answers a single publish gets,
/// in order.
#[utoipa::path(post, path = "/v1/events", tag = "events",
    request_body = PublishRequest,
    responses((status = 202, description = "Stored: for one event its answer, for a batch an array of answers in order", body = Published),
        (status = 400, body = ErrorBody),
        (status = 413, description = "The body is over the size limit, or a batch holds more than 1000 events (`batch_too_large`)", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Names the field at fault, in a batch with its element (`[3].status: …`); an empty batch is `empty_batch`. Nothing was stored", body = ErrorBody)))]
async fn publish_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PublishBody>,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let (events, batch) = match body {
        PublishBody::One(event) => (vec![*event], false),
        PublishBody::Batch(events) if events.is_empty() => {
            return Err(ApiError::invalid(
                "empty_batch",
                "the batch holds no events: send at least one",
            ));
        }
        PublishBody::Batch(events) => (events, true),
        PublishBody::Oversize(count) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!(
                    "a batch holds at most {MAX_PUBLISH_BATCH} events; this one holds {count}: \
                     split it"
                ),
            ));
        }
    };
    let inserted = state
        .ingest
        .publish(caller.tenant(), events)
        .await
        .map_err(|error| match error {
            PublishError::Invalid { index, error } if batch => {
                ApiError::invalid("invalid_field", format!("[{index}].{error}"))
            }
            PublishError::Invalid { error, .. } => {
                ApiError::invalid("invalid_field", error.to_string())
            }
            PublishError::Store(error) => error.into(),
        })?;
    let mut answers = inserted
        .into_iter()
        .map(|inserted| Accepted::new(vec![inserted]));
    let published = match (batch, answers.next()) {
        (false, Some(one)) => Published::One(one),
        (_, first) => Published::Batch(first.into_iter().chain(answers).collect()),
    };
    Ok((StatusCode::ACCEPTED, Json(published)))
}

/// One event.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id (`evt_…`)")),
    responses((status = 200, body = CanonicalEvent), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CanonicalEvent>> {
    let not_found = || ApiError::not_found(format!("no event `{id}`"));
    let event_id: EventId = id.parse().map_err(|_| not_found())?;
    state
        .store
        .event(caller.tenant(), event_id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// Events, newest first, filtered; follow `next_cursor` for the next page.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventFilter),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
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
    Ok(Json(
        state
            .store
            .list_events(caller.tenant(), &filter, limit)
            .await?,
    ))
}
