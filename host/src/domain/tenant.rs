//! Tenants: the operator's customers. Every source, endpoint, connector,
//! block, event, delivery and rejected callback belongs to one; a tenant's
//! API keys act inside it only, with scopes. The `default` tenant holds
//! what existed before tenants and what the admin token touches when it
//! names no tenant, so a single-tenant operator notices nothing.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Name, Secret};
use crate::ids::{AuditId, KeyId};

/// The tenant records without one belong to, and the admin token's
/// tenant when it names none.
pub const DEFAULT_TENANT: &str = "default";

/// The header the admin token names a tenant with.
pub const TENANT_HEADER: &str = "x-wasmhook-tenant";

/// The prefix of every tenant API key.
pub const KEY_PREFIX: &str = "whk_";

/// The `default` tenant's name (serde's default for records written before
/// tenants).
pub fn default_tenant() -> Name {
    DEFAULT_TENANT
        .parse()
        .expect("`default` is a valid name (unit-tested)")
}

/// Whether `tenant` is the default one.
pub fn is_default(tenant: &Name) -> bool {
    tenant.as_str() == DEFAULT_TENANT
}

/// What a tenant may use. Absent limits are unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Vendor callbacks a second over all the tenant's sources; beyond it
    /// ingest answers 429 with `Retry-After`.
    #[serde(default)]
    pub ingest_per_second: Option<u32>,
    /// How many endpoints the tenant may have.
    #[serde(default)]
    pub max_endpoints: Option<u32>,
    /// How many sources the tenant may have.
    #[serde(default)]
    pub max_sources: Option<u32>,
    /// The tenant's weight in the plugin execution queue when plugins are
    /// busy (default 1, at most 1000): a tenant of weight 2 gets twice the
    /// turns of one of weight 1, and while others have calls waiting it
    /// runs at most its weighted share of the instance pool.
    #[serde(default)]
    pub plugin_share: Option<u32>,
    /// Days the tenant's events, finished deliveries and rejected callbacks
    /// are kept (default: forever); an event a delivery still waits on is
    /// kept until it is finished.
    #[serde(default)]
    pub event_retention_days: Option<u32>,
}

impl Quotas {
    /// Refuses values that make no sense (zero shares, zero rates).
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("quotas.ingest_per_second", self.ingest_per_second),
            ("quotas.plugin_share", self.plugin_share),
            ("quotas.event_retention_days", self.event_retention_days),
        ] {
            if value == Some(0) {
                return Err(format!(
                    "{field}: must be at least 1 (omit it for no limit)"
                ));
            }
        }
        if self.plugin_share.is_some_and(|share| share > 1000) {
            return Err("quotas.plugin_share: at most 1000".to_owned());
        }
        Ok(())
    }
}

/// A tenant as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    /// Its name: what `X-Wasmhook-Tenant` names, unique, never changes.
    #[schema(value_type = String)]
    pub name: Name,
    /// Free text for people (the customer's name).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its limits.
    #[serde(default)]
    pub quotas: Quotas,
    /// Whether its keys may upload private plugins (only it sees them).
    #[serde(default)]
    pub allow_private_plugins: bool,
    /// A disabled tenant's keys are refused and its sources refuse
    /// callbacks (403); what it had accepted is still delivered.
    #[serde(default)]
    pub disabled: bool,
    /// Epoch ms.
    pub created_at: u64,
    /// Epoch ms.
    pub updated_at: u64,
    /// When it was soft-deleted, epoch ms; `null` while it is live. A
    /// deleted tenant acts like a disabled one and can be restored.
    #[serde(default)]
    pub deleted_at: Option<u64>,
}

impl Tenant {
    /// A new live tenant.
    pub fn new(name: Name, now_ms: u64) -> Self {
        Tenant {
            name,
            display_name: None,
            quotas: Quotas::default(),
            allow_private_plugins: false,
            disabled: false,
            created_at: now_ms,
            updated_at: now_ms,
            deleted_at: None,
        }
    }

    /// Whether it may act: neither disabled nor deleted.
    pub fn is_active(&self) -> bool {
        !self.disabled && self.deleted_at.is_none()
    }
}

/// What `POST /v1/tenants` takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Its name (a slug).
    #[schema(value_type = String)]
    pub name: Name,
    /// Free text.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its limits.
    #[serde(default)]
    pub quotas: Quotas,
    /// Whether its keys may upload private plugins.
    #[serde(default)]
    pub allow_private_plugins: bool,
}

/// What `PATCH /v1/tenants/{tenant}` takes: the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    /// Free text.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its limits, replaced whole.
    #[serde(default)]
    pub quotas: Option<Quotas>,
    /// Whether its keys may upload private plugins.
    #[serde(default)]
    pub allow_private_plugins: Option<bool>,
    /// Disable (`true`) or enable (`false`).
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// The longest display name accepted.
pub const MAX_DISPLAY_NAME: usize = 200;

impl UpdateTenant {
    /// Applies the fields given to `tenant`.
    pub fn apply(self, tenant: &mut Tenant, now_ms: u64) {
        if let Some(display_name) = self.display_name {
            tenant.display_name = Some(display_name);
        }
        if let Some(quotas) = self.quotas {
            tenant.quotas = quotas;
        }
        if let Some(allow) = self.allow_private_plugins {
            tenant.allow_private_plugins = allow;
        }
        if let Some(disabled) = self.disabled {
            tenant.disabled = disabled;
        }
        tenant.updated_at = now_ms;
    }
}

/// What a tenant key may do. Reading needs `read`; changing configuration
/// (sources, endpoints, connectors, blocks, private plugins) needs
/// `write`; retrying, releasing and replaying deliveries needs
/// `deliveries`; invoking and testing blocks needs `blocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read everything of the tenant.
    Read,
    /// Change its configuration.
    Write,
    /// Retry, release and replay its deliveries.
    Deliveries,
    /// Invoke and test its blocks and workflows.
    Blocks,
}

impl Scope {
    /// Every scope, for the admin token.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Deliveries, Scope::Blocks];

    /// The scope's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Deliveries => "deliveries",
            Scope::Blocks => "blocks",
        }
    }
}

/// A tenant's API key as stored: the secret only as its SHA-256 (the key
/// is 32 random bytes, so a fast hash cannot be brute-forced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// What it is listed and revoked by.
    pub id: KeyId,
    /// Its tenant.
    pub tenant: Name,
    /// Free text naming its holder (shown in the audit log).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// The key's first characters, so people can tell keys apart.
    pub hint: String,
    /// Epoch ms.
    pub created_at: u64,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<u64>,
}

impl ApiKey {
    /// The actor requests made with it are recorded as.
    pub fn actor(&self) -> Actor {
        Actor::Key {
            id: self.id,
            name: self.name.clone(),
        }
    }

    /// A new key for `tenant`, and the secret to show once.
    pub fn generate(tenant: Name, name: String, scopes: Vec<Scope>, now_ms: u64) -> (Self, Secret) {
        let secret = Secret::generate(KEY_PREFIX);
        let key = ApiKey {
            id: KeyId::new(now_ms),
            tenant,
            name,
            scopes,
            hash: hash_key(secret.expose()),
            hint: secret.expose().chars().take(KEY_PREFIX.len() + 6).collect(),
            created_at: now_ms,
            revoked_at: None,
        };
        (key, secret)
    }

    /// Whether it may do what `scope` allows.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The hex SHA-256 a presented key is looked up by.
pub fn hash_key(presented: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(presented.as_bytes()))
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    /// Its id (`key_…`).
    #[schema(value_type = String)]
    pub id: KeyId,
    /// Its tenant.
    #[schema(value_type = String)]
    pub tenant: Name,
    /// Its holder.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Its first characters.
    pub hint: String,
    /// Epoch ms.
    pub created_at: u64,
    /// When it was revoked.
    pub revoked_at: Option<u64>,
}

impl From<&ApiKey> for KeyView {
    fn from(key: &ApiKey) -> Self {
        KeyView {
            id: key.id,
            tenant: key.tenant.clone(),
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            hint: key.hint.clone(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// What `POST /v1/tenants/{tenant}/keys` takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Who holds it (1–100 characters), shown in the audit log.
    pub name: String,
    /// What it may do (at least one).
    pub scopes: Vec<Scope>,
}

impl CreateKey {
    /// Refuses an empty or overlong name and an empty scope list.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("name: 1 to 100 characters".to_owned());
        }
        if self.scopes.is_empty() {
            return Err(
                "scopes: at least one of `read`, `write`, `deliveries`, `blocks`".to_owned(),
            );
        }
        Ok(())
    }
}

/// Who made a request: the operator's admin token, or a tenant's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The admin token.
    Admin,
    /// A tenant API key.
    Key {
        /// The key's id.
        #[schema(value_type = String)]
        id: KeyId,
        /// The key's name.
        name: String,
    },
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Admin => f.write_str("admin"),
            Actor::Key { id, name } => write!(f, "key `{name}` ({id})"),
        }
    }
}

/// Who acts, in which tenant: what every change and read is done as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant acted in.
    pub tenant: Name,
    /// Who acts.
    pub actor: Actor,
}

impl Principal {
    /// The admin token acting in `tenant`.
    pub fn admin(tenant: Name) -> Self {
        Principal {
            tenant,
            actor: Actor::Admin,
        }
    }

    /// The admin token in the default tenant (startup, the CLI's local
    /// commands, tests).
    pub fn operator() -> Self {
        Self::admin(default_tenant())
    }
}

/// One entry of a tenant's audit log: a configuration change, or a key's
/// use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Its id (`aud_…`), ordered by time.
    #[schema(value_type = String)]
    pub id: AuditId,
    /// The tenant it happened in.
    #[schema(value_type = String)]
    pub tenant: Name,
    /// Who.
    pub actor: Actor,
    /// What, as `resource.verb` (`endpoint.create`, `key.used`, …).
    pub action: String,
    /// Which record (a name or id), or the request for `key.used`.
    pub target: String,
    /// Epoch ms.
    pub at: u64,
}

/// Records that belong to a tenant.
pub trait Owned {
    /// The tenant it belongs to.
    fn tenant(&self) -> &Name;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tenant_is_a_name() {
        assert!(is_default(&default_tenant()));
    }

    #[test]
    fn keys_are_shown_once_and_stored_hashed() {
        let (key, secret) = ApiKey::generate(default_tenant(), "ci".into(), vec![Scope::Read], 1);
        assert!(secret.expose().starts_with(KEY_PREFIX));
        assert_eq!(key.hash, hash_key(secret.expose()));
        assert!(!key.hash.contains(&secret.expose()[4..]));
        assert!(secret.expose().starts_with(&key.hint));
        assert!(key.allows(Scope::Read) && !key.allows(Scope::Write));
    }

    #[test]
    fn zero_quotas_are_refused() {
        let quotas = Quotas {
            ingest_per_second: Some(0),
            ..Quotas::default()
        };
        assert!(quotas.validate().unwrap_err().contains("ingest_per_second"));
        assert!(Quotas::default().validate().is_ok());
    }
}
