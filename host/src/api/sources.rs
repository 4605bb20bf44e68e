//! `/v1/sources`: where vendor callbacks come in (CRUD), each source's
//! rejected callbacks with their retry (run by the ingest service), and the
//! accepted callbacks it keeps for replays.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::shared::{Accepted, page_limit};
use crate::domain::Name;
use crate::domain::rejected::{KeptCallback, RejectedCallback, RejectedState};
use crate::domain::source::{CreateSource, Source, SourceView, UpdateSource};
use crate::ids::CallbackId;
use crate::ingest::RetryError;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(list_rejected))
        .routes(routes!(retry_rejected))
        .routes(routes!(list_kept_callbacks))
}

/// The caller's source `name`; 404 when it has none.
fn lookup(state: &AppState, caller: &Caller, name: &str) -> ApiResult<Source> {
    state
        .store
        .tenant_source(caller.tenant(), name)
        .map(|source| Source::clone(&source))
        .ok_or_else(|| ApiError::not_found(format!("no source named `{name}`")))
}

/// List sources.
#[utoipa::path(get, path = "/v1/sources", tag = "sources",
    responses((status = 200, body = Vec<SourceView>), (status = 401, body = ErrorBody)))]
async fn list_sources(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<SourceView>>> {
    Ok(Json(
        state
            .store
            .sources(caller.tenant())
            .await?
            .iter()
            .map(SourceView::from)
            .collect(),
    ))
}

/// Connect a vendor: a source with its mapper, config and ingest token.
#[utoipa::path(post, path = "/v1/sources", tag = "sources",
    request_body = CreateSource,
    responses((status = 201, body = SourceView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_source(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<(StatusCode, Json<SourceView>)> {
    let source = state.admin.create_source(caller.by(), body).await?;
    Ok((StatusCode::CREATED, Json(SourceView::from(&source))))
}

/// One source.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Source name")),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody)))]
async fn get_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(SourceView::from(&lookup(&state, &caller, &name)?)))
}

/// Change a source; only the fields given change.
#[utoipa::path(patch, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Source name")),
    request_body = UpdateSource,
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateSource>,
) -> ApiResult<Json<SourceView>> {
    let source = state.admin.update_source(caller.by(), &name, body).await?;
    Ok(Json(SourceView::from(&source)))
}

/// Delete a source. Its events stay.
#[utoipa::path(delete, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Source name")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name: Name = name
        .parse()
        .map_err(|_| ApiError::not_found(format!("no source named `{name}`")))?;
    state.admin.delete_source(caller.by(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RejectedParams {
    /// Only `pending` or only `resolved` ones.
    state: Option<RejectedState>,
    /// At most this many (1–1000, default 100).
    limit: Option<usize>,
}

/// A source's rejected callbacks, newest first.
#[utoipa::path(get, path = "/v1/sources/{name}/rejected", tag = "sources",
    params(("name" = String, Path, description = "Source name"), RejectedParams),
    responses((status = 200, body = Vec<RejectedCallback>), (status = 404, body = ErrorBody)))]
async fn list_rejected(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<RejectedParams>,
) -> ApiResult<Json<Vec<RejectedCallback>>> {
    lookup(&state, &caller, &name)?;
    let limit = page_limit(params.limit)?;
    Ok(Json(
        state
            .store
            .rejected_of(caller.tenant(), &name, params.state, limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KeptParams {
    /// Only those that arrived at or after this time (epoch ms).
    since: Option<u64>,
    /// Only those older than this one (`cb_…`): the previous page's
    /// `next_cursor`.
    cursor: Option<String>,
    /// At most this many (1–1000, default 100).
    limit: Option<usize>,
}

/// One page of kept callbacks.
#[derive(Debug, Serialize, ToSchema)]
struct KeptPage {
    /// The callbacks, newest first.
    data: Vec<KeptCallback>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<CallbackId>,
}

/// A source's accepted callbacks, kept whole with the ids of the events
/// they became for the server's callback retention
/// (`--callback-retention-hours`), newest first: what `wasmhook plugin
/// replay` runs a new build of the mapper over.
#[utoipa::path(get, path = "/v1/sources/{name}/callbacks", tag = "sources",
    params(("name" = String, Path, description = "Source name"), KeptParams),
    responses((status = 200, body = KeptPage), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_kept_callbacks(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<KeptParams>,
) -> ApiResult<Json<KeptPage>> {
    lookup(&state, &caller, &name)?;
    let limit = page_limit(params.limit)?;
    let before = match &params.cursor {
        Some(cursor) => Some(cursor.parse::<CallbackId>().map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                format!("cursor: `{cursor}` is not a kept callback id (`cb_…`)"),
            )
        })?),
        None => None,
    };
    let data = state
        .store
        .kept_callbacks_of(
            caller.tenant(),
            &name,
            params.since.unwrap_or(0),
            before,
            limit,
        )
        .await?;
    let next_cursor = if data.len() == limit {
        data.last().map(|kept| kept.id)
    } else {
        None
    };
    Ok(Json(KeptPage { data, next_cursor }))
}

/// The result of a successful retry.
#[derive(Debug, Serialize, ToSchema)]
struct Retried {
    /// The rejected callback, now resolved.
    rejected: RejectedCallback,
    /// The events it mapped to.
    #[serde(flatten)]
    accepted: Accepted,
}

/// Re-run a rejected callback through the source's active mapper (e.g. after
/// activating a fixed version). On success its events are stored and it is
/// marked resolved; on failure the new error is recorded and returned.
#[utoipa::path(post, path = "/v1/sources/{name}/rejected/{id}/retry", tag = "sources",
    params(("name" = String, Path, description = "Source name"), ("id" = String, Path, description = "Rejected callback id")),
    responses((status = 200, body = Retried), (status = 404, body = ErrorBody),
        (status = 409, description = "Already resolved", body = ErrorBody),
        (status = 422, description = "The mapper still fails", body = ErrorBody)))]
async fn retry_rejected(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Retried>> {
    let retried = state
        .ingest
        .retry_rejected(caller.tenant(), &name, &id)
        .await
        .map_err(|error| match error {
            RetryError::NoSource(_) | RetryError::NoRejected { .. } => {
                ApiError::not_found(error.to_string())
            }
            RetryError::AlreadyResolved(_) => ApiError::conflict(error.to_string()),
            RetryError::StillFails { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "retry_failed",
                error.to_string(),
            ),
            RetryError::Unreadable { .. } => ApiError::internal(&error),
            RetryError::Ingest(error) => error.into(),
            RetryError::Store(error) => error.into(),
        })?;
    Ok(Json(Retried {
        rejected: retried.rejected,
        accepted: Accepted::new(retried.inserted),
    }))
}
