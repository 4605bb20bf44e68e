//! `POST /v1/render`: renders a message template with `{event, contact,
//! data}` through a renderer plugin, so a workflow engine can show block
//! results in a message (seed 001: `{{ data.WH5.promocode }}`). Nothing is
//! stored.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wasmhook_sdk::{BodyFormat, RenderRequest};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use super::plugin_access;
use crate::domain::Name;
use crate::runtime::{CallError, World};
use crate::telemetry;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}

/// What `POST /v1/render` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Render {
    /// The template, in the renderers' syntax (`{{ data.WH5.promocode }}`,
    /// `${data.contacts_get_by_email[0].id}`).
    template: String,
    /// The output format (default json).
    #[serde(default)]
    format: BodyFormat,
    /// The event that triggered the workflow (default `{}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    event: Option<Map<String, Value>>,
    /// The contact's fields (default `{}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    contact: Option<Map<String, Value>>,
    /// Block results keyed by block name, as `POST /v1/workflows/run`
    /// returns them (default `{}`).
    #[serde(default)]
    #[schema(value_type = Object)]
    data: Option<Map<String, Value>>,
    /// The renderer plugin (default: the first-party renderer of `format`).
    #[serde(default)]
    plugin: Option<String>,
    /// The renderer's configuration (e.g. `{"strict": true}`: undefined
    /// variables are an error). Default `{}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    config: Option<Map<String, Value>>,
}

/// A rendered message.
#[derive(Debug, Serialize, ToSchema)]
struct Rendered {
    /// The renderer's content type (`application/json`, …).
    content_type: String,
    /// The rendered body as text.
    body: String,
}

/// The first-party renderer of each format.
fn default_renderer(format: BodyFormat) -> &'static str {
    match format {
        BodyFormat::Json => "json-renderer",
        BodyFormat::Xml => "xml-renderer",
        BodyFormat::Text => "text-renderer",
        BodyFormat::Form => "form-renderer",
    }
}

/// Render a message template with `{event, contact, data}`.
///
/// The template sees `event`, `contact` and `data` at its top level, so
/// block results are `data.<block name>.<field>`.
#[utoipa::path(post, path = "/v1/render", tag = "render",
    request_body = Render,
    responses(
        (status = 200, body = Rendered),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 404, description = "No such plugin", body = ErrorBody),
        (status = 422, description = "A field does not fit, the plugin is not a renderer, or the template failed (`detail` is the renderer's message)", body = ErrorBody),
        (status = 503, description = "The renderer could not run now (instance slots busy)", body = ErrorBody)))]
async fn render(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Render>,
) -> ApiResult<Json<Rendered>> {
    let plugin_text = body
        .plugin
        .unwrap_or_else(|| default_renderer(body.format).to_owned());
    let missing = || ApiError::not_found(format!("plugin: no plugin named `{plugin_text}`"));
    let plugin_name: Name = plugin_text.parse().map_err(|_| missing())?;
    // Another tenant's private renderer is answered like a missing one.
    if !state
        .store
        .plugin(&plugin_name)
        .await?
        .is_some_and(|plugin| plugin_access::sees(&caller, &plugin))
    {
        return Err(missing());
    }
    let registry = state.registry.clone();
    // Loading may compile the component on first use: off the async threads.
    let loaded = tokio::task::spawn_blocking(move || registry.active(&plugin_name))
        .await
        .map_err(|error| ApiError::internal(&error))??;
    let plugin = loaded.plugin;
    if plugin.world() != World::Renderer {
        return Err(ApiError::invalid(
            "not_a_renderer",
            format!(
                "plugin: `{plugin_text}` is a {}, not a renderer",
                plugin.world().as_str()
            ),
        ));
    }
    let object = |fields: Option<Map<String, Value>>| Value::Object(fields.unwrap_or_default());
    let request = RenderRequest {
        template: Some(body.template),
        format: body.format,
        data: serde_json::json!({
            "event": object(body.event),
            "contact": object(body.contact),
            "data": object(body.data),
        }),
        config: object(body.config),
    };
    let lane = state
        .registry
        .lane(caller.tenant(), format!("render:{plugin_text}"));
    let outcome = plugin.render_async(&lane, &request).await;
    telemetry::plugin_call(
        &plugin_text,
        outcome.stats.duration,
        outcome.result.as_ref().err(),
    );
    let rendered = outcome
        .result
        .map_err(|error| render_error(&plugin_text, error))?;
    Ok(Json(Rendered {
        content_type: rendered.content_type,
        body: String::from_utf8_lossy(&rendered.body).into_owned(),
    }))
}

/// A failed render as a client error: the renderer's own message for a
/// template problem, the runtime's code for anything else the plugin did.
fn render_error(plugin: &str, error: CallError) -> ApiError {
    match error {
        CallError::Plugin { error, .. } => {
            ApiError::invalid("render_failed", format!("renderer `{plugin}`: {error}"))
        }
        // The plugin did not run: the server is busy, not the request wrong.
        CallError::Overloaded { .. } | CallError::Instantiate { .. } => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            telemetry::call_error_code(&error),
            error.to_string(),
        ),
        other => ApiError::invalid(telemetry::call_error_code(&other), other.to_string()),
    }
}
