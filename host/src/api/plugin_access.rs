//! Which plugins a caller sees and may change. The operator's admin token
//! sees and changes every plugin. A tenant key sees the shared plugins and
//! its tenant's private ones (another tenant's is answered exactly like a
//! missing plugin), changes only its own, and creates them only when the
//! operator allows its tenant private plugins.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::domain::Name;
use crate::domain::plugin::PluginRecord;
use crate::domain::tenant::{Actor, DEFAULT_TENANT};
use crate::store::Uploader;

/// Whether the caller holds the admin token.
fn is_operator(caller: &Caller) -> bool {
    matches!(caller.by().actor, Actor::Admin)
}

/// Whether `caller` sees `plugin`.
pub(super) fn sees(caller: &Caller, plugin: &PluginRecord) -> bool {
    is_operator(caller) || plugin.usable_by(caller.tenant())
}

/// The plugin `name` if it exists and `caller` sees it, else 404.
pub(super) async fn visible(
    state: &AppState,
    caller: &Caller,
    name: &Name,
) -> ApiResult<PluginRecord> {
    state
        .store
        .plugin(name)
        .await?
        .filter(|plugin| sees(caller, plugin))
        .ok_or_else(|| ApiError::not_found(format!("no plugin named `{name}`")))
}

/// The plugin `name` if `caller` may change it (activate, settings,
/// delete): 404 when unseen, 403 for a tenant key on a shared plugin.
pub(super) async fn changeable(
    state: &AppState,
    caller: &Caller,
    name: &Name,
) -> ApiResult<PluginRecord> {
    let plugin = visible(state, caller, name).await?;
    if !is_operator(caller) && plugin.owner.is_none() {
        return Err(shared_refusal(name));
    }
    Ok(plugin)
}

/// Who an upload by `caller` to `name` is, refused up front (before the
/// component is compiled) when a tenant key may not upload it. The store
/// checks the owner again when it writes, so a race cannot slip past.
pub(super) async fn uploader(
    state: &AppState,
    caller: &Caller,
    name: &Name,
) -> ApiResult<Uploader> {
    let tenant = caller.tenant();
    if is_operator(caller) {
        // The operator acting in a tenant (`X-Wasmhook-Tenant`) creates
        // that tenant's private plugin; in `default`, a shared one.
        let owner = (tenant.as_str() != DEFAULT_TENANT).then(|| tenant.clone());
        return Ok(Uploader::Operator { owner });
    }
    let allowed = state
        .store
        .tenant(tenant)
        .is_some_and(|record| record.allow_private_plugins);
    if !allowed {
        return Err(ApiError::forbidden(
            "private_plugins_not_allowed",
            format!(
                "tenant `{tenant}` may not upload plugins; the operator allows it per tenant \
                 (`allow_private_plugins`)"
            ),
        ));
    }
    match state.store.plugin(name).await? {
        Some(plugin) if plugin.owner.is_none() => Err(shared_refusal(name)),
        Some(plugin) if !plugin.usable_by(tenant) => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "name_taken",
            format!("the plugin name `{name}` is taken; choose another"),
        )),
        _ => Ok(Uploader::Tenant(tenant.clone())),
    }
}

/// Refuses a tenant key's settings change the operator keeps: a plugin's
/// limits bound what one call may cost every tenant, so only the operator
/// raises them; a tenant sets its private block's allowed hosts.
pub(super) fn check_settings(caller: &Caller, changes_limits: bool) -> ApiResult<()> {
    if changes_limits && !is_operator(caller) {
        return Err(ApiError::forbidden(
            "operator_only",
            "limits: only the operator changes a plugin's limits; a tenant sets its private \
             block plugin's `allowed_hosts`",
        ));
    }
    Ok(())
}

fn shared_refusal(name: &Name) -> ApiError {
    ApiError::forbidden(
        "operator_only",
        format!("plugin `{name}` is shared; only the operator changes it"),
    )
}
