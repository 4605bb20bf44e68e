//! The delivery loop: fan new events out into deliveries, then start the
//! attempts that are due and allowed — per endpoint at most
//! `per_endpoint_concurrency` at once (one for `strict` ordering, and only
//! the endpoint's earliest pending delivery), within its rate limit, and
//! never more than `workers` in all. A slow or dead endpoint only ever holds
//! its own slots, so it never delays another endpoint.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::attempt;
use super::clock::Clock;
use super::outbound::OutboundClient;
use super::rate::RateGate;
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::endpoint::{DeliveryOrdering, Endpoint};
use crate::ids::{DeliveryId, EndpointId};
use crate::registry::Registry;
use crate::store::{Due, Store, StoreError};
use crate::telemetry;

/// How the delivery engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Attempts in flight at once, over all endpoints.
    pub workers: usize,
    /// Attempts in flight at once to one endpoint (ordering `none`).
    pub per_endpoint_concurrency: usize,
    /// Deadline of one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Due deliveries looked at per round.
    pub scan_limit: usize,
    /// Longest sleep between rounds when nothing wakes the loop.
    pub idle_poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 128,
            per_endpoint_concurrency: 16,
            attempt_timeout: Duration::from_secs(15),
            scan_limit: 4096,
            idle_poll: Duration::from_millis(500),
        }
    }
}

/// What the loop knows about attempts in flight and endpoints' pacing.
#[derive(Default)]
struct Gates {
    in_flight: HashSet<DeliveryId>,
    per_endpoint: HashMap<EndpointId, usize>,
    rate: HashMap<EndpointId, RateGate>,
}

/// The delivery engine of one server.
pub struct DeliveryEngine {
    pub(super) store: Arc<Store>,
    pub(super) registry: Arc<Registry>,
    pub(super) outbound: OutboundClient,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: EngineConfig,
    wake: Notify,
    gates: Mutex<Gates>,
    workers: Arc<Semaphore>,
}

impl std::fmt::Debug for DeliveryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DeliveryEngine {
    /// An engine over `store`, rendering with `registry`'s plugins and
    /// sending through `outbound`.
    pub fn new(
        store: Arc<Store>,
        registry: Arc<Registry>,
        outbound: OutboundClient,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        DeliveryEngine {
            workers: Arc::new(Semaphore::new(config.workers.max(1))),
            store,
            registry,
            outbound,
            clock,
            config,
            wake: Notify::new(),
            gates: Mutex::new(Gates::default()),
        }
    }

    /// Tells the loop there is new work (events stored, a delivery retried,
    /// an endpoint enabled).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown`; attempts run on `tracker`, so shutdown can
    /// wait for the ones in hand.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, tracker: TaskTracker) {
        let mut sampled_at = 0u64;
        loop {
            if let Err(error) = self.fan_out() {
                tracing::error!(%error, "fan-out failed; retrying");
            }
            let next = match self.dispatch(&tracker) {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "dispatch failed; retrying");
                    None
                }
            };
            let now = self.clock.now_ms();
            if now.saturating_sub(sampled_at) >= 1000 {
                sampled_at = now;
                self.sample_queue(now);
            }
            let sleep = next
                .map(|at| Duration::from_millis(at.saturating_sub(now)))
                .unwrap_or(self.config.idle_poll)
                .min(self.config.idle_poll);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = self.clock.sleep(sleep) => {}
            }
        }
    }

    /// Turns events not yet fanned out into deliveries, in batches, each
    /// batch with the removal of its markers in one transaction.
    pub fn fan_out(&self) -> Result<usize, StoreError> {
        let mut made = 0;
        loop {
            let events = self.store.unfanned_events(512)?;
            if events.is_empty() {
                return Ok(made);
            }
            let endpoints = self.store.endpoints()?;
            let now = self.clock.now_ms();
            let deliveries: Vec<Delivery> = events
                .iter()
                .flat_map(|event| {
                    endpoints
                        .iter()
                        .filter(|endpoint| endpoint.matches(event))
                        .map(move |endpoint| Delivery::new(endpoint.id, event.id, now))
                })
                .collect();
            made += deliveries.len();
            let ids: Vec<_> = events.iter().map(|event| event.id).collect();
            self.store.record_fanout(&deliveries, &ids)?;
        }
    }

    /// Starts every due attempt the gates allow; returns when the loop
    /// should look again at the latest.
    fn dispatch(self: &Arc<Self>, tracker: &TaskTracker) -> Result<Option<u64>, StoreError> {
        let now = self.clock.now_ms();
        let mut wake_at = self.store.next_due_at()?.filter(|at| *at > now);
        let due = self.store.due_deliveries(now, self.config.scan_limit)?;
        let mut endpoints: HashMap<EndpointId, Option<Endpoint>> = HashMap::new();
        let mut blocked: HashSet<EndpointId> = HashSet::new();
        for item in due {
            if blocked.contains(&item.endpoint) {
                continue;
            }
            let endpoint = match endpoints.get(&item.endpoint) {
                Some(found) => found.clone(),
                None => {
                    let found = self.store.endpoint(item.endpoint)?;
                    endpoints.insert(item.endpoint, found.clone());
                    found
                }
            };
            let Some(endpoint) = endpoint else {
                self.fail_orphan(item)?;
                continue;
            };
            if !endpoint.config.enabled {
                blocked.insert(item.endpoint);
                continue;
            }
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            if gates.in_flight.contains(&item.id) {
                continue;
            }
            let busy = gates.per_endpoint.get(&item.endpoint).copied().unwrap_or(0);
            let limit = match endpoint.config.ordering {
                DeliveryOrdering::Strict => 1,
                DeliveryOrdering::Unordered => self.config.per_endpoint_concurrency,
            };
            if busy >= limit {
                blocked.insert(item.endpoint);
                continue;
            }
            if endpoint.config.ordering == DeliveryOrdering::Strict
                && self.store.endpoint_head(item.endpoint)? != Some(item.id)
            {
                // A later delivery waits for the head; the head itself may
                // still be further on in this scan.
                continue;
            }
            if let Some(per_second) = endpoint.config.rate_limit {
                let gate = gates.rate.entry(item.endpoint).or_default();
                if let Err(next_at) = gate.try_take(now, per_second) {
                    wake_at = Some(wake_at.map_or(next_at, |at| at.min(next_at)));
                    blocked.insert(item.endpoint);
                    continue;
                }
            }
            let Ok(permit) = Arc::clone(&self.workers).try_acquire_owned() else {
                break;
            };
            gates.in_flight.insert(item.id);
            *gates.per_endpoint.entry(item.endpoint).or_default() += 1;
            drop(gates);
            let engine = Arc::clone(self);
            tracker.spawn(async move {
                attempt::run(&engine, item, endpoint).await;
                engine.finished(item);
                drop(permit);
            });
        }
        Ok(wake_at)
    }

    /// Queue depth and the oldest due delivery's wait, for `/metrics`.
    fn sample_queue(&self, now: u64) {
        let oldest = self
            .store
            .next_due_at()
            .ok()
            .flatten()
            .map_or(0, |at| now.saturating_sub(at));
        telemetry::delivery_queue(self.store.pending_count(), Duration::from_millis(oldest));
    }

    fn finished(&self, item: Due) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.in_flight.remove(&item.id);
        if let Some(count) = gates.per_endpoint.get_mut(&item.endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                gates.per_endpoint.remove(&item.endpoint);
            }
        }
        drop(gates);
        self.wake.notify_one();
    }

    /// A delivery whose endpoint was deleted: failed, with the reason.
    fn fail_orphan(&self, item: Due) -> Result<(), StoreError> {
        if let Some(mut delivery) = self.store.delivery(item.id)? {
            let previous_due = delivery.next_attempt_at;
            delivery.state = DeliveryState::Failed;
            delivery.next_attempt_at = None;
            delivery.last_error = Some("endpoint_deleted: the endpoint no longer exists".into());
            delivery.updated_at = self.clock.now_ms();
            self.store.update_delivery(&delivery, previous_due)?;
        }
        Ok(())
    }
}
