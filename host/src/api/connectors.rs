//! `/v1/connectors`: stored outbound credentials (CRUD). Secrets go in and
//! never come out: every response is a [`ConnectorView`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiJson;
use crate::domain::Name;
use crate::domain::connector::{self, Connector, ConnectorView, CreateConnector, UpdateConnector};
use crate::ids::{ConnectorId, now_ms};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connectors, create_connector))
        .routes(routes!(get_connector, update_connector, delete_connector))
}

/// A connector by id (`conn_…`) or by name.
fn lookup(state: &AppState, key: &str) -> ApiResult<Connector> {
    let found = if let Ok(id) = key.parse::<ConnectorId>() {
        state.store.connector(id)?
    } else if let Ok(name) = key.parse::<Name>() {
        state.store.connector_by_name(&name)?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::not_found(format!("no connector `{key}`")))
}

fn check(connector: &Connector) -> ApiResult<()> {
    connector::validate(connector.description.as_deref(), &connector.auth)
        .map_err(|error| ApiError::invalid("invalid_field", error.to_string()))
}

/// Refuses `name` when another connector has it. Call under the config lock.
fn check_name_free(state: &AppState, name: &Name, own: Option<ConnectorId>) -> ApiResult<()> {
    match state.store.connector_by_name(name)? {
        Some(other) if Some(other.id) != own => Err(ApiError::conflict(format!(
            "a connector named `{name}` exists ({})",
            other.id
        ))),
        _ => Ok(()),
    }
}

/// List connectors, oldest first (secrets withheld).
#[utoipa::path(get, path = "/v1/connectors", tag = "connectors",
    responses((status = 200, body = Vec<ConnectorView>), (status = 401, body = ErrorBody)))]
async fn list_connectors(State(state): State<AppState>) -> ApiResult<Json<Vec<ConnectorView>>> {
    Ok(Json(
        state
            .store
            .connectors()?
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
    ApiJson(body): ApiJson<CreateConnector>,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    let now = now_ms();
    let connector = Connector {
        id: ConnectorId::new(now),
        name: body.name,
        description: body.description,
        auth: body.auth,
        created_at: now,
        updated_at: now,
    };
    check(&connector)?;
    {
        let _guard = state.store.config_lock();
        check_name_free(&state, &connector.name, None)?;
        state.store.put_connector(&connector)?;
    }
    state.store.durable().await?;
    tracing::info!(connector = %connector.id, name = %connector.name, kind = ?connector.auth.kind(), "connector created");
    Ok((StatusCode::CREATED, Json(ConnectorView::from(&connector))))
}

/// One connector, by id or name (secrets withheld).
#[utoipa::path(get, path = "/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "Connector id (`conn_…`) or name")),
    responses((status = 200, body = ConnectorView), (status = 404, body = ErrorBody)))]
async fn get_connector(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    Ok(Json(ConnectorView::from(&lookup(&state, &id)?)))
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
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConnector>,
) -> ApiResult<Json<ConnectorView>> {
    let connector = {
        let _guard = state.store.config_lock();
        let mut connector = lookup(&state, &id)?;
        if let Some(name) = body.name.filter(|name| *name != connector.name) {
            check_name_free(&state, &name, Some(connector.id))?;
            // Blocks name their connector (endpoints hold its id): a rename
            // would leave them naming nothing.
            let blocks = state.store.blocks_using_connector(&connector.name)?;
            if !blocks.is_empty() {
                let names: Vec<String> = blocks
                    .iter()
                    .map(|block| format!("`{}`", block.name))
                    .collect();
                return Err(ApiError::conflict(format!(
                    "connector `{}` cannot be renamed while blocks name it: {}; change those blocks first",
                    connector.name,
                    names.join(", ")
                )));
            }
            connector.name = name;
        }
        if let Some(auth) = body.auth {
            connector.auth = auth;
        }
        if body.description.is_some() {
            connector.description = body.description;
        }
        check(&connector)?;
        connector.updated_at = now_ms();
        state.store.put_connector(&connector)?;
        connector
    };
    state.store.durable().await?;
    Ok(Json(ConnectorView::from(&connector)))
}

/// Delete a connector; refused while an endpoint uses it.
#[utoipa::path(delete, path = "/v1/connectors/{id}", tag = "connectors",
    params(("id" = String, Path, description = "Connector id (`conn_…`) or name")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, description = "In use; `detail` names the users", body = ErrorBody)))]
async fn delete_connector(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    {
        let _guard = state.store.config_lock();
        let connector = lookup(&state, &id)?;
        let users = crate::usage::connector_users(&state.store, connector.id)?;
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "connector `{}` is used by {}; change or delete those first",
                connector.name,
                users.join(", ")
            )));
        }
        state.store.delete_connector(connector.id)?;
    }
    state.store.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}
