//! The HTTP API: one router per resource under `/v1` (the admin token or a
//! tenant's key required, see [`auth`]),
//! vendor callbacks under `/ingest`, and the ops routes. Routes are declared
//! with their OpenAPI description, so `/openapi.json` is generated from the
//! same code that serves them and cannot drift.

pub mod auth;
mod blocks;
mod connectors;
mod deliveries;
mod endpoints;
pub mod error;
mod events;
pub mod extract;
mod ingest;
mod invocations;
mod ops;
mod plugin_access;
mod plugins;
mod render;
mod shared;
mod sources;
mod tenants;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::config::ServeConfig;
use crate::domain::Secret;
use crate::registry::Registry;
use crate::store::Store;

pub use error::{ApiError, ErrorBody};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The records.
    pub store: Arc<Store>,
    /// Plugins, loaded.
    pub registry: Arc<Registry>,
    /// The configuration the server started with.
    pub config: Arc<ServeConfig>,
    /// The token `/v1` requires.
    pub admin_token: Arc<Secret>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Delivers events to endpoints; woken when events are stored.
    pub engine: Arc<crate::delivery::DeliveryEngine>,
    /// Takes events in: vendor callbacks, rejected ones retried, publishes.
    pub ingest: Arc<crate::ingest::IngestService>,
    /// Runs workflow blocks.
    pub blocks: Arc<crate::blocks::BlockRunner>,
    /// The operator's changes: every configuration write and delivery
    /// retry goes through it.
    pub admin: Arc<crate::admin::Admin>,
    /// When each tenant key's use was last put in the audit log.
    pub key_use: Arc<auth::KeyUse>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wasmhook",
        description = "Webhook server whose vendor- and customer-specific parts are WebAssembly components."
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "plugins", description = "Upload, version, activate and dry-run plugins"),
        (name = "sources", description = "Where vendor callbacks come in"),
        (name = "ingest", description = "Vendor callbacks"),
        (name = "events", description = "Canonical events"),
        (name = "endpoints", description = "Where events are delivered: URL, filters, renderer, signing secret, retries"),
        (name = "connectors", description = "Outbound credentials (basic, bearer, API key); secrets are write-only"),
        (name = "deliveries", description = "Deliveries to endpoints and their attempts"),
        (name = "blocks", description = "Workflow webhook blocks: create, soft delete and restore, invoke, test"),
        (name = "workflows", description = "Blocks run in a chain, each seeing the data of the ones before it"),
        (name = "render", description = "Render message templates with event, contact and block data"),
        (name = "tenants", description = "The operator's customers, their API keys and quotas; each tenant's audit log"),
        (name = "ops", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/v1` routes: the admin token or a tenant key required.
fn admin_routes(config: &ServeConfig) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenants::router())
        .merge(plugins::router())
        .merge(plugins::upload_router(config.max_plugin_bytes))
        .merge(sources::router())
        .merge(events::router())
        .merge(deliveries::router())
        .merge(endpoints::router())
        .merge(connectors::router())
        .merge(render::router())
        .merge(blocks::router())
        .merge(invocations::router())
}

/// The whole application: routes, their OpenAPI document, limits, tracing.
pub fn app(state: AppState) -> Router {
    let (admin, admin_doc) = admin_routes(&state.config)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .split_for_parts();
    let (public, public_doc) = OpenApiRouter::<AppState>::new()
        .merge(ingest::router(state.config.max_ingest_bytes))
        .merge(ops::router())
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(admin_doc);
    doc.merge(public_doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let admin = path.starts_with("/v1/");
        if admin {
            label_access(path, item);
        }
        if admin {
            // Every write can be refused while the store cannot take it.
            for operation in writes(item) {
                add_response(
                    operation,
                    "503",
                    "The store cannot take writes now (`storage_unavailable`: low disk space, \
                     a failed write); nothing was stored. Retry after `Retry-After`",
                );
            }
        }
        for operation in operations(item) {
            if admin {
                operation.security =
                    Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                        "admin_token",
                        Vec::<String>::new(),
                    )]);
            }
            document_shared_answers(operation, admin);
            if operation.request_body.is_some() {
                add_response(
                    operation,
                    "408",
                    "The body did not arrive within the body timeout (`request_timeout`)",
                );
            }
        }
    }
    let doc = Arc::new(doc);
    Router::new()
        .merge(admin)
        .merge(public)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // One span per request. Ingest fills in the source and its
                // mapper plugin (a second span per callback cost more than
                // its worth at thousands of callbacks a second).
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    source = tracing::field::Empty,
                    plugin = tracing::field::Empty,
                )
            }),
        )
        .with_state(state)
}

/// Adds the answers every operation of a kind can give, whatever its
/// handler does, so the document lists every status the server sends: 401
/// from the admin check; 400, 413, 415 and 422 from reading a request body
/// (bad JSON, too large, wrong content type, a field of the wrong type);
/// 400 from reading a query string.
fn document_shared_answers(operation: &mut utoipa::openapi::path::Operation, admin: bool) {
    use utoipa::openapi::path::ParameterIn;
    let mut shared: Vec<(&str, &str)> = Vec::new();
    if admin {
        shared.extend([
            ("401", "Missing or wrong admin token or API key"),
            (
                "403",
                "A tenant key without the scope this operation needs (`missing_scope`), on an \
                 operator-only operation (`operator_only`), of a disabled tenant \
                 (`tenant_disabled`), or naming another tenant (`tenant_mismatch`)",
            ),
        ]);
    }
    if operation.request_body.is_some() {
        shared.extend([
            ("400", "The body is not readable (malformed JSON)"),
            ("413", "The body is over the size limit"),
            (
                "415",
                "The content type is not the one this operation reads",
            ),
            (
                "422",
                "A field is missing, of the wrong type or out of range",
            ),
        ]);
    }
    let has_query = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Query))
    });
    if has_query {
        shared.push(("400", "The query string is not readable"));
    }
    for (status, description) in shared {
        add_response(operation, status, description);
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn writes(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Adds a `{code, detail}` response for `status` unless the operation
/// already describes one.
fn add_response(operation: &mut utoipa::openapi::path::Operation, status: &str, description: &str) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    if operation.responses.responses.contains_key(status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert(status.to_owned(), response.into());
}

/// Labels each operation with what it needs (`x-wasmhook-access`:
/// `operator`, or the scope a tenant key needs), from the same table the
/// server enforces.
fn label_access(path: &str, item: &mut utoipa::openapi::PathItem) {
    use axum::http::Method;
    let methods = [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
    ];
    for (method, operation) in methods {
        let Some(operation) = operation else { continue };
        let access = auth::access_for(&method, path);
        let extensions = operation.extensions.get_or_insert_with(Default::default);
        extensions.insert(
            "x-wasmhook-access".to_owned(),
            serde_json::Value::from(access.as_str()),
        );
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
