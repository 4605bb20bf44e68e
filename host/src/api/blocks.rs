//! `/v1/blocks`: workflow webhook blocks (seed 001) — create, list (live or
//! soft-deleted), edit, soft delete and restore. Running them (`invoke`,
//! `test`, `/v1/workflows/run`) is in `invocations`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::shared::{lookup_block, parse_block_name};
use crate::domain::block::{Block, CreateBlock, ReplaceBlock};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_blocks, create_block))
        .routes(routes!(get_block, replace_block, delete_block))
        .routes(routes!(restore_block))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// `true` lists only soft-deleted blocks.
    #[serde(default)]
    deleted: bool,
}

/// List live blocks by name, or with `?deleted=true` only the soft-deleted
/// ones.
#[utoipa::path(get, path = "/v1/blocks", tag = "blocks", params(ListParams),
    responses((status = 200, body = Vec<Block>), (status = 400, body = ErrorBody)))]
async fn list_blocks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Vec<Block>>> {
    let blocks = state
        .store
        .blocks(caller.tenant())
        .await?
        .into_iter()
        .filter(|block| block.is_deleted() == params.deleted)
        .collect();
    Ok(Json(blocks))
}

/// Create a block: its name (the key of its data in templates), plugin
/// (default `http-block`) and the plugin's config.
#[utoipa::path(post, path = "/v1/blocks", tag = "blocks",
    request_body = CreateBlock,
    responses((status = 201, body = Block),
        (status = 409, description = "The name is taken (perhaps by a deleted block)", body = ErrorBody),
        (status = 422, description = "A field is invalid; `detail` names it", body = ErrorBody)))]
async fn create_block(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBlock>,
) -> ApiResult<(StatusCode, Json<Block>)> {
    let block = state.admin.create_block(caller.by(), body).await?;
    Ok((StatusCode::CREATED, Json(block)))
}

/// One block; a soft-deleted one is returned with its `deleted_at`.
#[utoipa::path(get, path = "/v1/blocks/{name}", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    responses((status = 200, body = Block), (status = 404, body = ErrorBody)))]
async fn get_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Block>> {
    Ok(Json(lookup_block(&state, caller.tenant(), &name).await?))
}

/// Replace a block's description, plugin and config (validated as on
/// create). Its name cannot change.
#[utoipa::path(put, path = "/v1/blocks/{name}", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    request_body = ReplaceBlock,
    responses((status = 200, body = Block), (status = 404, body = ErrorBody),
        (status = 409, description = "The block is deleted", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn replace_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ReplaceBlock>,
) -> ApiResult<Json<Block>> {
    let block = state
        .admin
        .replace_block(caller.by(), &parse_block_name(&name)?, body)
        .await?;
    Ok(Json(block))
}

/// Soft-delete a block: it leaves the list, stays readable by name and in
/// `?deleted=true`, and can be restored.
#[utoipa::path(delete, path = "/v1/blocks/{name}", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, description = "Already deleted", body = ErrorBody)))]
async fn delete_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .admin
        .delete_block(caller.by(), &parse_block_name(&name)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a soft-deleted block back.
#[utoipa::path(post, path = "/v1/blocks/{name}/restore", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    responses((status = 200, body = Block), (status = 404, body = ErrorBody),
        (status = 409, description = "The block is not deleted", body = ErrorBody)))]
async fn restore_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Block>> {
    let block = state
        .admin
        .restore_block(caller.by(), &parse_block_name(&name)?)
        .await?;
    Ok(Json(block))
}
