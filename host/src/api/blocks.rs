//! `/v1/blocks`: workflow webhook blocks (seed 001) — create, list (live or
//! soft-deleted), edit, soft delete and restore. Running them (`invoke`,
//! `test`, `/v1/workflows/run`) is in `block_runs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use crate::domain::Name;
use crate::domain::block::{self, Block, BlockName, CreateBlock, ReplaceBlock};
use crate::domain::plugin::PluginWorld;
use crate::ids::now_ms;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_blocks, create_block))
        .routes(routes!(get_block, replace_block, delete_block))
        .routes(routes!(restore_block))
}

/// A block by name, live or soft-deleted; 404 when there is none.
pub(super) fn lookup(state: &AppState, name: &str) -> ApiResult<Block> {
    let not_found = || ApiError::not_found(format!("no block named `{name}`"));
    let name: BlockName = name.parse().map_err(|_| not_found())?;
    state.store.block(&name)?.ok_or_else(not_found)
}

/// A live block by name: 404 when there is none, 409 when it is deleted.
pub(super) fn lookup_live(state: &AppState, name: &str) -> ApiResult<Block> {
    let block = lookup(state, name)?;
    if block.is_deleted() {
        return Err(deleted(&block.name));
    }
    Ok(block)
}

pub(super) fn deleted(name: &BlockName) -> ApiError {
    ApiError::conflict(format!(
        "block `{name}` is deleted; restore it first (POST /v1/blocks/{name}/restore)"
    ))
}

fn invalid(field: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("invalid_field", format!("{field}: {detail}"))
}

/// Checks a block's description, plugin and config against the server's
/// records: the plugin must be an uploaded block plugin and the connector
/// the config names must exist. Call under the config lock, so neither is
/// deleted between the check and the write.
fn check(
    state: &AppState,
    description: Option<&str>,
    plugin: &Name,
    config: &Value,
) -> ApiResult<()> {
    block::validate(
        description,
        plugin,
        config,
        state.config.allow_plain_http_blocks,
    )
    .map_err(|error| ApiError::invalid("invalid_field", error.to_string()))?;
    match state.store.plugin(plugin)? {
        None => {
            return Err(invalid(
                "plugin",
                format!("no plugin named `{plugin}`; upload it first"),
            ));
        }
        Some(record) if record.world != PluginWorld::Block => {
            return Err(invalid(
                "plugin",
                format!(
                    "plugin `{plugin}` is a {}, not a block",
                    record.world.as_str()
                ),
            ));
        }
        Some(_) => {}
    }
    if let Some(connector) = block::connector_in(config) {
        let known = match connector.parse::<Name>() {
            Ok(name) => state.store.connector_by_name(&name)?.is_some(),
            Err(_) => false,
        };
        if !known {
            return Err(invalid(
                "config.connector",
                format!("no connector named `{connector}`; create it first"),
            ));
        }
    }
    // A URL template whose host is written out (not a variable) is held to
    // the same address rules as an endpoint's URL.
    if let Some(url) = config
        .get("url")
        .and_then(Value::as_str)
        .and_then(|text| url::Url::parse(text.trim()).ok())
        .filter(|url| {
            url.host_str()
                .is_some_and(|host| !host.contains(['$', '{']))
        })
    {
        super::endpoints::check_target(state, "config.url", &url)?;
    }
    Ok(())
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
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Vec<Block>>> {
    let blocks = state
        .store
        .blocks()?
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
    ApiJson(body): ApiJson<CreateBlock>,
) -> ApiResult<(StatusCode, Json<Block>)> {
    let now = now_ms();
    let block = Block {
        name: body.name,
        description: body.description,
        plugin: body.plugin,
        config: body.config,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    {
        let _guard = state.store.config_lock();
        if let Some(existing) = state.store.block(&block.name)? {
            let name = &existing.name;
            return Err(ApiError::conflict(if existing.is_deleted() {
                format!(
                    "a deleted block named `{name}` exists; restore it (POST \
                     /v1/blocks/{name}/restore) or choose another name"
                )
            } else {
                format!("a block named `{name}` exists")
            }));
        }
        check(
            &state,
            block.description.as_deref(),
            &block.plugin,
            &block.config,
        )?;
        if !state.store.create_block(&block)? {
            return Err(ApiError::conflict(format!(
                "a block named `{}` exists",
                block.name
            )));
        }
    }
    state.store.durable().await?;
    tracing::info!(block = %block.name, plugin = %block.plugin, "block created");
    Ok((StatusCode::CREATED, Json(block)))
}

/// One block; a soft-deleted one is returned with its `deleted_at`.
#[utoipa::path(get, path = "/v1/blocks/{name}", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    responses((status = 200, body = Block), (status = 404, body = ErrorBody)))]
async fn get_block(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Block>> {
    Ok(Json(lookup(&state, &name)?))
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
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ReplaceBlock>,
) -> ApiResult<Json<Block>> {
    let block = {
        let _guard = state.store.config_lock();
        let mut block = lookup_live(&state, &name)?;
        if let Some(given) = &body.name
            && *given != block.name
        {
            return Err(invalid(
                "name",
                format!(
                    "a block's name cannot change (this one is `{}`)",
                    block.name
                ),
            ));
        }
        check(
            &state,
            body.description.as_deref(),
            &body.plugin,
            &body.config,
        )?;
        block.description = body.description;
        block.plugin = body.plugin;
        block.config = body.config;
        block.updated_at = now_ms();
        state.store.put_block(&block)?;
        block
    };
    state.store.durable().await?;
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
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    {
        let _guard = state.store.config_lock();
        let mut block = lookup(&state, &name)?;
        if block.is_deleted() {
            return Err(ApiError::conflict(format!(
                "block `{}` is already deleted",
                block.name
            )));
        }
        let now = now_ms();
        block.deleted_at = Some(now);
        block.updated_at = now;
        state.store.put_block(&block)?;
    }
    state.store.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bring a soft-deleted block back.
#[utoipa::path(post, path = "/v1/blocks/{name}/restore", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    responses((status = 200, body = Block), (status = 404, body = ErrorBody),
        (status = 409, description = "The block is not deleted", body = ErrorBody)))]
async fn restore_block(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Block>> {
    let block = {
        let _guard = state.store.config_lock();
        let mut block = lookup(&state, &name)?;
        if !block.is_deleted() {
            return Err(ApiError::conflict(format!(
                "block `{}` is not deleted",
                block.name
            )));
        }
        block.deleted_at = None;
        block.updated_at = now_ms();
        state.store.put_block(&block)?;
        block
    };
    state.store.durable().await?;
    Ok(Json(block))
}
