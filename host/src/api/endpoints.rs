//! `/v1/endpoints`: subscriber endpoints (CRUD), their signing secret and
//! its rotation. Configuration only; deliveries are the delivery engine's.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery, decode_json, read_body};
use crate::domain::endpoint::{
    CreateEndpoint, Endpoint, EndpointView, SigningSecret, UpdateEndpoint,
};
use crate::ids::{EndpointId, now_ms};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
}

/// A new endpoint, with its signing secret (shown here and by
/// `GET …/secret` only).
#[derive(Debug, Serialize, ToSchema)]
struct EndpointCreated {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// The signing secret (`whsec_…`) receivers verify with.
    secret: String,
}

/// An earlier secret still valid after a rotation.
#[derive(Debug, Serialize, ToSchema)]
struct PreviousSecretInfo {
    /// Epoch ms when it stops signing.
    expires_at: u64,
}

/// An endpoint's signing secret.
#[derive(Debug, Serialize, ToSchema)]
struct EndpointSecret {
    /// The current secret (`whsec_…`).
    secret: String,
    /// Earlier secrets deliveries are still signed with, until they expire.
    previous: Vec<PreviousSecretInfo>,
}

impl EndpointSecret {
    fn of(endpoint: &Endpoint, now_ms: u64) -> Self {
        EndpointSecret {
            secret: endpoint.signing_secret.expose().to_owned(),
            previous: endpoint
                .previous_secrets
                .iter()
                .filter(|previous| previous.expires_at > now_ms)
                .map(|previous| PreviousSecretInfo {
                    expires_at: previous.expires_at,
                })
                .collect(),
        }
    }
}

/// What `POST …/rotate-secret` takes; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateSecret {
    /// How long the current secret stays valid, seconds (default 86400,
    /// at most 604800; 0 ends it at once).
    #[serde(default)]
    grace_period_secs: Option<u64>,
    /// The new secret; generated when absent.
    #[serde(default)]
    secret: Option<SigningSecret>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no endpoint `{id}`"))
}

fn parse_id(id: &str) -> ApiResult<EndpointId> {
    id.parse().map_err(|_| not_found(id))
}

/// The caller's endpoint `id`; 404 when it has none.
async fn lookup(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Endpoint> {
    state
        .store
        .endpoint(caller.tenant(), parse_id(id)?)
        .await?
        .ok_or_else(|| not_found(id))
}

/// List endpoints, oldest first.
#[utoipa::path(get, path = "/v1/endpoints", tag = "endpoints",
    responses((status = 200, body = Vec<EndpointView>), (status = 401, body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<EndpointView>>> {
    Ok(Json(
        state
            .store
            .endpoints(caller.tenant())
            .await?
            .iter()
            .map(EndpointView::from)
            .collect(),
    ))
}

/// `?verify=true` on create and update.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct VerifyParams {
    /// Send a GET to the URL first and refuse the change unless it answers
    /// 2xx (seed 001's check when a URL is saved).
    #[serde(default)]
    verify: bool,
}

/// The verification GET: a 422 naming the status or error when it fails.
async fn verify(state: &AppState, url: &crate::domain::endpoint::EndpointUrl) -> ApiResult<()> {
    crate::delivery::test_send::verify_url(&state.engine, url.as_url())
        .await
        .map(|_| ())
        .map_err(|error| {
            ApiError::invalid(
                "verification_failed",
                format!(
                    "url: the verification GET failed: {} ({})",
                    error.detail, error.kind
                ),
            )
        })
}

/// Create an endpoint. The response carries its signing secret.
#[utoipa::path(post, path = "/v1/endpoints", tag = "endpoints",
    params(VerifyParams),
    request_body = CreateEndpoint,
    responses((status = 201, body = EndpointCreated),
        (status = 422, description = "A field is invalid; `detail` names it", body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<VerifyParams>,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointCreated>)> {
    let (config, secret) = body.into_config();
    if params.verify {
        verify(&state, &config.url).await?;
    }
    let endpoint = state
        .admin
        .create_endpoint(caller.by(), config, secret)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointCreated {
            endpoint: EndpointView::from(&endpoint),
            secret: endpoint.signing_secret.expose().to_owned(),
        }),
    ))
}

/// One endpoint (without its secret).
#[utoipa::path(get, path = "/v1/endpoints/{id}", tag = "endpoints",
    params(("id" = String, Path, description = "Endpoint id (`ep_…`)")),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    Ok(Json(EndpointView::from(
        &lookup(&state, &caller, &id).await?,
    )))
}

/// Change an endpoint; only the fields given change.
#[utoipa::path(patch, path = "/v1/endpoints/{id}", tag = "endpoints",
    params(("id" = String, Path, description = "Endpoint id (`ep_…`)"), VerifyParams),
    request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody),
        (status = 422, description = "A field is invalid; `detail` names it", body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<VerifyParams>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    if params.verify {
        let mut preview = lookup(&state, &caller, &id).await?;
        preview.config.apply(body.clone());
        verify(&state, &preview.config.url).await?;
    }
    let endpoint = state
        .admin
        .update_endpoint(caller.by(), parse_id(&id)?, body)
        .await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

/// Delete an endpoint.
#[utoipa::path(delete, path = "/v1/endpoints/{id}", tag = "endpoints",
    params(("id" = String, Path, description = "Endpoint id (`ep_…`)")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .admin
        .delete_endpoint(caller.by(), parse_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's signing secret, and until when earlier ones stay valid.
#[utoipa::path(get, path = "/v1/endpoints/{id}/secret", tag = "endpoints",
    params(("id" = String, Path, description = "Endpoint id (`ep_…`)")),
    responses((status = 200, body = EndpointSecret), (status = 404, body = ErrorBody)))]
async fn get_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointSecret>> {
    let endpoint = lookup(&state, &caller, &id).await?;
    Ok(Json(EndpointSecret::of(&endpoint, now_ms())))
}

/// Make a new signing secret current. Deliveries stay signed with the old
/// one too until the grace period ends, so receivers can switch over.
#[utoipa::path(post, path = "/v1/endpoints/{id}/rotate-secret", tag = "endpoints",
    params(("id" = String, Path, description = "Endpoint id (`ep_…`)")),
    request_body(content = Option<RotateSecret>, description = "Optional; `{}` or no body for the defaults"),
    responses((status = 200, body = EndpointSecret), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<Json<EndpointSecret>> {
    let bytes = read_body(request, &()).await?;
    let body: RotateSecret = if bytes.iter().all(u8::is_ascii_whitespace) {
        RotateSecret::default()
    } else {
        decode_json(&bytes)?
    };
    let endpoint = state
        .admin
        .rotate_endpoint_secret(
            caller.by(),
            parse_id(&id)?,
            body.grace_period_secs,
            body.secret,
        )
        .await?;
    Ok(Json(EndpointSecret::of(&endpoint, now_ms())))
}
