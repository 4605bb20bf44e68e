//! The background sweep that removes each tenant's records older than its
//! event retention (`quotas.event_retention_days`; a tenant without one
//! keeps everything) and accepted callbacks older than the callback
//! retention (or their tenant's, when shorter), every
//! `retention_sweep_secs`, in small batches on a blocking thread so ingest
//! and delivery are never held up behind it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::delivery::Clock;
use crate::domain::Name;
use crate::store::{Expired, SweepCursor};
use crate::store::{Store, StoreError};
use crate::telemetry;

/// Records of each kind one batch reads at most: small enough that a
/// batch holds the store's trees only briefly.
const BATCH: usize = 2_000;

const DAY_MS: u64 = 86_400_000;

/// How often the sweep runs, and how long accepted callbacks are kept.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// Time between sweeps.
    pub every: Duration,
    /// Age past which a kept callback goes.
    pub kept_callbacks: Duration,
}

/// Sweeps every `windows.every` until `shutdown`. Time is the delivery
/// engine's clock, so a scaled clock (tests) ages records as fast as it
/// runs.
pub async fn run(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    windows: Windows,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(windows.every) => {}
        }
        let (store, now, stop) = (Arc::clone(&store), clock.now_ms(), shutdown.clone());
        // A sweep reads many records: on a blocking thread, so the embedded
        // store's reads never hold an async worker.
        let swept = tokio::task::spawn_blocking(move || {
            crate::store::wait(sweep(&store, now, windows.kept_callbacks, &stop))
        });
        match swept.await {
            Ok(Ok(expired)) => report(&expired),
            Ok(Err(error)) => tracing::warn!(%error, "retention sweep failed; retrying next time"),
            Err(error) => tracing::warn!(%error, "retention sweep panicked"),
        }
    }
}

/// Each tenant's cutoff at `now_ms` (epoch ms): what was created before
/// it is past the tenant's retention.
pub fn cutoffs(store: &Store, now_ms: u64) -> HashMap<Name, u64> {
    store
        .tenants()
        .into_iter()
        .filter_map(|tenant| {
            let days = tenant.quotas.event_retention_days?;
            Some((tenant.name, now_ms.saturating_sub(u64::from(days) * DAY_MS)))
        })
        .collect()
}

/// One full sweep at `now_ms`, batch after batch until done or `stop` is
/// cancelled (shutdown need not wait for a long sweep); what it removed
/// per tenant.
pub async fn sweep(
    store: &Store,
    now_ms: u64,
    keep_callbacks_for: Duration,
    stop: &CancellationToken,
) -> Result<HashMap<Name, Expired>, StoreError> {
    let cutoffs = cutoffs(store, now_ms);
    let mut cursor = SweepCursor::default();
    let mut total: HashMap<Name, Expired> = HashMap::new();
    loop {
        let batch = store.expire(&cutoffs, &mut cursor, BATCH).await?;
        for (tenant, expired) in batch.expired {
            let sum = total.entry(tenant).or_default();
            sum.events += expired.events;
            sum.deliveries += expired.deliveries;
            sum.rejected += expired.rejected;
        }
        if !batch.more || stop.is_cancelled() {
            break;
        }
    }
    let window_cutoff = now_ms.saturating_sub(keep_callbacks_for.as_millis() as u64);
    let mut cursor = None;
    loop {
        let (removed, more) = store
            .expire_kept_callbacks(&cutoffs, window_cutoff, &mut cursor, BATCH)
            .await?;
        for (tenant, count) in removed {
            total.entry(tenant).or_default().callbacks += count;
        }
        if !more || stop.is_cancelled() {
            return Ok(total);
        }
    }
}

fn report(expired: &HashMap<Name, Expired>) {
    for (tenant, counts) in expired {
        telemetry::records_expired(tenant.as_str(), "event", counts.events);
        telemetry::records_expired(tenant.as_str(), "delivery", counts.deliveries);
        telemetry::records_expired(tenant.as_str(), "rejected", counts.rejected);
        telemetry::records_expired(tenant.as_str(), "callback", counts.callbacks);
        tracing::info!(
            tenant = %tenant,
            events = counts.events,
            deliveries = counts.deliveries,
            rejected = counts.rejected,
            callbacks = counts.callbacks,
            "retention: removed records past the tenant's retention"
        );
    }
}

#[cfg(test)]
mod tests {
    //! The sweeper on a real store, its clock injected two days ahead.

    use std::future::Future;
    use std::pin::Pin;

    use super::*;
    use crate::domain::endpoint::tests::event;
    use crate::domain::tenant::{Quotas, Tenant};
    use crate::ids::EventId;
    use crate::store::NewEvent;

    /// Wall-clock time shifted `ahead_ms` into the future.
    #[derive(Debug)]
    struct Ahead(u64);

    impl Clock for Ahead {
        fn now_ms(&self) -> u64 {
            crate::ids::now_ms() + self.0
        }

        fn monotonic_ms(&self) -> u64 {
            self.now_ms()
        }

        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            Box::pin(tokio::time::sleep(duration))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweeper_removes_what_its_clock_says_is_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let mut brief = Tenant::new("brief".parse().unwrap(), 1);
        brief.quotas = Quotas {
            event_retention_days: Some(1),
            ..Quotas::default()
        };
        store.create_tenant(&brief).await.unwrap();
        store
            .create_tenant(&Tenant::new("keep".parse().unwrap(), 1))
            .await
            .unwrap();
        let now = crate::ids::now_ms();
        for (tenant, message) in [
            (&brief.name, "brief-1"),
            (&"keep".parse().unwrap(), "keep-1"),
        ] {
            store
                .insert_events(&[NewEvent {
                    tenant: tenant.clone(),
                    event: event(EventId::new(now), message),
                    deliveries: Vec::new(),
                }])
                .await
                .unwrap();
        }
        assert_eq!(store.event_count().await, 2);

        let shutdown = CancellationToken::new();
        let sweeper = tokio::spawn(run(
            Arc::clone(&store),
            Arc::new(Ahead(2 * DAY_MS)),
            Windows {
                every: Duration::from_millis(10),
                kept_callbacks: Duration::from_secs(3600),
            },
            shutdown.clone(),
        ));
        // Wait for the state, bounded: brief's event goes, keep's stays.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while store.event_count().await != 1 {
            assert!(std::time::Instant::now() < deadline, "the sweep never ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        sweeper.await.unwrap();
        let kept = store
            .list_events(
                &"keep".parse().unwrap(),
                &crate::domain::event::EventFilter::default(),
                10,
            )
            .await;
        assert_eq!(kept.unwrap().data.len(), 1);
    }
}
