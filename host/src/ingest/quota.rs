//! Each tenant's ingest quota: at most `quotas.ingest_per_second` vendor
//! callbacks a second over all its sources, with a burst of one second's
//! worth. A callback over it is refused before its mapper runs, so a tenant
//! flooding the server spends none of the plugin time or store writes the
//! other tenants need. One limiter per tenant (governor's GCRA), rebuilt
//! when the tenant's quota changes.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::domain::Name;
use crate::domain::tenant::Tenant;

/// The limiters of the tenants with an ingest quota.
#[derive(Debug, Default)]
pub struct IngestQuotas {
    limiters: RwLock<HashMap<Name, (u32, Arc<DefaultDirectRateLimiter>)>>,
}

impl IngestQuotas {
    /// Counts one callback for `tenant`: `false` when it is over its quota
    /// (one more is let in within a second: the quota is per second).
    pub fn admit(&self, tenant: &Tenant) -> bool {
        let Some(per_second) = tenant.quotas.ingest_per_second.and_then(NonZeroU32::new) else {
            return true;
        };
        self.limiter(&tenant.name, per_second).check().is_ok()
    }

    fn limiter(&self, tenant: &Name, per_second: NonZeroU32) -> Arc<DefaultDirectRateLimiter> {
        if let Some((rate, limiter)) = self
            .limiters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            && *rate == per_second.get()
        {
            return Arc::clone(limiter);
        }
        let mut limiters = self.limiters.write().unwrap_or_else(|p| p.into_inner());
        let entry = limiters.entry(tenant.clone()).or_insert_with(|| {
            (
                0,
                Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
            )
        });
        if entry.0 != per_second.get() {
            *entry = (
                per_second.get(),
                Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
            );
        }
        Arc::clone(&entry.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::Quotas;

    fn tenant(name: &str, per_second: Option<u32>) -> Tenant {
        let mut tenant = Tenant::new(name.parse().unwrap(), 1);
        tenant.quotas = Quotas {
            ingest_per_second: per_second,
            ..Quotas::default()
        };
        tenant
    }

    #[test]
    fn a_tenant_past_its_quota_is_refused_and_others_are_not() {
        let quotas = IngestQuotas::default();
        let limited = tenant("limited", Some(5));
        let free = tenant("free", None);
        let admitted = (0..50).filter(|_| quotas.admit(&limited)).count();
        // A burst of one second's worth, and perhaps one more as time passes.
        assert!((5..=6).contains(&admitted), "admitted {admitted}");
        assert!((0..1000).all(|_| quotas.admit(&free)));
    }

    #[test]
    fn a_raised_quota_takes_effect_at_once() {
        let quotas = IngestQuotas::default();
        let mut acme = tenant("acme", Some(1));
        assert!(quotas.admit(&acme));
        assert!(!quotas.admit(&acme));
        acme.quotas.ingest_per_second = Some(100);
        assert!(quotas.admit(&acme));
    }
}
