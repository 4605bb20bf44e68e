//! The operator's view of delivery: an endpoint's deliveries, one delivery
//! with every attempt, a manual retry, releasing a delivery that holds the
//! ones ordered behind it, and replaying an endpoint's deliveries since a
//! time.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::shared::page_limit;
use crate::delivery::test_send::{self, TestSend};
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::ids::{DeliveryId, EndpointId};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
        .routes(routes!(release_delivery))
        .routes(routes!(replay_endpoint))
        .routes(routes!(test_endpoint))
}

/// Send a sample event to the endpoint now, signed and shaped like a real
/// delivery, and see the request and the response (nothing is stored).
#[utoipa::path(post, path = "/v1/endpoints/{id}/test", tag = "deliveries",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "Sent (its `error` says if nothing came back)", body = TestSend),
        (status = 404, body = ErrorBody)))]
async fn test_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TestSend>> {
    let endpoint_id = endpoint_id(&state, &caller, &id).await?;
    let endpoint = state
        .store
        .endpoint(caller.tenant(), endpoint_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no endpoint `{id}`")))?;
    Ok(Json(
        test_send::send_sample_event(&state.engine, &endpoint).await,
    ))
}

/// The id of the caller's endpoint `id`; 404 when it has none.
async fn endpoint_id(state: &AppState, caller: &Caller, id: &str) -> ApiResult<EndpointId> {
    let not_found = || ApiError::not_found(format!("no endpoint `{id}`"));
    let parsed: EndpointId = id.parse().map_err(|_| not_found())?;
    state
        .store
        .endpoint(caller.tenant(), parsed)
        .await?
        .ok_or_else(not_found)?;
    Ok(parsed)
}

fn parse_id(id: &str) -> ApiResult<DeliveryId> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("no delivery `{id}`")))
}

/// The caller's delivery `id`; 404 when it has none.
async fn lookup(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Delivery> {
    caller.own(state.store.delivery(parse_id(id)?).await?, || {
        ApiError::not_found(format!("no delivery `{id}`"))
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryParams {
    /// Only `pending`, `succeeded` or `failed` ones.
    state: Option<DeliveryState>,
    /// Page size, 1–1000 (default 100).
    limit: Option<usize>,
    /// The last id of the previous page.
    before: Option<DeliveryId>,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/v1/endpoints/{id}/deliveries", tag = "deliveries",
    params(("id" = String, Path, description = "Endpoint id"), DeliveryParams),
    responses((status = 200, body = Vec<Delivery>), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let endpoint = endpoint_id(&state, &caller, &id).await?;
    let limit = page_limit(params.limit)?;
    Ok(Json(
        state
            .store
            .deliveries_of(endpoint, params.state, params.before, limit)
            .await?,
    ))
}

/// A delivery with every attempt.
#[derive(Debug, Serialize, ToSchema)]
struct DeliveryDetail {
    #[serde(flatten)]
    delivery: Delivery,
    /// Every attempt, oldest first: time, duration, request headers (no
    /// secrets), status, response excerpt, error kind.
    attempts: Vec<Attempt>,
}

/// One delivery and its attempts.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries",
    params(("id" = String, Path, description = "Delivery id (`msg_…`, the `webhook-id`)")),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryDetail>> {
    let delivery = lookup(&state, &caller, &id).await?;
    let attempts = state.store.attempts(delivery.id).await?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

/// Retry a delivery now (a failed one, or a pending one waiting for its
/// next attempt). It keeps its `webhook-id`.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = Delivery), (status = 404, body = ErrorBody),
        (status = 409, description = "Already delivered", body = ErrorBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(
        state
            .admin
            .retry_delivery(caller.by(), parse_id(&id)?)
            .await?,
    ))
}

/// Let the deliveries ordered behind a held delivery go: it failed for good
/// on an endpoint ordered with `"after_final_failure": "hold"`, and holds its
/// key's (or the whole endpoint's) later deliveries until released here or
/// retried. It stays failed, and can still be retried by hand.
#[utoipa::path(post, path = "/v1/deliveries/{id}/release", tag = "deliveries",
    params(("id" = String, Path, description = "Delivery id")),
    responses((status = 200, body = Delivery), (status = 404, body = ErrorBody),
        (status = 409, description = "Not holding anything", body = ErrorBody)))]
async fn release_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(
        state
            .admin
            .release_delivery(caller.by(), parse_id(&id)?)
            .await?,
    ))
}

/// Which deliveries to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Replay {
    /// Deliveries of events received at or after this time, epoch ms.
    since: u64,
    /// Only deliveries in this state (default: every state).
    #[serde(default)]
    state: Option<DeliveryState>,
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize, ToSchema)]
struct Replayed {
    /// Deliveries queued again.
    queued: usize,
}

/// Send an endpoint's deliveries since a time again (e.g. after its
/// receiver lost data). They keep their `webhook-id`s.
#[utoipa::path(post, path = "/v1/endpoints/{id}/replay", tag = "deliveries",
    params(("id" = String, Path, description = "Endpoint id")),
    request_body = Replay,
    responses((status = 200, body = Replayed), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn replay_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Replay>,
) -> ApiResult<Json<Replayed>> {
    let endpoint = endpoint_id(&state, &caller, &id).await?;
    let queued = state
        .admin
        .replay_deliveries(caller.by(), endpoint, body.since, body.state)
        .await?;
    Ok(Json(Replayed { queued }))
}
