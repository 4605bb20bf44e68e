//! The fair queue in front of plugin execution. Every call is charged to a
//! [`Lane`] (the caller's unit of fairness: a source, an endpoint, a block);
//! a lane runs at most its share of calls at once, the runtime at most its
//! instance pool, and calls that must wait are admitted round-robin across
//! lanes. A hostile or slow plugin therefore fills only its own lane: other
//! lanes' calls are admitted at once, and its own waiting calls are refused
//! (with [`Refused`]) once they have waited their bound instead of queueing
//! for minutes.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

/// What a call is charged to for fairness, e.g. `source:gupshup-wa`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lane(Arc<str>);

impl Lane {
    /// A lane named `key`.
    pub fn new(key: impl AsRef<str>) -> Self {
        Lane(Arc::from(key.as_ref()))
    }

    /// The lane's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the queue is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FairShare {
    /// Calls running at once over all lanes (the instance pool's size).
    pub max_running: u32,
    /// Calls one lane may run at once.
    pub per_lane: u32,
    /// The longest a call waits to be admitted before it is refused.
    pub max_wait: Duration,
}

impl FairShare {
    /// Default calls per lane at once: a few per core is all one lane
    /// needs (its calls are short), and few enough that a lane of spinning
    /// plugins leaves the cores to the others.
    pub const DEFAULT_PER_LANE: u32 = 8;
    /// Default wait bound: a vendor resends a refused callback, which is
    /// better than holding its connection for minutes.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2);
}

/// A call was not admitted within its wait bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) waited: Duration,
}

/// The queue: shared by every call of one runtime.
pub(crate) struct Scheduler {
    share: FairShare,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: u32,
    lanes: HashMap<Lane, LaneState>,
    /// Lanes with waiting calls, in the order they get their next turn.
    turns: VecDeque<Lane>,
}

#[derive(Default)]
struct LaneState {
    running: u32,
    waiting: VecDeque<oneshot::Sender<()>>,
}

/// An admitted call; dropping it frees its place and admits the next one.
pub(crate) struct Admission {
    scheduler: Arc<Scheduler>,
    lane: Lane,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.scheduler.release(&self.lane);
    }
}

impl Scheduler {
    pub(crate) fn new(share: FairShare) -> Arc<Self> {
        Arc::new(Scheduler {
            share: FairShare {
                max_running: share.max_running.max(1),
                per_lane: share.per_lane.max(1),
                ..share
            },
            state: Mutex::new(State::default()),
        })
    }

    /// Waits for the call's turn on `lane`, at most the wait bound.
    pub(crate) async fn admit(self: &Arc<Self>, lane: &Lane) -> Result<Admission, Refused> {
        let started = tokio::time::Instant::now();
        let turn = {
            let mut state = self.lock();
            let free = state.running < self.share.max_running;
            let lane_state = state.lanes.entry(lane.clone()).or_default();
            // Nobody may overtake calls already waiting on the same lane.
            if free && lane_state.running < self.share.per_lane && lane_state.waiting.is_empty() {
                lane_state.running += 1;
                report_running(lane, lane_state.running);
                state.running += 1;
                None
            } else {
                let (admit, turn) = oneshot::channel();
                let first_waiter = lane_state.waiting.is_empty();
                lane_state.waiting.push_back(admit);
                if first_waiter {
                    state.turns.push_back(lane.clone());
                }
                Some(turn)
            }
        };
        let admitted = || Admission {
            scheduler: Arc::clone(self),
            lane: lane.clone(),
        };
        let Some(mut turn) = turn else {
            return Ok(admitted());
        };
        tokio::select! {
            told = &mut turn => {
                if told.is_ok() {
                    return Ok(admitted());
                }
            }
            () = tokio::time::sleep(self.share.max_wait) => {}
        }
        // Closed first, so no admission can race the refusal: one that came
        // in just before is taken, since its place is already counted.
        turn.close();
        if turn.try_recv().is_ok() {
            return Ok(admitted());
        }
        self.give_up(lane);
        metrics::counter!("wasmhook_plugin_calls_refused_total", "lane" => lane.to_string())
            .increment(1);
        Err(Refused {
            waited: started.elapsed(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(&self, lane: &Lane) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(lane_state) = state.lanes.get_mut(lane) {
            lane_state.running -= 1;
            report_running(lane, lane_state.running);
        }
        self.dispatch(&mut state);
        Self::tidy(&mut state, lane);
    }

    /// Forgets the waiters of `lane` that stopped waiting (refused, or
    /// their caller went away).
    fn give_up(&self, lane: &Lane) {
        let mut state = self.lock();
        if let Some(lane_state) = state.lanes.get_mut(lane) {
            lane_state.waiting.retain(|waiter| !waiter.is_closed());
        }
        Self::tidy(&mut state, lane);
    }

    /// Admits waiting calls while there is room, one lane at a time in turn.
    fn dispatch(&self, state: &mut State) {
        let mut passes = state.turns.len();
        while state.running < self.share.max_running && passes > 0 {
            let Some(lane) = state.turns.pop_front() else {
                break;
            };
            passes -= 1;
            let per_lane = self.share.per_lane;
            let Some(lane_state) = state.lanes.get_mut(&lane) else {
                continue;
            };
            let mut admitted = false;
            if lane_state.running < per_lane {
                while let Some(waiter) = lane_state.waiting.pop_front() {
                    if waiter.send(()).is_ok() {
                        lane_state.running += 1;
                        report_running(&lane, lane_state.running);
                        admitted = true;
                        break;
                    }
                }
            }
            let still_waiting = !lane_state.waiting.is_empty();
            if admitted {
                state.running += 1;
                // Another turn for this lane comes after every other lane's.
                passes = state.turns.len() + usize::from(still_waiting);
            }
            if still_waiting {
                state.turns.push_back(lane.clone());
            }
            Self::tidy(state, &lane);
        }
    }

    /// Forgets a lane with nothing running or waiting, so lanes of
    /// sources long deleted cost nothing.
    fn tidy(state: &mut State, lane: &Lane) {
        if let Some(lane_state) = state.lanes.get(lane)
            && lane_state.running == 0
            && lane_state.waiting.is_empty()
        {
            state.lanes.remove(lane);
            state.turns.retain(|queued| queued != lane);
        }
    }
}

/// The lane's running calls as a gauge, so an operator sees which source
/// (or endpoint, or block) fills its share.
fn report_running(lane: &Lane, running: u32) {
    metrics::gauge!("wasmhook_plugin_calls_running", "lane" => lane.to_string())
        .set(f64::from(running));
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    fn scheduler(max_running: u32, per_lane: u32) -> Arc<Scheduler> {
        Scheduler::new(FairShare {
            max_running,
            per_lane,
            max_wait: Duration::from_secs(2),
        })
    }

    /// Whether `admit` is still waiting after the scheduler had its chance.
    async fn waiting(
        admit: &mut std::pin::Pin<&mut (impl Future<Output = Result<Admission, Refused>> + ?Sized)>,
    ) -> bool {
        tokio::select! {
            biased;
            _ = admit.as_mut() => false,
            () = tokio::task::yield_now() => true,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_lane_waits_while_other_lanes_are_admitted_at_once() {
        let scheduler = scheduler(16, 2);
        let hostile = Lane::new("source:hostile");
        let _a = scheduler.admit(&hostile).await.unwrap();
        let _b = scheduler.admit(&hostile).await.unwrap();
        let third = scheduler.admit(&hostile);
        let mut third = std::pin::pin!(third);
        assert!(waiting(&mut third).await, "the lane's third call waits");
        // Another lane is not behind the full one.
        let other = scheduler.admit(&Lane::new("source:gupshup")).await;
        assert!(other.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_waiting_past_the_bound_is_refused_and_forgotten() {
        let scheduler = scheduler(16, 1);
        let lane = Lane::new("source:slow");
        let held = scheduler.admit(&lane).await.unwrap();
        let refused = scheduler.admit(&lane).await.err().expect("refused");
        assert!(refused.waited >= Duration::from_secs(2), "{refused:?}");
        drop(held);
        // Nothing of the refused call lingers: the lane admits again, and
        // an idle lane is forgotten.
        let again = scheduler.admit(&lane).await.unwrap();
        drop(again);
        assert!(scheduler.lock().lanes.is_empty());
        assert_eq!(scheduler.lock().running, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn freed_places_go_round_robin_across_lanes() {
        let scheduler = scheduler(1, 8);
        let (busy, quiet) = (Lane::new("busy"), Lane::new("quiet"));
        let first = scheduler.admit(&busy).await.unwrap();
        let busy_second = scheduler.admit(&busy);
        let mut busy_second = std::pin::pin!(busy_second);
        assert!(waiting(&mut busy_second).await);
        let busy_third = scheduler.admit(&busy);
        let mut busy_third = std::pin::pin!(busy_third);
        assert!(waiting(&mut busy_third).await);
        let quiet_first = scheduler.admit(&quiet);
        let mut quiet_first = std::pin::pin!(quiet_first);
        assert!(waiting(&mut quiet_first).await);
        // The busy lane queued first, so its next call goes first; then the
        // quiet lane's turn comes before the busy lane's third call.
        drop(first);
        let second = busy_second.await.unwrap();
        assert!(waiting(&mut busy_third).await);
        drop(second);
        let quiet_admitted = quiet_first.await.unwrap();
        assert!(waiting(&mut busy_third).await);
        drop(quiet_admitted);
        drop(busy_third.await.unwrap());
        assert_eq!(scheduler.lock().running, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_goes_away_while_waiting_does_not_take_a_place() {
        let scheduler = scheduler(1, 8);
        let lane = Lane::new("a");
        let held = scheduler.admit(&lane).await.unwrap();
        {
            let lane = Lane::new("b");
            let gone = scheduler.admit(&lane);
            let mut gone = std::pin::pin!(gone);
            assert!(waiting(&mut gone).await);
        }
        drop(held);
        // The place freed by `held` is not given to the caller that left.
        let next = scheduler.admit(&Lane::new("c")).await;
        assert!(next.is_ok());
        assert_eq!(scheduler.lock().running, 1);
    }
}
