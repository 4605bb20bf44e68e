//! `/v1/plugins`: upload versions, list, inspect, activate (rollback),
//! delete unless in use, and dry-run a plugin on an input.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wasmhook_sdk::{BlockInput, BodyFormat, Callback, LogLevel, RenderRequest};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery, read_body};
use super::plugin_access;
use crate::domain::Name;
use crate::domain::plugin::{HostPattern, PluginRecord, PluginVersion};
use crate::runtime::{CallStats, DenyAllHttp, Lane, LimitsOverride, World};
use crate::telemetry;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plugins))
        .routes(routes!(get_plugin, delete_plugin))
        .routes(routes!(activate_plugin))
        .routes(routes!(invoke_plugin))
        .routes(routes!(put_settings))
}

/// The upload route has its own body limit (the component size cap), so it
/// is built apart from the JSON routes.
pub(super) fn upload_router(max_plugin_bytes: u64) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_plugin))
        .layer(DefaultBodyLimit::max(max_plugin_bytes as usize))
}

/// A plugin with its versions.
#[derive(Debug, Serialize, ToSchema)]
struct PluginDetail {
    #[serde(flatten)]
    plugin: PluginRecord,
    /// Every version, oldest first.
    versions: Vec<PluginVersion>,
}

/// What an upload created.
#[derive(Debug, Serialize, ToSchema)]
struct Uploaded {
    /// The plugin after the upload.
    plugin: PluginRecord,
    /// The new version.
    version: PluginVersion,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// Make the new version active at once (a plugin's first version always is).
    #[serde(default)]
    activate: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Activate {
    /// The version to make active.
    version: u32,
}

fn parse_name(text: &str) -> ApiResult<Name> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("no plugin named `{text}`")))
}

/// List plugins: the shared ones and the caller's tenant's private ones
/// (`owner` set); the operator sees every plugin.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginRecord>), (status = 401, body = ErrorBody)))]
async fn list_plugins(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<PluginRecord>>> {
    let mut plugins = state.store.plugins().await?;
    plugins.retain(|plugin| plugin_access::sees(&caller, plugin));
    Ok(Json(plugins))
}

/// A plugin, its versions and the active one.
#[utoipa::path(get, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, body = PluginDetail), (status = 404, body = ErrorBody)))]
async fn get_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginDetail>> {
    let name = parse_name(&name)?;
    let plugin = plugin_access::visible(&state, &caller, &name).await?;
    let versions = state.store.plugin_versions(&name).await?;
    Ok(Json(PluginDetail { plugin, versions }))
}

/// Upload component bytes as a new immutable version of `name`.
///
/// Bytes identical to an existing version of `name` add no version: that
/// version is answered with 200 (and made active when `activate` is set).
///
/// The body is the `.wasm` component. It is validated (and compiled) like
/// `wasmhook plugin check`; a refusal says why. The admin token uploads
/// shared plugins (or, acting in a tenant, that tenant's private ones); a
/// tenant key with `write` uploads its tenant's private plugins when the
/// operator allows them (`allow_private_plugins`).
#[utoipa::path(put, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name"), UploadParams),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses(
        (status = 201, description = "A new version", body = Uploaded),
        (status = 200, description = "The bytes are an existing version, which is answered (and activated when asked)", body = Uploaded),
        (status = 403, description = "A tenant key on a shared plugin, or private plugins not allowed", body = ErrorBody),
        (status = 409, description = "The plugin's versions target another world, or another tenant has the name", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Not a usable component; `code` says why", body = ErrorBody)))]
async fn upload_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(params): ApiQuery<UploadParams>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    let name: Name = name.parse().map_err(|error: crate::domain::NameError| {
        ApiError::bad_request("invalid_name", error.to_string())
    })?;
    let uploader = plugin_access::uploader(&state, &caller, &name).await?;
    let bytes = read_body(request, &()).await?;
    let added = state
        .admin
        .upload_plugin(caller.by(), uploader, name, bytes, params.activate)
        .await?;
    // Bytes identical to a stored version answer that version: 200, not 201.
    let status = if added.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Uploaded {
            plugin: added.record,
            version: added.version,
        }),
    ))
}

/// Make a version active (also a rollback). Calls in flight finish on the
/// old version; none fails during the swap.
#[utoipa::path(post, path = "/v1/plugins/{name}/activate", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body = Activate,
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn activate_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Activate>,
) -> ApiResult<Json<PluginRecord>> {
    let name = parse_name(&name)?;
    plugin_access::changeable(&state, &caller, &name).await?;
    Ok(Json(
        state
            .admin
            .activate_plugin(caller.by(), &name, body.version)
            .await?,
    ))
}

/// A plugin's settings, kept across its versions. A field left out keeps
/// what is set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Block plugins: hosts their requests may target — `host`,
    /// `host:port`, `*.domain` or `*` (any host; the outbound address rules
    /// still apply). Empty: no outbound HTTP.
    #[serde(default)]
    allowed_hosts: Option<Vec<HostPattern>>,
    /// Changes to the server's default limits of every call of this plugin
    /// (replaces what was set; `{}` goes back to the defaults):
    /// `timeout_ms`, `memory_bytes`, `output_bytes`, `log_bytes`, `fuel`,
    /// `max_events` (mappers), `max_http_requests` (blocks).
    #[serde(default)]
    limits: Option<LimitsOverride>,
}

/// Set a plugin's settings: a block plugin's allowed hosts, and any
/// plugin's limits (e.g. `{"limits": {"max_events": 20000}}` for a mapper
/// whose vendor sends larger batches). They apply to every version, current
/// and future, from the next call on.
#[utoipa::path(put, path = "/v1/plugins/{name}/settings", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body = Settings,
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An entry or limit is invalid (`detail` names it), or allowed hosts were given for a plugin that is not a block", body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Settings>,
) -> ApiResult<Json<PluginRecord>> {
    let name = parse_name(&name)?;
    plugin_access::changeable(&state, &caller, &name).await?;
    plugin_access::check_settings(&caller, body.limits.is_some())?;
    let record = state
        .admin
        .set_plugin_settings(caller.by(), &name, body.allowed_hosts, body.limits)
        .await?;
    Ok(Json(record))
}

/// Delete a plugin and all its versions; refused while a source, endpoint
/// or block uses it.
#[utoipa::path(delete, path = "/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "In use; `detail` names the users", body = ErrorBody)))]
async fn delete_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = parse_name(&name)?;
    plugin_access::changeable(&state, &caller, &name).await?;
    state.admin.delete_plugin(caller.by(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A callback for a mapper dry run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InvokeCallback {
    /// HTTP method (default POST).
    #[serde(default)]
    method: Option<String>,
    /// Headers as `[name, value]` pairs.
    #[serde(default)]
    headers: Vec<(String, String)>,
    /// Query string without `?`.
    #[serde(default)]
    query: String,
    /// Content type.
    #[serde(default)]
    content_type: Option<String>,
    /// The body as text, or as any JSON value (sent as its JSON text).
    #[serde(default)]
    body: Option<Value>,
}

/// What `POST /v1/plugins/{name}/invoke` takes, for every world alike:
/// `{"input": …, "config": …}`. The input is the world's: a mapper's
/// callback `{method, headers, query, content_type, body}`, a renderer's
/// `{template, format, data}`, a block's `{event, contact, data}` (the body
/// of `POST /v1/blocks/{name}/invoke`). The older per-world keys
/// (`callback`; `template`, `format`, `data`) are still read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Invoke {
    /// A version other than the active one.
    #[serde(default)]
    version: Option<u32>,
    /// The call's config.
    #[serde(default)]
    config: Option<Value>,
    /// The world's input (see above). Outbound HTTP is refused in a dry run.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
    /// Mapper: the callback (same as `input`).
    #[serde(default)]
    callback: Option<InvokeCallback>,
    /// Renderer: the template (default: the renderer's own).
    #[serde(default)]
    template: Option<String>,
    /// Renderer: the format (default json).
    #[serde(default)]
    format: Option<BodyFormat>,
    /// Renderer: the data.
    #[serde(default)]
    data: Option<Value>,
}

/// A renderer's input for a dry run.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvokeRender {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    format: Option<BodyFormat>,
    #[serde(default)]
    data: Option<Value>,
}

/// A block's input for a dry run: each part defaults to `{}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvokeBlock {
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    contact: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
}

/// Reads `input` as the shape `world` takes; the error names the world and
/// the shape.
fn world_input<T: serde::de::DeserializeOwned>(
    input: Value,
    world: World,
    shape: &str,
) -> ApiResult<T> {
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(".{path}")
        };
        ApiError::invalid(
            "invalid_field",
            format!(
                "input{at}: {} (a {world}'s input is {shape})",
                error.into_inner()
            ),
        )
    })
}

/// A log line of the call.
#[derive(Debug, Serialize, ToSchema)]
struct LogLine {
    level: LogLevel,
    message: String,
}

/// What a call cost.
#[derive(Debug, Serialize, ToSchema)]
struct Stats {
    /// Wall-clock time, microseconds.
    duration_us: u64,
    /// Peak linear memory, bytes.
    memory_peak_bytes: u64,
    /// The plugin's log lines.
    logs: Vec<LogLine>,
}

impl From<CallStats> for Stats {
    fn from(stats: CallStats) -> Self {
        Stats {
            duration_us: stats.duration.as_micros() as u64,
            memory_peak_bytes: stats.memory_peak_bytes,
            logs: stats
                .logs
                .into_iter()
                .map(|(level, message)| LogLine { level, message })
                .collect(),
        }
    }
}

/// The result of a dry run: the plugin's value, or its error, with stats.
#[derive(Debug, Serialize, ToSchema)]
struct Invoked {
    /// The version that ran.
    version: u32,
    /// Mapper: `{events, reply}`; renderer: `{content_type, body}` (body as
    /// text); block: its data.
    result: Option<Value>,
    /// Why there is no result.
    error: Option<ErrorBody>,
    /// Time, memory, logs.
    stats: Stats,
}

/// Dry-run a plugin on an input; nothing is stored.
#[utoipa::path(post, path = "/v1/plugins/{name}/invoke", tag = "plugins",
    params(("name" = String, Path, description = "Plugin name")),
    request_body = Invoke,
    responses((status = 200, description = "The call ran (its `error` may be set)", body = Invoked),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn invoke_plugin(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<Invoke>,
) -> ApiResult<Json<Invoked>> {
    let name = parse_name(&name)?;
    let record = plugin_access::visible(&state, &caller, &name).await?;
    let registry = state.registry.clone();
    let version = body.version.unwrap_or(record.active_version);
    let loaded = tokio::task::spawn_blocking(move || registry.version(&name, version))
        .await
        .map_err(|error| ApiError::internal(&error))??;
    let config = body.config.unwrap_or_else(|| serde_json::json!({}));
    let plugin = loaded.plugin.clone();
    let world = plugin.world();
    const CALLBACK: &str = "{method, headers, query, content_type, body}";
    let foreign = match world {
        World::Mapper => [
            ("template", body.template.is_some()),
            ("format", body.format.is_some()),
            ("data", body.data.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set),
        World::Renderer => Some(("callback", body.callback.is_some())).filter(|(_, set)| *set),
        World::Block => [
            ("callback", body.callback.is_some()),
            ("template", body.template.is_some()),
            ("format", body.format.is_some()),
            ("data", body.data.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set),
    };
    if let Some((field, _)) = foreign {
        return Err(ApiError::invalid(
            "invalid_field",
            format!("{field}: not an input of a {world}; send `input` (and `config`)"),
        ));
    }
    let call = match world {
        World::Mapper => {
            let callback = match (body.input, body.callback) {
                (Some(input), _) => world_input::<InvokeCallback>(input, world, CALLBACK)?,
                (None, Some(callback)) => callback,
                (None, None) => {
                    return Err(ApiError::invalid(
                        "invalid_field",
                        format!("input: required to invoke a mapper: the callback {CALLBACK}"),
                    ));
                }
            };
            let callback = Callback {
                method: callback
                    .method
                    .unwrap_or_else(|| "POST".into())
                    .to_ascii_uppercase(),
                headers: callback.headers,
                query: callback.query,
                content_type: callback.content_type,
                body: match callback.body {
                    None => Vec::new(),
                    Some(Value::String(text)) => text.into_bytes(),
                    Some(other) => other.to_string().into_bytes(),
                },
            };
            Call::Map(callback, config)
        }
        World::Renderer => {
            let render = match body.input {
                Some(input) => {
                    world_input::<InvokeRender>(input, world, "{template, format, data}")?
                }
                None => InvokeRender {
                    template: body.template,
                    format: body.format,
                    data: body.data,
                },
            };
            Call::Render(RenderRequest {
                template: render.template,
                format: render.format.unwrap_or_default(),
                data: render.data.unwrap_or(Value::Null),
                config,
            })
        }
        World::Block => {
            let input = match body.input {
                Some(input) => world_input::<InvokeBlock>(input, world, "{event, contact, data}")?,
                None => InvokeBlock::default(),
            };
            let or_empty = |value: Option<Value>| value.unwrap_or_else(|| serde_json::json!({}));
            let input = BlockInput {
                event: or_empty(input.event),
                contact: or_empty(input.contact),
                data: or_empty(input.data),
            };
            Call::Block(input, config)
        }
    };
    let plugin_name = plugin.id().name.clone();
    let lane = state
        .registry
        .lane(caller.tenant(), format!("dry-run:{plugin_name}"));
    let (result, stats) = call.run(&plugin, lane).await;
    let (result, error) = match result {
        Ok(value) => (Some(value), None),
        Err(error) => {
            telemetry::plugin_call(&plugin_name, stats.duration, Some(&error));
            let body = ErrorBody {
                code: telemetry::call_error_code(&error).to_owned(),
                detail: error.to_string(),
            };
            (None, Some(body))
        }
    };
    Ok(Json(Invoked {
        version: loaded.version,
        result,
        error,
        stats: stats.into(),
    }))
}

enum Call {
    Map(Callback, Value),
    Render(RenderRequest),
    Block(BlockInput, Value),
}

impl Call {
    /// Runs the dry run in `lane` of the fair queue (the plugin's dry-run
    /// lane of the caller's tenant): a slow dry run then queues behind that
    /// plugin's dry runs only.
    async fn run(
        self,
        plugin: &crate::runtime::Plugin,
        lane: Lane,
    ) -> (Result<Value, crate::runtime::CallError>, CallStats) {
        let to_value = |value: serde_json::Result<Value>| value.unwrap_or(Value::Null);
        match self {
            Call::Map(callback, config) => {
                let outcome = plugin.map_async(&lane, &callback, &config).await;
                (
                    outcome
                        .result
                        .map(|mapped| to_value(serde_json::to_value(mapped))),
                    outcome.stats,
                )
            }
            Call::Render(request) => {
                let outcome = plugin.render_async(&lane, &request).await;
                let result = outcome.result.map(|rendered| {
                    serde_json::json!({
                        "content_type": rendered.content_type,
                        "body": String::from_utf8_lossy(&rendered.body),
                    })
                });
                (result, outcome.stats)
            }
            Call::Block(input, config) => {
                let outcome = plugin
                    .run_block_async(&lane, &input, &config, std::sync::Arc::new(DenyAllHttp))
                    .await;
                (outcome.result, outcome.stats)
            }
        }
    }
}
