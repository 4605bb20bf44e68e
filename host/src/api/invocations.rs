//! Block invocations over the API: `POST /v1/blocks/{name}/invoke` (what a
//! workflow engine calls), `POST /v1/blocks/{name}/test` (seed 001's "Send
//! test": the exact request and the raw response) and `POST
//! /v1/workflows/run` (blocks in a chain, each seeing the data before it).
//! A run that happened answers 200 with `ok` and an error `code`; only a
//! request that could not run a block is a 4xx/5xx.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wasmhook_sdk::BlockInput;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use super::shared::{block_deleted, lookup_live_block};
use crate::blocks::NotRun;
use crate::blocks::run::{InvokeResult, TestResult, WorkflowResult};
use crate::domain::block::{Block, BlockName};
use crate::ids::EventId;

/// The most blocks one workflow run may chain.
pub const MAX_WORKFLOW_BLOCKS: usize = 50;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invoke_block))
        .routes(routes!(test_block))
        .routes(routes!(run_workflow))
}

/// What a block runs on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Invoke {
    /// The event that triggered the workflow (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    event: Option<Value>,
    /// The contact's fields (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    contact: Option<Value>,
    /// Data of earlier blocks, by block name (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// What a test run takes: an event typed by hand or a stored one by id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Test {
    /// An event typed by hand.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    event: Option<Value>,
    /// A stored event (`evt_…`), instead of `event`.
    #[serde(default)]
    event_id: Option<String>,
    /// The contact's fields (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    contact: Option<Value>,
    /// Data of earlier blocks (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// A chain of blocks and what they run on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RunWorkflow {
    /// Block names, in the order they run.
    #[schema(value_type = Vec<String>)]
    blocks: Vec<BlockName>,
    /// The event that triggered the workflow (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    event: Option<Value>,
    /// The contact's fields (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    contact: Option<Value>,
    /// Data the first block sees (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// `value` as an object input: absent or `null` is `{}`.
fn object(field: &str, value: Option<Value>) -> ApiResult<Value> {
    match value {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(value @ Value::Object(_)) => Ok(value),
        Some(_) => Err(ApiError::invalid(
            "invalid_field",
            format!("{field}: must be a JSON object"),
        )),
    }
}

fn input(event: Value, contact: Option<Value>, data: Option<Value>) -> ApiResult<BlockInput> {
    Ok(BlockInput {
        event,
        contact: object("contact", contact)?,
        data: object("data", data)?,
    })
}

impl From<NotRun> for ApiError {
    fn from(error: NotRun) -> Self {
        match error {
            NotRun::Registry(error) => error.into(),
            NotRun::Store(error) => error.into(),
            NotRun::Unavailable(error) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                format!("the block was not run: {error}"),
            ),
            NotRun::Lost(_) => ApiError::internal(&error),
        }
    }
}

/// Run a block on `{event, contact, data}`.
///
/// Answers 200 whenever the block ran: `ok` with `data.<block name>`, or an
/// `error` whose `code` is `upstream_status` (with `status`),
/// `upstream_timeout`, `connection_failed`, `target_refused`,
/// `response_too_large`, `plugin_error`, `plugin_trap` or `plugin_timeout`.
#[utoipa::path(post, path = "/v1/blocks/{name}/invoke", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    request_body = Invoke,
    responses((status = 200, description = "The block ran (`ok` says how)", body = InvokeResult),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The block is deleted", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "No plugin instance was free", body = ErrorBody)))]
async fn invoke_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Invoke>,
) -> ApiResult<Json<InvokeResult>> {
    let block = lookup_live_block(&state, caller.tenant(), &name).await?;
    let input = input(object("event", body.event)?, body.contact, body.data)?;
    let run = state.blocks.run(&block, input).await?;
    Ok(Json(run.invoke_result()))
}

/// Send a test: run a block on a stored event (`event_id`) or one typed by
/// hand, and see the exact request sent (secrets masked), the raw response
/// and the parsed data.
#[utoipa::path(post, path = "/v1/blocks/{name}/test", tag = "blocks",
    params(("name" = String, Path, description = "Block name")),
    request_body = Test,
    responses((status = 200, description = "The block ran (`ok` says how)", body = TestResult),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The block is deleted", body = ErrorBody),
        (status = 422, description = "A field is invalid (e.g. an unknown `event_id`)", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn test_block(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Test>,
) -> ApiResult<Json<TestResult>> {
    let block = lookup_live_block(&state, caller.tenant(), &name).await?;
    let event = match (body.event_id, body.event) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "invalid_field",
                "event_id: give either `event` or `event_id`, not both",
            ));
        }
        (Some(id), None) => stored_event(&state, &caller, &id).await?,
        (None, event) => object("event", event)?,
    };
    let input = input(event, body.contact, body.data)?;
    let run = state.blocks.run(&block, input).await?;
    Ok(Json(run.test_result()))
}

/// The stored event `id` as the block sees it (the canonical event JSON).
async fn stored_event(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Value> {
    let unknown = || ApiError::invalid("invalid_field", format!("event_id: no event `{id}`"));
    let event_id: EventId = id.parse().map_err(|_| unknown())?;
    let event = state
        .store
        .event(caller.tenant(), event_id)
        .await?
        .ok_or_else(unknown)?;
    serde_json::to_value(&event).map_err(|error| ApiError::internal(&error))
}

/// Run blocks in a chain: block N sees `data` plus the data of blocks
/// before it (`{{ data.<earlier block>.id }}`). Stops at the first failure,
/// which `failed_block` names.
#[utoipa::path(post, path = "/v1/workflows/run", tag = "workflows",
    request_body = RunWorkflow,
    responses((status = 200, description = "The chain ran (`ok` says how far)", body = WorkflowResult),
        (status = 409, description = "A block is deleted", body = ErrorBody),
        (status = 422, description = "A field is invalid; `detail` names it (`blocks[1]`)", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn run_workflow(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RunWorkflow>,
) -> ApiResult<Json<WorkflowResult>> {
    if body.blocks.is_empty() || body.blocks.len() > MAX_WORKFLOW_BLOCKS {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("blocks: give 1 to {MAX_WORKFLOW_BLOCKS} block names"),
        ));
    }
    let mut blocks: Vec<Block> = Vec::with_capacity(body.blocks.len());
    for (index, name) in body.blocks.iter().enumerate() {
        let block = state
            .store
            .block(caller.tenant(), name)
            .await?
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_field",
                    format!("blocks[{index}]: no block named `{name}`"),
                )
            })?;
        if block.is_deleted() {
            let error = block_deleted(&block.name);
            return Err(ApiError::conflict(format!(
                "blocks[{index}]: {}",
                error.detail
            )));
        }
        blocks.push(block);
    }
    let input = input(object("event", body.event)?, body.contact, body.data)?;
    Ok(Json(state.blocks.run_chain(&blocks, input).await?))
}
