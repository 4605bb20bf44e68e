//! Who is calling `/v1`, in which tenant, and whether they may: the admin
//! token (every tenant, named by `X-Wasmhook-Tenant`, `default` when
//! absent; it alone manages tenants and shared plugins) or a tenant key
//! (its own tenant only, within its scopes). What each route needs is
//! one table, [`access_for`], which also labels every operation of the
//! OpenAPI document (`x-wasmhook-access`).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use crate::domain::Name;
use crate::domain::tenant::{
    AuditEntry, KEY_PREFIX, Owned, Principal, Scope, TENANT_HEADER, default_tenant, hash_key,
};
use crate::ids::{AuditId, KeyId, now_ms};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The admin token (tenants, shared plugins).
    Operator,
    /// A key with this scope, or the admin token.
    Scope(Scope),
}

impl Access {
    /// How the OpenAPI document names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Operator => "operator",
            Access::Scope(scope) => scope.as_str(),
        }
    }
}

/// What `method` on the route `path` (as declared, `{id}` and all) needs.
pub fn access_for(method: &Method, path: &str) -> Access {
    let read = method == Method::GET || method == Method::HEAD;
    if path.starts_with("/v1/tenants") {
        return Access::Operator;
    }
    if path.starts_with("/v1/plugins") {
        // Reading and dry-running the plugins a tenant sees is every
        // key's; changing one needs `write`, and the handler lets a key
        // change only its tenant's private plugins (`plugin_access`).
        return if read || path == "/v1/plugins/{name}/invoke" {
            Access::Scope(Scope::Read)
        } else {
            Access::Scope(Scope::Write)
        };
    }
    let scope = match path {
        "/v1/deliveries/{id}/retry"
        | "/v1/deliveries/{id}/release"
        | "/v1/endpoints/{id}/replay" => Scope::Deliveries,
        "/v1/blocks/{name}/invoke" | "/v1/blocks/{name}/test" | "/v1/workflows/run" => {
            Scope::Blocks
        }
        // Rendering a template reads and changes nothing.
        "/v1/render" => Scope::Read,
        // A signing secret is configuration, not something to read.
        "/v1/endpoints/{id}/secret" => Scope::Write,
        _ if read => Scope::Read,
        _ => Scope::Write,
    };
    Access::Scope(scope)
}

/// Who is calling, in which tenant; set by [`authenticate`] on every `/v1`
/// request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// The tenant the request acts in.
    pub fn tenant(&self) -> &Name {
        &self.0.tenant
    }

    /// Who acts, for changes and the audit log.
    pub fn by(&self) -> &Principal {
        &self.0
    }

    /// `record` when it is the caller's tenant's, else the 404 `missing`
    /// makes: another tenant's record is answered exactly like one that
    /// does not exist.
    pub fn own<T: Owned>(
        &self,
        record: Option<T>,
        missing: impl FnOnce() -> ApiError,
    ) -> Result<T, ApiError> {
        record
            .filter(|record| record.tenant() == self.tenant())
            .ok_or_else(missing)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::unauthorized(
                "missing `Authorization: Bearer <admin token or API key>` header",
            )
        })
    }
}

/// When each key's use was last written to the audit log: a key's use is
/// recorded once a minute at most, so a busy key does not fill the log.
#[derive(Debug, Default)]
pub struct KeyUse {
    last_recorded: Mutex<HashMap<KeyId, u64>>,
}

/// How often a key's use is recorded, at most.
const KEY_USE_EVERY_MS: u64 = 60_000;

impl KeyUse {
    /// Whether a use at `now` is to be recorded.
    fn due(&self, key: KeyId, now: u64) -> bool {
        let mut last = self.last_recorded.lock().unwrap_or_else(|p| p.into_inner());
        match last.get(&key) {
            Some(&at) if now.saturating_sub(at) < KEY_USE_EVERY_MS => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// Finds the caller (admin token or tenant key), refuses what it may not
/// do, and hands the handler a [`Caller`].
pub async fn authenticate(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = matched.as_ref().map_or_else(
        || request.uri().path().to_owned(),
        |m| m.as_str().to_owned(),
    );
    let access = access_for(request.method(), &path);
    let principal = principal(&state, request.headers(), access, request.method(), &path).await?;
    request.extensions_mut().insert(Caller(principal));
    Ok(next.run(request).await)
}

async fn principal(
    state: &AppState,
    headers: &HeaderMap,
    access: Access,
    method: &Method,
    path: &str,
) -> Result<Principal, ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing `Authorization: Bearer <admin token or API key>` header",
            )
        })?;
    let named = named_tenant(headers)?;
    if state.admin_token.matches(presented) {
        let tenant = named.unwrap_or_else(default_tenant);
        if state.store.tenant(&tenant).is_none() {
            return Err(ApiError::not_found(format!(
                "{TENANT_HEADER}: no tenant named `{tenant}`"
            )));
        }
        return Ok(Principal::admin(tenant));
    }
    if !presented.starts_with(KEY_PREFIX) {
        return Err(ApiError::unauthorized("the admin token is wrong"));
    }
    let Some((key, tenant)) = state.store.key_by_hash(&hash_key(presented)) else {
        return Err(ApiError::unauthorized("the API key is unknown or revoked"));
    };
    if !tenant.is_active() {
        return Err(ApiError::forbidden(
            "tenant_disabled",
            format!("tenant `{}` is disabled; ask the operator", tenant.name),
        ));
    }
    if named.is_some_and(|named| named != key.tenant) {
        return Err(ApiError::forbidden(
            "tenant_mismatch",
            format!("a tenant key acts in its own tenant only; drop the {TENANT_HEADER} header"),
        ));
    }
    match access {
        Access::Operator => {
            return Err(ApiError::forbidden(
                "operator_only",
                format!("{method} {path} is for the operator's admin token only"),
            ));
        }
        Access::Scope(scope) if !key.allows(scope) => {
            return Err(ApiError::forbidden(
                "missing_scope",
                format!(
                    "key `{}` lacks the `{}` scope that {method} {path} needs",
                    key.name,
                    scope.as_str()
                ),
            ));
        }
        Access::Scope(_) => {}
    }
    let principal = Principal {
        tenant: key.tenant.clone(),
        actor: key.actor(),
    };
    let now = now_ms();
    if state.key_use.due(key.id, now) {
        // Best effort: a log entry that cannot be written does not refuse
        // the request.
        let entry = AuditEntry {
            id: AuditId::new(now),
            tenant: principal.tenant.clone(),
            actor: principal.actor.clone(),
            action: "key.used".to_owned(),
            target: format!("{method} {path}"),
            at: now,
        };
        if let Err(error) = state.store.record_audit(&entry).await {
            tracing::debug!(%error, "audit: a key's use was not recorded");
        }
    }
    Ok(principal)
}

/// The tenant `X-Wasmhook-Tenant` names, if it is there.
fn named_tenant(headers: &HeaderMap) -> Result<Option<Name>, ApiError> {
    let Some(value) = headers.get(TENANT_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::bad_request("invalid_tenant", format!("{TENANT_HEADER}: not text"))
    })?;
    text.trim().parse().map(Some).map_err(|error| {
        ApiError::bad_request("invalid_tenant", format!("{TENANT_HEADER}: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_read_writes_need_write_and_tenants_are_the_operators() {
        assert_eq!(
            access_for(&Method::GET, "/v1/endpoints"),
            Access::Scope(Scope::Read)
        );
        assert_eq!(
            access_for(&Method::POST, "/v1/endpoints"),
            Access::Scope(Scope::Write)
        );
        assert_eq!(
            access_for(&Method::GET, "/v1/endpoints/{id}/secret"),
            Access::Scope(Scope::Write)
        );
        assert_eq!(
            access_for(&Method::POST, "/v1/endpoints/{id}/replay"),
            Access::Scope(Scope::Deliveries)
        );
        assert_eq!(
            access_for(&Method::POST, "/v1/blocks/{name}/invoke"),
            Access::Scope(Scope::Blocks)
        );
        assert_eq!(access_for(&Method::POST, "/v1/tenants"), Access::Operator);
        assert_eq!(access_for(&Method::GET, "/v1/tenants"), Access::Operator);
        assert_eq!(
            access_for(&Method::PUT, "/v1/plugins/{name}"),
            Access::Scope(Scope::Write)
        );
        assert_eq!(
            access_for(&Method::GET, "/v1/plugins"),
            Access::Scope(Scope::Read)
        );
    }

    #[test]
    fn a_key_use_is_recorded_once_a_minute() {
        let uses = KeyUse::default();
        let key = KeyId::new(1);
        assert!(uses.due(key, 1_000));
        assert!(!uses.due(key, 30_000));
        assert!(uses.due(key, 61_001));
    }
}
