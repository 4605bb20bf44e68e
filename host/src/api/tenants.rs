//! `/v1/tenants`: the operator's customers (create, list, change quotas,
//! disable, soft delete and restore) and their API keys (create, shown
//! once; list without secrets; revoke) — the admin token's alone. Also
//! what any caller may read of its own tenant: `/v1/tenant` (quotas and
//! usage) and `/v1/audit` (its audit log).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::shared::page_limit;
use crate::domain::Name;
use crate::domain::tenant::{CreateKey, CreateTenant, KeyView, Tenant, UpdateTenant};
use crate::ids::{AuditId, KeyId};
use crate::store::AuditPage;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(restore_tenant))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(own_tenant))
        .routes(routes!(audit_log))
}

/// What a tenant uses of its quotas.
#[derive(Debug, Serialize, ToSchema)]
struct Usage {
    /// Its sources.
    sources: usize,
    /// Its endpoints.
    endpoints: usize,
}

/// A tenant with what it uses.
#[derive(Debug, Serialize, ToSchema)]
struct TenantView {
    #[serde(flatten)]
    tenant: Tenant,
    /// Counted against `quotas`.
    usage: Usage,
}

impl TenantView {
    fn of(state: &AppState, tenant: Tenant) -> Self {
        let (sources, endpoints) = state.store.tenant_usage(&tenant.name);
        TenantView {
            tenant,
            usage: Usage { sources, endpoints },
        }
    }
}

fn parse_tenant(name: &str) -> ApiResult<Name> {
    name.parse()
        .map_err(|_| ApiError::not_found(format!("no tenant named `{name}`")))
}

fn lookup(state: &AppState, name: &str) -> ApiResult<Tenant> {
    state
        .store
        .tenant(&parse_tenant(name)?)
        .map(|tenant| Tenant::clone(&tenant))
        .ok_or_else(|| ApiError::not_found(format!("no tenant named `{name}`")))
}

/// `?deleted=true` lists soft-deleted tenants.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListTenants {
    /// `true` lists only soft-deleted tenants.
    #[serde(default)]
    deleted: bool,
}

/// List tenants by name (live ones, or with `?deleted=true` the deleted).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(ListTenants),
    responses((status = 200, body = Vec<TenantView>)))]
async fn list_tenants(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListTenants>,
) -> ApiResult<Json<Vec<TenantView>>> {
    Ok(Json(
        state
            .store
            .tenants()
            .into_iter()
            .filter(|tenant| tenant.deleted_at.is_some() == params.deleted)
            .map(|tenant| TenantView::of(&state, tenant))
            .collect(),
    ))
}

/// Create a tenant: a customer with its own sources, endpoints,
/// connectors, blocks, events, keys and quotas.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 201, body = TenantView),
        (status = 409, description = "The name is taken (perhaps by a deleted tenant)", body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let tenant = state.admin.create_tenant(body).await?;
    Ok((StatusCode::CREATED, Json(TenantView::of(&state, tenant))))
}

/// One tenant, with its usage.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
async fn get_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let tenant = lookup(&state, &name)?;
    Ok(Json(TenantView::of(&state, tenant)))
}

/// Change a tenant: display name, quotas (replaced whole), private
/// plugins, `disabled`.
#[utoipa::path(patch, path = "/v1/tenants/{tenant}", tag = "tenants", request_body = UpdateTenant,
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
async fn update_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    let tenant = state
        .admin
        .update_tenant(&parse_tenant(&name)?, body)
        .await?;
    Ok(Json(TenantView::of(&state, tenant)))
}

/// Soft-delete a tenant: its keys and sources are refused, its records
/// kept; restore it with `POST …/restore`. `default` cannot be deleted.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, description = "Already deleted, or `default`", body = ErrorBody)))]
async fn delete_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.admin.delete_tenant(&parse_tenant(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restore a soft-deleted tenant.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/restore", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody),
        (status = 409, description = "Not deleted", body = ErrorBody)))]
async fn restore_tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let tenant = state.admin.restore_tenant(&parse_tenant(&name)?).await?;
    Ok(Json(TenantView::of(&state, tenant)))
}

/// A tenant's keys, oldest first, revoked ones included; never a secret.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 200, body = Vec<KeyView>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    let tenant = lookup(&state, &name)?;
    Ok(Json(
        state
            .store
            .keys(&tenant.name)
            .await?
            .iter()
            .map(KeyView::from)
            .collect(),
    ))
}

/// A new key, with its secret: shown here only.
#[derive(Debug, Serialize, ToSchema)]
struct KeyCreated {
    #[serde(flatten)]
    view: KeyView,
    /// The key (`whk_…`): `Authorization: Bearer <key>`. Store it now; it is
    /// kept only as a hash.
    key: String,
}

/// Create an API key for a tenant with scopes `read`, `write`,
/// `deliveries`, `blocks`. The answer carries the key, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "tenants", request_body = CreateKey,
    params(("tenant" = String, Path, description = "Tenant name")),
    responses((status = 201, body = KeyCreated), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<KeyCreated>)> {
    let (key, secret) = state.admin.create_key(&parse_tenant(&name)?, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            view: KeyView::from(&key),
            key: secret.expose().to_owned(),
        }),
    ))
}

/// Revoke a key: refused from now on. Revoking a revoked key answers it
/// as it is.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{key}", tag = "tenants",
    params(("tenant" = String, Path, description = "Tenant name"),
        ("key" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 200, body = KeyView), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<Json<KeyView>> {
    let id: KeyId = key
        .parse()
        .map_err(|_| ApiError::not_found(format!("no key `{key}`")))?;
    let key = state.admin.revoke_key(&parse_tenant(&name)?, id).await?;
    Ok(Json(KeyView::from(&key)))
}

/// The caller's own tenant: its quotas and what it uses of them.
#[utoipa::path(get, path = "/v1/tenant", tag = "tenants",
    responses((status = 200, body = TenantView)))]
async fn own_tenant(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<TenantView>> {
    let tenant = lookup(&state, caller.tenant().as_str())?;
    Ok(Json(TenantView::of(&state, tenant)))
}

/// `?before=aud_…&limit=N`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    before: Option<AuditId>,
    /// Page size, 1–1000 (default 100).
    #[serde(default)]
    limit: Option<usize>,
}

/// The caller's tenant's audit log, newest first: every configuration
/// change (who: `admin` or a key; what; when) and each key's use (once a
/// minute at most).
#[utoipa::path(get, path = "/v1/audit", tag = "tenants", params(AuditParams),
    responses((status = 200, body = AuditPage)))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let limit = page_limit(params.limit)?;
    Ok(Json(
        state
            .store
            .audit_log(caller.tenant(), params.before, limit)
            .await?,
    ))
}
