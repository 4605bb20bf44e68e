//! Ops routes: liveness (fails only when the process cannot recover by
//! itself), readiness (the store reads and takes writes, the runtime is
//! ready) and Prometheus metrics. No token: they say nothing about the data.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// Health or readiness.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// Per check, whether it passed (readiness only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<Check>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Check {
    name: &'static str,
    ok: bool,
    /// Why the check fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

impl Check {
    fn new(name: &'static str, problem: Option<String>) -> Self {
        Check {
            name,
            ok: problem.is_none(),
            detail: problem,
        }
    }
}

/// The process is up and can recover by itself: 503 only when the store is
/// stuck in a state only a restart clears (a flush that never returned).
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, body = Health),
        (status = 503, description = "Only a restart helps; `checks` says why", body = Health)))]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let checks = match state.store.needs_restart() {
        Some(problem) => vec![Check::new("store", Some(problem))],
        None => Vec::new(),
    };
    answer(checks)
}

/// The server can take traffic: the store reads and takes writes (enough
/// free space, no failed write), the runtime is ready.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Health),
        (status = 503, description = "Not ready; each failed check names why", body = Health)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let store = if state.store.is_ready().await {
        state.store.write_problem()
    } else {
        Some("the store does not answer reads".to_owned())
    };
    let runtime = (state.registry.runtime().config().max_instances == 0)
        .then(|| "no plugin instances".to_owned());
    answer(vec![
        Check::new("store", store),
        Check::new("runtime", runtime),
    ])
}

fn answer(checks: Vec<Check>) -> (StatusCode, Json<Health>) {
    let ok = checks.iter().all(|check| check.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ok { "ok" } else { "unavailable" },
            checks,
        }),
    )
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
