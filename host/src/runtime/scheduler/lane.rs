//! What a plugin call is charged to in the fair queue: a [`Lane`] (a
//! source, an endpoint, a block) inside a tenant's group, which carries the
//! tenant's weight.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The largest weight a group counts with: `quotas.plugin_share` allows
/// at most 1000, and a bound keeps the queue's arithmetic exact.
pub(super) const MAX_WEIGHT: u32 = 1000;

/// Whose calls a lane's are: a tenant, or `None` for calls that name no
/// tenant (the operator's: the CLI, tests, a plugin's own lane).
pub(super) type Group = Option<Arc<str>>;

/// What a call is charged to for fairness, e.g. `source:gupshup-wa` of
/// tenant `acme`. Two lanes are the same when their tenant and key are:
/// the weight is the tenant's as of the call, not part of the identity, so
/// a quota change does not split a lane in two.
#[derive(Debug, Clone)]
pub struct Lane {
    key: Arc<str>,
    group: Group,
    weight: u32,
}

impl Lane {
    /// A lane named `key` of no tenant: it shares one group, of weight 1,
    /// with every other call that names no tenant.
    pub fn new(key: impl AsRef<str>) -> Self {
        Lane {
            key: Arc::from(key.as_ref()),
            group: None,
            weight: 1,
        }
    }

    /// A lane named `key` of `tenant`, whose calls together get `weight`
    /// shares of the queue (at least 1, at most 1000).
    pub fn of_tenant(tenant: &str, weight: u32, key: impl AsRef<str>) -> Self {
        Lane {
            key: Arc::from(key.as_ref()),
            group: Some(Arc::from(tenant)),
            weight: weight.clamp(1, MAX_WEIGHT),
        }
    }

    /// The lane's name.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// Its tenant, empty for a lane of no tenant.
    pub fn tenant(&self) -> &str {
        self.group.as_deref().unwrap_or("")
    }

    pub(super) fn group(&self) -> &Group {
        &self.group
    }

    pub(super) fn weight(&self) -> u32 {
        self.weight
    }
}

impl PartialEq for Lane {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.group == other.group
    }
}

impl Eq for Lane {}

impl Hash for Lane {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
        self.group.hash(state);
    }
}

/// The key alone: what errors name (`source:<name>` is unique already; the
/// tenant is a label of its own in metrics).
impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}
