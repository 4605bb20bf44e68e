//! Endpoints: where the delivery engine sends events. Each is a URL with a
//! method, custom headers and query parameters (text or template
//! variables), the filters that choose its events, an optional connector
//! for credentials, the renderer that builds the body, a signing secret,
//! a rate limit, an ordering and a retry policy. Parsed and checked here, so
//! the engine only ever sees a valid configuration.

mod filters;
mod ordering;
mod retry;
mod signing;
mod target;
#[cfg(test)]
pub(crate) mod tests;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use wasmhook_sdk::BodyFormat;

pub use filters::{ChannelSelection, EndpointFilters, FiltersInput};
pub use ordering::{
    AfterFinalFailure, DEFAULT_KEY_PATH, DeliveryOrdering, KeyPath, OrderingFields, OrderingInput,
    OrderingMode,
};
pub use retry::{RetryInput, RetryPolicy};
pub use signing::{
    DEFAULT_GRACE_SECS, MAX_GRACE_SECS, PreviousSecret, SigningSecret, SigningSecretError,
};
pub use target::{
    CustomHeaderName, EndpointUrl, HeaderField, MAX_FIELD_NAME_LEN, MAX_FIELD_VALUE_LEN,
    MAX_FIELDS, MAX_URL_LEN, QueryField,
};

use super::Name;
use super::event::CanonicalEvent;
use crate::ids::{ConnectorId, EndpointId};
use target::check_fields;

/// The longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// The longest renderer template.
pub const MAX_TEMPLATE_LEN: usize = 64 * 1024;
/// The highest rate limit, requests per second.
pub const MAX_RATE_LIMIT: u32 = 10_000;
/// The renderer an endpoint uses unless told (installed first-party).
pub const DEFAULT_RENDERER: &str = "json-renderer";

/// A configuration value that is not valid, with the field's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, as a path (`retry.max_attempts`, `headers[2].value`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The HTTP method deliveries use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// POST (the default).
    #[default]
    #[serde(alias = "post")]
    Post,
    /// GET: no body; data goes in query parameters.
    #[serde(alias = "get")]
    Get,
    /// PUT.
    #[serde(alias = "put")]
    Put,
    /// DELETE.
    #[serde(alias = "delete")]
    Delete,
}

impl HttpMethod {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Which renderer builds the request body, with what template and format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RendererSpec {
    /// A renderer plugin (default `json-renderer`).
    pub plugin: Name,
    /// The template; none for the renderer's default.
    pub template: Option<String>,
    /// The body format.
    pub format: BodyFormat,
}

impl Default for RendererSpec {
    fn default() -> Self {
        RendererSpec {
            plugin: Name(DEFAULT_RENDERER.to_owned()),
            template: None,
            format: BodyFormat::Json,
        }
    }
}

/// `renderer` in a create or update: each field given replaces that field
/// (`"template": null` goes back to the renderer's default).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RendererInput {
    /// An uploaded renderer plugin.
    #[serde(default)]
    pub plugin: Option<Name>,
    /// Template text.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub template: Option<Option<String>>,
    /// `json`, `xml`, `text` or `form`.
    #[serde(default)]
    pub format: Option<BodyFormat>,
}

/// What an operator configures on an endpoint (everything but its id,
/// secrets and times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EndpointConfig {
    /// Where deliveries go.
    pub url: EndpointUrl,
    /// Free text.
    pub description: Option<String>,
    /// Deliveries to a disabled endpoint wait until it is enabled again.
    pub enabled: bool,
    /// Which events it gets.
    pub filters: EndpointFilters,
    /// The HTTP method.
    pub method: HttpMethod,
    /// Custom headers.
    pub headers: Vec<HeaderField>,
    /// Query parameters added to the URL.
    pub query: Vec<QueryField>,
    /// Credentials applied to every request.
    pub connector: Option<ConnectorId>,
    /// How the body is built.
    pub renderer: RendererSpec,
    /// At most this many requests per second; excess waits.
    pub rate_limit: Option<u32>,
    /// Which deliveries wait for which, and what a delivery that failed
    /// for good does to the ones behind it.
    pub ordering: DeliveryOrdering,
    /// Retries.
    pub retry: RetryPolicy,
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The tenant it belongs to.
    #[serde(default = "crate::domain::tenant::default_tenant")]
    pub tenant: crate::domain::Name,
    /// Its id.
    pub id: EndpointId,
    /// What the operator configured.
    #[serde(flatten)]
    pub config: EndpointConfig,
    /// The secret deliveries are signed with.
    pub signing_secret: SigningSecret,
    /// Secrets replaced by a rotation and still valid for a while.
    #[serde(default)]
    pub previous_secrets: Vec<PreviousSecret>,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

impl Endpoint {
    /// A new endpoint created at `now_ms`.
    pub fn new(
        tenant: Name,
        config: EndpointConfig,
        signing_secret: SigningSecret,
        now_ms: u64,
    ) -> Self {
        Endpoint {
            id: EndpointId::new(now_ms),
            tenant,
            config,
            signing_secret,
            previous_secrets: Vec::new(),
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// Whether `event` is to be delivered here: its filters want the
    /// event. A disabled endpoint still gets its deliveries; they wait until
    /// it is enabled again, so none is lost.
    pub fn matches(&self, event: &CanonicalEvent) -> bool {
        self.config.filters.matches(event)
    }
}

/// An endpoint as the API shows it: no secrets (`GET …/secret` has them).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    /// Its id.
    pub id: EndpointId,
    /// The configuration.
    #[serde(flatten)]
    pub config: EndpointConfig,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
}

impl From<&Endpoint> for EndpointView {
    fn from(endpoint: &Endpoint) -> Self {
        EndpointView {
            id: endpoint.id,
            config: endpoint.config.clone(),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// What `POST /v1/endpoints` takes: a URL and any other settings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where deliveries go (http or https).
    pub url: EndpointUrl,
    /// The signing secret (`whsec_` + base64 of 24–64 bytes); generated
    /// when absent.
    #[serde(default)]
    pub secret: Option<SigningSecret>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Which events it gets; default all.
    #[serde(default)]
    pub filters: Option<FiltersInput>,
    /// Default POST.
    #[serde(default)]
    pub method: Option<HttpMethod>,
    /// Custom headers.
    #[serde(default)]
    pub headers: Option<Vec<HeaderField>>,
    /// Query parameters.
    #[serde(default)]
    pub query: Option<Vec<QueryField>>,
    /// A connector's id.
    #[serde(default)]
    pub connector: Option<ConnectorId>,
    /// Default `json-renderer`, no template, JSON.
    #[serde(default)]
    pub renderer: Option<RendererInput>,
    /// Requests per second, 1–10000.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Default `{"mode": "none"}`; `"strict"` / `"none"` are accepted for
    /// the mode alone.
    #[serde(default)]
    #[schema(value_type = Option<OrderingFields>)]
    pub ordering: Option<OrderingInput>,
    /// Default: seed 001's schedule, 15 attempts, 3 days.
    #[serde(default)]
    pub retry: Option<RetryInput>,
}

/// What `PATCH /v1/endpoints/{id}` takes: only the fields given change;
/// `null` clears `description`, `connector` and `rate_limit`. The signing
/// secret changes through `rotate-secret`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    /// New URL.
    #[serde(default)]
    pub url: Option<EndpointUrl>,
    /// New description.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Filter parts to replace.
    #[serde(default)]
    pub filters: Option<FiltersInput>,
    /// New method.
    #[serde(default)]
    pub method: Option<HttpMethod>,
    /// New headers (replace the list).
    #[serde(default)]
    pub headers: Option<Vec<HeaderField>>,
    /// New query parameters (replace the list).
    #[serde(default)]
    pub query: Option<Vec<QueryField>>,
    /// New connector.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<ConnectorId>)]
    pub connector: Option<Option<ConnectorId>>,
    /// Renderer fields to replace.
    #[serde(default)]
    pub renderer: Option<RendererInput>,
    /// New rate limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit: Option<Option<u32>>,
    /// Ordering fields to replace (`"strict"` / `"none"`: the mode).
    #[serde(default)]
    #[schema(value_type = Option<OrderingFields>)]
    pub ordering: Option<OrderingInput>,
    /// Retry fields to replace.
    #[serde(default)]
    pub retry: Option<RetryInput>,
}

/// A field where `null` means "clear" and absence means "leave alone".
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl CreateEndpoint {
    /// The configuration it asks for (not yet validated) and the secret
    /// given, if any.
    pub fn into_config(self) -> (EndpointConfig, Option<SigningSecret>) {
        let mut config = EndpointConfig::new(self.url);
        config.apply(UpdateEndpoint {
            url: None,
            description: self.description.map(Some),
            enabled: self.enabled,
            filters: self.filters,
            method: self.method,
            headers: self.headers,
            query: self.query,
            connector: self.connector.map(Some),
            renderer: self.renderer,
            rate_limit: self.rate_limit.map(Some),
            ordering: self.ordering,
            retry: self.retry,
        });
        (config, self.secret)
    }
}

impl EndpointConfig {
    /// The defaults for `url`: enabled, every event, POST, JSON renderer,
    /// no rate limit, unordered, seed 001's retries.
    pub fn new(url: EndpointUrl) -> Self {
        EndpointConfig {
            url,
            description: None,
            enabled: true,
            filters: EndpointFilters::default(),
            method: HttpMethod::default(),
            headers: Vec::new(),
            query: Vec::new(),
            connector: None,
            renderer: RendererSpec::default(),
            rate_limit: None,
            ordering: DeliveryOrdering::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Changes the fields `update` gives; call [`Self::validate`] after.
    pub fn apply(&mut self, update: UpdateEndpoint) {
        if let Some(url) = update.url {
            self.url = url;
        }
        if let Some(description) = update.description {
            self.description = description;
        }
        if let Some(enabled) = update.enabled {
            self.enabled = enabled;
        }
        if let Some(filters) = update.filters {
            self.filters.apply(filters);
        }
        if let Some(method) = update.method {
            self.method = method;
        }
        if let Some(headers) = update.headers {
            self.headers = headers;
        }
        if let Some(query) = update.query {
            self.query = query;
        }
        if let Some(connector) = update.connector {
            self.connector = connector;
        }
        if let Some(renderer) = update.renderer {
            if let Some(plugin) = renderer.plugin {
                self.renderer.plugin = plugin;
            }
            if let Some(template) = renderer.template {
                self.renderer.template = template;
            }
            if let Some(format) = renderer.format {
                self.renderer.format = format;
            }
        }
        if let Some(rate_limit) = update.rate_limit {
            self.rate_limit = rate_limit;
        }
        if let Some(ordering) = update.ordering {
            self.ordering.apply(ordering);
        }
        if let Some(retry) = update.retry {
            self.retry.apply(retry);
        }
    }

    /// Checks what the types alone cannot: lengths, counts and ranges. That
    /// the connector and renderer plugin exist is the store's to say.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self
            .description
            .as_ref()
            .is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_LEN)
        {
            return Err(FieldError::new(
                "description",
                format!("at most {MAX_DESCRIPTION_LEN} characters"),
            ));
        }
        self.filters.validate()?;
        check_fields(
            "headers",
            self.headers.iter().map(|h| (h.name.as_str(), &*h.value)),
        )?;
        check_fields(
            "query",
            self.query.iter().map(|q| (q.name.as_str(), &*q.value)),
        )?;
        if self
            .renderer
            .template
            .as_ref()
            .is_some_and(|template| template.len() > MAX_TEMPLATE_LEN)
        {
            return Err(FieldError::new(
                "renderer.template",
                format!("at most {MAX_TEMPLATE_LEN} bytes"),
            ));
        }
        if self
            .rate_limit
            .is_some_and(|limit| !(1..=MAX_RATE_LIMIT).contains(&limit))
        {
            return Err(FieldError::new(
                "rate_limit",
                format!("must be 1 to {MAX_RATE_LIMIT} requests per second"),
            ));
        }
        self.retry.validate()
    }
}

impl crate::domain::tenant::Owned for Endpoint {
    fn tenant(&self) -> &crate::domain::Name {
        &self.tenant
    }
}
