//! The delivery loop. New events come with their deliveries (the ingest
//! service fans them out, see [`super::fan_out`], and the store writes both
//! in one transaction); events an earlier version stored with a marker
//! instead are fanned out when the loop starts. The loop starts the attempts that are due and allowed — per endpoint at most
//! `per_endpoint_concurrency` at once (one for `endpoint` ordering, and only
//! the endpoint's earliest pending delivery; with `key` ordering only each
//! key's head is due, so keys go in parallel and each in order), within its
//! rate limit, and never more than `workers` in all. A slow or dead endpoint
//! only ever holds its own slots, so it never delays another endpoint.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::attempt;
use super::clock::Clock;
use super::fan_out::deliveries_for;
use super::rate::{RateGate, Wait};
use crate::domain::delivery::Delivery;
use crate::domain::endpoint::OrderingMode;
use crate::ids::{DeliveryId, EndpointId};
use crate::outbound::{AddressPolicy, OutboundClient};
use crate::registry::Registry;
use crate::store::{Due, Store, StoreError};
use crate::telemetry;

/// How often `/metrics`' queue depth and oldest pending age are sampled.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// How the delivery engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Attempts in flight at once, over all endpoints.
    pub workers: usize,
    /// Attempts in flight at once to one endpoint (ordering `none` or
    /// `key`).
    pub per_endpoint_concurrency: usize,
    /// Deadline of one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Longest sleep between rounds when nothing wakes the loop.
    pub idle_poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 128,
            per_endpoint_concurrency: 16,
            attempt_timeout: Duration::from_secs(15),
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
    /// The engine's clock (scaled in tests): what ages records too.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

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

    /// The address rules outbound requests are held to (the operator's
    /// allowlist), for refusing at once a target they always refuse.
    pub fn address_policy(&self) -> &AddressPolicy {
        self.outbound.policy()
    }

    /// Tells the loop there is new work (events stored, a delivery retried,
    /// an endpoint enabled).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown`; attempts run on `tracker`, so shutdown can
    /// wait for the ones in hand.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, tracker: TaskTracker) {
        tokio::spawn(Arc::clone(&self).sample_queue_every(QUEUE_SAMPLE_EVERY, shutdown.clone()));
        let mut markers_left = true;
        // Other nodes' new deliveries, on a shared store.
        let others_stored = self.store.new_deliveries();
        let others_stored = || async {
            match &others_stored {
                Some(notify) => notify.notified().await,
                None => std::future::pending().await,
            }
        };
        loop {
            if markers_left {
                match self.fan_out_marked_events().await {
                    Ok(_) => markers_left = false,
                    Err(error) => {
                        tracing::error!(%error, "fan-out of marked events failed; retrying")
                    }
                }
            }
            let next = match self.dispatch(&tracker).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(%error, "dispatch failed; retrying");
                    None
                }
            };
            let now = self.clock.now_ms();
            let sleep = next
                .map(|at| Duration::from_millis(at.saturating_sub(now)))
                .unwrap_or(self.config.idle_poll)
                .min(self.config.idle_poll);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = others_stored() => {}
                _ = self.clock.sleep(sleep) => {}
            }
        }
    }

    /// Fans out the events an earlier version stored with a marker instead
    /// of their deliveries (nothing writes markers now, so this runs until
    /// it has once succeeded), in batches, each batch with the removal of
    /// its markers in one transaction.
    pub async fn fan_out_marked_events(&self) -> Result<usize, StoreError> {
        let mut made = 0;
        loop {
            let events = self.store.unfanned_events(512).await?;
            if events.is_empty() {
                return Ok(made);
            }
            let endpoints = self.store.endpoint_snapshot();
            let now = self.clock.now_ms();
            let deliveries: Vec<Delivery> = events
                .iter()
                .flat_map(|(tenant, event)| deliveries_for(tenant, event, &endpoints, now))
                .collect();
            made += deliveries.len();
            let ids: Vec<_> = events.iter().map(|(_, event)| event.id).collect();
            self.store.record_fanout(&deliveries, &ids).await?;
        }
    }

    /// Starts every due attempt the gates allow, endpoint by endpoint;
    /// returns when the loop should look again at the latest. The work per
    /// round is one short read per endpoint plus the attempts started, so a
    /// backlog on one endpoint does not slow the others' dispatch.
    async fn dispatch(self: &Arc<Self>, tracker: &TaskTracker) -> Result<Option<u64>, StoreError> {
        let now = self.clock.now_ms();
        let mut wake_at: Option<u64> = None;
        let mut wake_no_later = |at: u64| wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
        // A shared store paces endpoints across nodes in its claims.
        let shared = self.store.is_shared();
        for endpoint in self.store.endpoint_snapshot().iter() {
            if !endpoint.config.enabled {
                continue;
            }
            let id = endpoint.id;
            let (busy, in_flight) = {
                let gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
                let busy = gates.per_endpoint.get(&id).copied().unwrap_or(0);
                (busy, gates.in_flight.len())
            };
            let room = match endpoint.config.ordering.mode {
                OrderingMode::Endpoint if busy > 0 => continue,
                OrderingMode::Endpoint => 1,
                OrderingMode::None | OrderingMode::Key => {
                    self.config.per_endpoint_concurrency.saturating_sub(busy)
                }
            };
            let limit = if shared {
                // What is claimed is leased to this node: never more than
                // it can start now. A claim is a database transaction, so
                // while this node still has attempts to the endpoint in
                // flight it waits for a batch of free slots rather than
                // claiming one per finished attempt. (Not under a rate
                // limit: those claims take one delivery each, and waiting
                // for a batch would stop a slow endpoint's short of its cap.)
                let limit = room.min(self.workers.available_permits());
                let batched = endpoint.config.rate_limit.is_none();
                if batched && busy > 0 && limit < claim_batch(self.config.per_endpoint_concurrency)
                {
                    continue;
                }
                limit
            } else {
                // Room plus what may be in flight already (sending, or sent
                // and being recorded), which the embedded store still lists
                // as due and the loop skips.
                room + in_flight
            };
            if limit == 0 {
                continue;
            }
            let cap = self.config.per_endpoint_concurrency;
            let claimed = self.store.claim_due(endpoint, now, limit, cap).await?;
            if let Some(at) = claimed.look_again_at {
                wake_no_later(at);
            }
            let candidates = claimed.due;
            if candidates.is_empty() {
                continue;
            }
            // Shared by this round's attempts; cloned only when one starts.
            let endpoint = Arc::new(endpoint.clone());
            // The candidates may outnumber the endpoint's room (the
            // embedded store lists what is in flight too, of every
            // endpoint): at most `room` start.
            let mut started = 0;
            for item in candidates {
                if started == room {
                    break;
                }
                let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
                if gates.in_flight.contains(&item.id) {
                    continue;
                }
                let Ok(permit) = Arc::clone(&self.workers).try_acquire_owned() else {
                    return Ok(wake_at);
                };
                let rate_limited = endpoint.config.rate_limit.is_some() && !shared;
                if let Some(per_second) = endpoint.config.rate_limit.filter(|_| !shared) {
                    let monotonic = self.clock.monotonic_ms();
                    let gate = gates.rate.entry(id).or_default();
                    match gate.try_take(monotonic, per_second) {
                        Ok(()) => {}
                        Err(wait) => {
                            // An answer wakes the loop; a time is waited for.
                            if let Wait::Until(at) = wait {
                                wake_no_later(now + at.saturating_sub(monotonic));
                            }
                            break;
                        }
                    }
                }
                gates.in_flight.insert(item.id);
                *gates.per_endpoint.entry(id).or_default() += 1;
                drop(gates);
                started += 1;
                let engine = Arc::clone(self);
                let endpoint = Arc::clone(&endpoint);
                tracker.spawn(async move {
                    let mut slot = EndpointSlot {
                        engine: &engine,
                        endpoint: id,
                        held: true,
                        rate_open: rate_limited,
                    };
                    attempt::run(&engine, item, &endpoint, &mut slot).await;
                    slot.release();
                    engine.finished(item);
                    drop(permit);
                });
            }
        }
        Ok(wake_at)
    }

    /// Samples the queue every `period` until `shutdown`, off the loop:
    /// counting the queue reads all of it, which with a large backlog
    /// takes long enough to delay the deliveries due meanwhile.
    async fn sample_queue_every(self: Arc<Self>, period: Duration, shutdown: CancellationToken) {
        loop {
            let engine = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || {
                crate::store::wait(engine.sample_queue(engine.clock.now_ms()));
            })
            .await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => {}
            }
        }
    }

    /// Queue depth and the oldest due delivery's wait, for `/metrics`.
    async fn sample_queue(&self, now: u64) {
        let mut oldest_due: Option<u64> = None;
        for endpoint in self.store.endpoint_snapshot().iter() {
            if let Ok(Some(at)) = self.store.next_due_at(endpoint.id).await {
                oldest_due = Some(oldest_due.map_or(at, |oldest| oldest.min(at)));
            }
        }
        let oldest = oldest_due.map_or(0, |at| now.saturating_sub(at));
        telemetry::delivery_queue(
            self.store.pending_count().await,
            Duration::from_millis(oldest),
        );
        if let Some(pool) = self.store.pool_figures() {
            telemetry::database_pool(&pool);
        }
    }

    /// The attempt of `item` is over and recorded: it may be picked again.
    fn finished(&self, item: Due) {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates.in_flight.remove(&item.id);
        drop(gates);
        self.wake.notify_one();
    }
}

/// The free slots a node with attempts in flight to an endpoint waits for
/// before claiming more from a shared store: a quarter of its cap.
fn claim_batch(per_endpoint_concurrency: usize) -> usize {
    (per_endpoint_concurrency / 4).max(1)
}

/// One of an endpoint's concurrent-request slots, taken by an attempt,
/// with its turn under the endpoint's rate limit, if it has one.
/// An endpoint not ordered as a whole gives its slot back as soon as the
/// HTTP exchange is over, before the attempt is recorded: the limit is on
/// requests the receiver sees at once, and holding it while the store
/// writes would cap the endpoint's throughput at the store's latency.
/// (The delivery itself stays in flight until recorded, so it is never
/// picked twice.) The rate limit's turn ends when the answer comes (or it
/// turns out nothing is sent). Both are given back on drop at the latest.
pub(super) struct EndpointSlot<'a> {
    engine: &'a DeliveryEngine,
    endpoint: EndpointId,
    held: bool,
    /// A turn under the rate limit that has not ended yet.
    rate_open: bool,
}

impl EndpointSlot<'_> {
    /// Gives the slot back (once; later calls do nothing).
    pub(super) fn release(&mut self) {
        if !std::mem::take(&mut self.held) {
            return;
        }
        let mut gates = self.engine.gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = gates.per_endpoint.get_mut(&self.endpoint) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                gates.per_endpoint.remove(&self.endpoint);
            }
        }
        drop(gates);
        self.engine.wake.notify_one();
    }

    /// The request was answered (or failed on the way): its rate-limit turn
    /// counts for one more window from now.
    pub(super) fn answered(&mut self) {
        self.end_rate_turn(true);
    }

    /// No request went out: its rate-limit turn is not counted.
    pub(super) fn not_sent(&mut self) {
        self.end_rate_turn(false);
    }

    fn end_rate_turn(&mut self, sent: bool) {
        if !std::mem::take(&mut self.rate_open) {
            return;
        }
        let now = self.engine.clock.monotonic_ms();
        let mut gates = self.engine.gates.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(gate) = gates.rate.get_mut(&self.endpoint) {
            if sent {
                gate.answered(now);
            } else {
                gate.not_sent();
            }
        }
        drop(gates);
        self.engine.wake.notify_one();
    }
}

impl Drop for EndpointSlot<'_> {
    fn drop(&mut self) {
        // Whether it reached the receiver is unknown: counted, to be safe.
        self.answered();
        self.release();
    }
}
