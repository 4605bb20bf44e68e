//! `/v1/connectors`: stored outbound credentials (CRUD). Secrets go in and
//! never come out: every response is a [`ConnectorView`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::domain::connector::{Connector, ConnectorView, CreateConnector, UpdateConnector};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connectors, create_connector))
        .routes(routes!(get_connector, update_connector, delete_connector))
}

/// The caller's connector by id (`conn_…`) or by name.
async fn lookup(state: &AppState, caller: &Caller, key: &str) -> ApiResult<Connector> {
    state
        .store
        .connector_by_key(caller.tenant(), key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no connector `{key}`")))
}

/// List connectors, oldest first (secrets withheld).
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors",
    responses((status = 200, body = Vec<ConnectorView>), (status = 401, body = ErrorBody)))]
async fn list_connectors(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ConnectorView>>> {
    Ok(Json(
        state
            .store
            .connectors(caller.tenant())
            .await?
            .iter()
            .map(ConnectorView::from)
            .collect(),
    ))
}

/// Store credentials: `basic`, `bearer` or `api_key`. The secret is
/// write-only; the response says only that it is set.
#[utoipa::path(post, path = "/v1/connectors", tag = "connectors",
    request_body = CreateConnector,
    responses((status = 201, body = ConnectorView),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid; `detail` names it", body = ErrorBody)))]
async fn create_connector(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateConnector>,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    let connector = state.admin.create_connector(caller.by(), body).await?;
    Ok((StatusCode::CREATED, Json(ConnectorView::from(&connector))))
}

/// One connector, by id or name (secrets withheld).
#[utoipa::path(get, path = "/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "Connector id (`conn_…`) or name")),
    responses((status = 200, body = ConnectorView), (status = 404, body = ErrorBody)))]
async fn get_connector(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(ConnectorView::from(
        &lookup(&state, &caller, &id).await?,
    )))
}

/// Change a connector; only the fields given change. `auth` is replaced
/// whole (its secret must be given again).
#[utoipa::path(patch, path = "/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "Connector id (`conn_…`) or name")),
    request_body = UpdateConnector,
    responses((status = 200, body = ConnectorView), (status = 404, body = ErrorBody),
        (status = 409, description = "The new name is taken, or blocks name this connector", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_connector(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConnector>,
) -> ApiResult<Json<ConnectorView>> {
    let connector = state.admin.update_connector(caller.by(), &id, body).await?;
    Ok(Json(ConnectorView::from(&connector)))
}

/// Delete a connector; refused while an endpoint uses it.
#[utoipa::path(delete, path = "/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "Connector id (`conn_…`) or name")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, description = "In use; `detail` names the users", body = ErrorBody)))]
async fn delete_connector(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.admin.delete_connector(caller.by(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
