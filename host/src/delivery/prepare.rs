//! Preparing a delivery's request, the one way every request to an endpoint
//! is made — by an attempt and by the operator's test send alike: the
//! endpoint's connector is loaded, the event rendered into a body by the
//! endpoint's renderer plugin, and the request built and signed
//! ([`request::build`]). What fails on the way is a [`PrepareError`],
//! whose retry outcome lives with the other outcomes in
//! [`retry`](super::retry).

use wasmhook_sdk::BodyFormat;

use super::engine::DeliveryEngine;
use super::request::{self, BuildError, Built, EventJson, RenderedBody};
use crate::domain::endpoint::{DEFAULT_RENDERER, Endpoint, HttpMethod};
use crate::domain::{Name, NameError};
use crate::ids::{ConnectorId, DeliveryId, EventId};
use crate::registry::RegistryError;
use crate::runtime::CallError;
use crate::store::StoreError;
use crate::telemetry;

/// The renderer GET endpoints fall back to when they keep the default JSON
/// one: GET sends the fields in the query string, which needs a form body.
const FORM_RENDERER: &str = "form-renderer";

/// Why no request went out.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Reading the event or the connector failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The delivery's event is not stored.
    #[error("event {0} is not stored")]
    EventMissing(EventId),
    /// The endpoint names a connector that does not exist.
    #[error("connector {0} does not exist")]
    ConnectorMissing(ConnectorId),
    /// The renderer plugin produced no body.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The request cannot be built from the body and the endpoint's
    /// configuration (a header value filled in from the event that would
    /// split the request).
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl PrepareError {
    /// Stable code for the attempt log and the test send's answer.
    pub fn kind(&self) -> &'static str {
        match self {
            PrepareError::Store(_) => "store",
            PrepareError::EventMissing(_) => "event_missing",
            PrepareError::ConnectorMissing(_) => "connector_missing",
            PrepareError::Render(_) => "render_failed",
            PrepareError::Build(_) => "bad_request",
        }
    }
}

/// Why the renderer produced no body.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The renderer's name does not parse (only the built-in fallback's is
    /// not checked when an endpoint is saved).
    #[error(transparent)]
    Name(#[from] NameError),
    /// The renderer plugin is not loaded.
    #[error(transparent)]
    Plugin(#[from] RegistryError),
    /// The renderer failed (a template error, a trap, a limit).
    #[error(transparent)]
    Call(#[from] CallError),
    /// A GET endpoint's renderer produced something other than a form.
    #[error(
        "GET endpoints send the rendered fields in the query string, so the renderer must produce a form body; `{plugin}` produced `{content_type}`"
    )]
    NotAForm {
        /// The renderer.
        plugin: Name,
        /// What it produced.
        content_type: String,
    },
}

/// The request of delivery `delivery` of `event` to `endpoint`, signed at
/// `now_ms`: the endpoint's connector is loaded, the body rendered and the
/// request built, with the engine's attempt timeout.
pub async fn prepare(
    engine: &DeliveryEngine,
    endpoint: &Endpoint,
    event: &EventJson,
    delivery: DeliveryId,
    now_ms: u64,
) -> Result<Built, PrepareError> {
    let connector = match endpoint.config.connector {
        None => None,
        Some(id) => Some(
            engine
                .store
                .connector(&endpoint.tenant, id)
                .await?
                .ok_or(PrepareError::ConnectorMissing(id))?,
        ),
    };
    let body = render(engine, endpoint, event).await?;
    let mut built = request::build(endpoint, connector.as_ref(), event, body, delivery, now_ms)?;
    built.request.timeout = Some(engine.config.attempt_timeout);
    Ok(built)
}

/// Renders the body with the endpoint's renderer (a form renderer for GET
/// endpoints that kept the JSON default).
async fn render(
    engine: &DeliveryEngine,
    endpoint: &Endpoint,
    event: &EventJson,
) -> Result<RenderedBody, RenderError> {
    let spec = &endpoint.config.renderer;
    let is_get = endpoint.config.method == HttpMethod::Get;
    let (plugin_name, format) =
        if is_get && spec.plugin.as_str() == DEFAULT_RENDERER && spec.format != BodyFormat::Form {
            (FORM_RENDERER.parse::<Name>()?, BodyFormat::Form)
        } else {
            (spec.plugin.clone(), spec.format)
        };
    let loaded = engine.registry.active_async(&plugin_name).await?;
    let template = spec.template.clone();
    // The event's JSON goes to the renderer as stored: no parse, no copy
    // of a parsed value, no writing it out again.
    let data_json = event.text().to_owned();
    // Each endpoint's renders are a lane of their own: a slow template on
    // one endpoint delays only that endpoint's deliveries.
    let lane = engine
        .registry
        .lane(&endpoint.tenant, format!("endpoint:{}", endpoint.id));
    let outcome = loaded
        .plugin
        .render_json_async(&lane, template, format, data_json, "{}".to_owned())
        .await;
    telemetry::plugin_call(
        plugin_name.as_str(),
        outcome.stats.duration,
        outcome.result.as_ref().err(),
    );
    let rendered = outcome.result?;
    if is_get
        && !rendered
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    {
        return Err(RenderError::NotAForm {
            plugin: plugin_name,
            content_type: rendered.content_type,
        });
    }
    Ok(RenderedBody {
        content_type: rendered.content_type,
        bytes: rendered.body,
    })
}
