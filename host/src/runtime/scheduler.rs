//! The fair queue in front of plugin execution. Every call is charged to a
//! [`Lane`] (the caller's unit of fairness: a source, an endpoint, a block)
//! of a tenant's group. A lane runs at most its share of calls at once, the
//! runtime at most its instance pool; calls that must wait are admitted
//! across groups by the tenants' weights, and round-robin across the lanes
//! of a group. A tenant with fifty sources therefore gets its weight's share,
//! not fifty turns to another tenant's one, and a hostile or slow plugin
//! fills only its own lane: other lanes' calls are admitted at once, and its
//! own waiting calls are refused (with [`Refused`]) once they have waited
//! their bound instead of queueing for minutes.

mod lane;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use lane::Group;
pub use lane::Lane;

/// What one admission costs a group of weight 1 in virtual time (a group
/// of weight `w` pays `STRIDE / w`). Divisible by every weight up to 16,
/// so small weights' ratios are exact; at weight 1000 the rounding is under
/// 0.1 %. The clock starts again whenever nothing waits, so it cannot
/// overflow in any busy period a server lives through.
const STRIDE: u64 = 720_720;

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

/// Invariants, kept by every method: a lane is in its group's `turns`
/// exactly when it has waiting calls, a group is in `turns` exactly when
/// one of its lanes is, and lanes and groups with nothing running or
/// waiting are forgotten (so lanes of sources long deleted cost nothing).
/// After every admission and release the queue holds no call that could
/// run: either the pool is full or every waiting call's lane is at its cap.
#[derive(Default)]
struct State {
    running: u32,
    lanes: HashMap<Lane, LaneState>,
    groups: HashMap<Group, GroupState>,
    /// Groups with waiting calls; ties in virtual time go to the one
    /// nearest the front, and a group goes to the back when admitted, so
    /// equal weights take turns round-robin.
    turns: VecDeque<Group>,
    /// The weights of the groups in `groups` (calls running or waiting).
    total_weight: u64,
    /// Virtual time: the pass the latest admission within a share was
    /// made at. No group counts as earlier than it: time a group spent
    /// idle, or held at its share, is not credit to crowd others out with
    /// later, so a group that starts waiting waits for at most one
    /// admission of each other group.
    clock: u64,
}

struct GroupState {
    weight: u32,
    running: u32,
    /// The virtual time of its next admission (at least the clock): the
    /// group with the lowest goes next, and each admission adds the
    /// stride of its weight (stride scheduling), so backlogged groups are
    /// admitted in proportion to their weights.
    pass: u64,
    /// Its lanes with waiting calls, in the order they get their next turn.
    turns: VecDeque<Lane>,
}

#[derive(Default)]
struct LaneState {
    running: u32,
    waiting: VecDeque<oneshot::Sender<Admission>>,
}

/// An admitted call; dropping it frees its place and admits the next one.
pub(crate) struct Admission {
    /// `None` once disarmed: an admission its caller never received holds
    /// no place.
    scheduler: Option<Arc<Scheduler>>,
    lane: Lane,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.release(&self.lane);
        }
    }
}

/// A call waiting for its turn. Dropped before it is admitted (refused, or
/// its caller went away), it takes its place in the lane back; an
/// admission sent just before is released when the channel drops it.
struct Ticket<'a> {
    scheduler: &'a Arc<Scheduler>,
    lane: &'a Lane,
    turn: oneshot::Receiver<Admission>,
    admitted: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.turn.close();
            self.scheduler.give_up(self.lane);
        }
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
        let (admit, turn) = oneshot::channel();
        {
            let mut state = self.lock();
            state.enqueue(lane, admit);
            // Behind the calls already waiting on its lane; admitted now
            // when there is room, since the queue holds no other call that
            // could run.
            self.dispatch(&mut state);
        }
        let mut ticket = Ticket {
            scheduler: self,
            lane,
            turn,
            admitted: false,
        };
        if let Ok(admission) = ticket.turn.try_recv() {
            ticket.admitted = true;
            return Ok(admission);
        }
        if let Ok(Ok(admission)) = tokio::time::timeout(self.share.max_wait, &mut ticket.turn).await
        {
            ticket.admitted = true;
            return Ok(admission);
        }
        // Closed first, so no admission can race the refusal: one that came
        // in just before is taken, since its place is already counted.
        ticket.turn.close();
        if let Ok(admission) = ticket.turn.try_recv() {
            ticket.admitted = true;
            return Ok(admission);
        }
        drop(ticket);
        metrics::counter!(
            "wasmhook_plugin_calls_refused_total",
            "tenant" => lane.tenant().to_owned(),
            "lane" => lane.to_string()
        )
        .increment(1);
        Err(Refused {
            waited: started.elapsed(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(self: &Arc<Self>, lane: &Lane) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(lane_state) = state.lanes.get_mut(lane) {
            lane_state.running -= 1;
            report_running(lane, lane_state.running);
        }
        if let Some(group) = state.groups.get_mut(lane.group()) {
            group.running -= 1;
        }
        // Forgotten first: a group that leaves gives its weight back, so
        // the shares the next admission is picked by are the current ones.
        state.forget_if_idle(lane);
        self.dispatch(&mut state);
    }

    /// Forgets the waiters of `lane` that stopped waiting (refused, or
    /// their caller went away). No dispatch is needed: a call leaving the
    /// queue makes no other call able to run.
    fn give_up(&self, lane: &Lane) {
        let mut state = self.lock();
        let State {
            lanes,
            groups,
            turns,
            ..
        } = &mut *state;
        if let Some(lane_state) = lanes.get_mut(lane) {
            lane_state.waiting.retain(|waiter| !waiter.is_closed());
            if lane_state.waiting.is_empty()
                && let Some(group) = groups.get_mut(lane.group())
            {
                group.turns.retain(|queued| queued != lane);
                if group.turns.is_empty() {
                    turns.retain(|queued| queued != lane.group());
                }
            }
        }
        state.forget_if_idle(lane);
    }

    /// Admits waiting calls while there is room, one at a time, each from
    /// the group [`State::next_group`] picks.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        while state.running < self.share.max_running {
            let Some((at, within_share)) = state.next_group(&self.share) else {
                break;
            };
            state.admit_next(self, at, within_share);
        }
        if state.turns.is_empty() && state.clock != 0 {
            // Nothing waits, so no group is owed anything: start virtual
            // time again.
            state.clock = 0;
            for group in state.groups.values_mut() {
                group.pass = 0;
            }
        }
    }
}

impl State {
    /// Queues a call on `lane`, behind the lane's waiting calls.
    fn enqueue(&mut self, lane: &Lane, waiter: oneshot::Sender<Admission>) {
        let clock = self.clock;
        let group = self
            .groups
            .entry(lane.group().clone())
            .or_insert_with(|| GroupState {
                weight: 0,
                running: 0,
                pass: clock,
                turns: VecDeque::new(),
            });
        // The tenant's weight as of its latest call (its quota may change).
        self.total_weight = self.total_weight - u64::from(group.weight) + u64::from(lane.weight());
        group.weight = lane.weight();
        let lane_state = self.lanes.entry(lane.clone()).or_default();
        lane_state.waiting.push_back(waiter);
        if lane_state.waiting.len() == 1 {
            group.turns.push_back(lane.clone());
            if group.turns.len() == 1 {
                self.turns.push_back(lane.group().clone());
            }
        }
    }

    /// The calls a group may run at once while other groups have calls
    /// ready: its weight's share of the pool over the groups with calls
    /// running or waiting, rounded up. Rounded up, the shares add up to at
    /// least the pool, so with every group backlogged the pool still fills,
    /// and every group may run at least one call. A group past its share is
    /// not blocked, only passed over while a group within its share has a
    /// call ready: alone (or beside groups whose lanes are all full) it
    /// uses the whole pool, and since nothing is preempted, a tenant that
    /// starts waiting gets the places freed next until it has its share.
    fn share_of(&self, weight: u32, max_running: u32) -> u32 {
        let total = self.total_weight.max(1);
        let share = (u64::from(max_running) * u64::from(weight)).div_ceil(total);
        u32::try_from(share).unwrap_or(u32::MAX).max(1)
    }

    /// The position in `turns` of the group whose call goes next, and
    /// whether it is within its share: among the groups with a lane below
    /// its cap, those within their share first, then the lowest pass, then
    /// the nearest the front. `None` when no waiting call may run.
    fn next_group(&self, share: &FairShare) -> Option<(usize, bool)> {
        let mut best: Option<((bool, u64), usize)> = None;
        for (at, key) in self.turns.iter().enumerate() {
            let Some(group) = self.groups.get(key) else {
                continue;
            };
            let ready = group.turns.iter().any(|lane| {
                self.lanes
                    .get(lane)
                    .is_some_and(|lane| lane.running < share.per_lane)
            });
            if !ready {
                continue;
            }
            let past_share = group.running >= self.share_of(group.weight, share.max_running);
            let rank = (past_share, group.pass.max(self.clock));
            if best.is_none_or(|(best, _)| rank < best) {
                best = Some((rank, at));
            }
        }
        best.map(|((past_share, _), at)| (at, !past_share))
    }

    /// Admits the next call of the group at `at` in `turns`: the first of
    /// its lanes below the lane cap, whose turn then goes to the back. Only
    /// admissions within the group's share advance its pass: beyond it, the
    /// group uses room no other group could.
    fn admit_next(&mut self, scheduler: &Arc<Scheduler>, at: usize, within_share: bool) {
        let Some(key) = self.turns.remove(at) else {
            return;
        };
        let Some(group) = self.groups.get_mut(&key) else {
            return;
        };
        let per_lane = scheduler.share.per_lane;
        let Some(lane) = group
            .turns
            .iter()
            .position(|lane| {
                self.lanes
                    .get(lane)
                    .is_some_and(|lane| lane.running < per_lane)
            })
            .and_then(|ready| group.turns.remove(ready))
        else {
            return;
        };
        let Some(lane_state) = self.lanes.get_mut(&lane) else {
            return;
        };
        let mut admitted = false;
        while let Some(waiter) = lane_state.waiting.pop_front() {
            let admission = Admission {
                scheduler: Some(Arc::clone(scheduler)),
                lane: lane.clone(),
            };
            match waiter.send(admission) {
                Ok(()) => {
                    admitted = true;
                    break;
                }
                // Its caller went away: no place was taken.
                Err(mut unwanted) => unwanted.scheduler = None,
            }
        }
        if admitted {
            lane_state.running += 1;
            report_running(&lane, lane_state.running);
            group.running += 1;
            self.running += 1;
            if within_share {
                self.clock = self.clock.max(group.pass);
                group.pass = self.clock + STRIDE / u64::from(group.weight.max(1));
            }
        }
        if !lane_state.waiting.is_empty() {
            group.turns.push_back(lane.clone());
        }
        if !group.turns.is_empty() {
            if admitted {
                self.turns.push_back(key);
            } else {
                // Nothing admitted (its callers had gone): it keeps its place.
                self.turns.insert(at, key);
            }
        }
        self.forget_if_idle(&lane);
    }

    /// Forgets `lane`, and its group, when nothing runs or waits there.
    fn forget_if_idle(&mut self, lane: &Lane) {
        if let Some(lane_state) = self.lanes.get(lane)
            && lane_state.running == 0
            && lane_state.waiting.is_empty()
        {
            self.lanes.remove(lane);
        }
        if let Some(group) = self.groups.get(lane.group())
            && group.running == 0
            && group.turns.is_empty()
        {
            self.total_weight -= u64::from(group.weight);
            self.groups.remove(lane.group());
        }
    }
}

/// The lane's running calls as a gauge, so an operator sees which tenant's
/// source (or endpoint, or block) fills its share.
fn report_running(lane: &Lane, running: u32) {
    metrics::gauge!(
        "wasmhook_plugin_calls_running",
        "tenant" => lane.tenant().to_owned(),
        "lane" => lane.to_string()
    )
    .set(f64::from(running));
}
