//! The fair queue's behaviour: lanes within a group, tenants' weights and
//! shares, the wait bound. Time is paused, so waits are exact.

use std::future::Future;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

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
    assert_idle(&scheduler);
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

/// Nothing of any call lingers.
fn assert_idle(scheduler: &Arc<Scheduler>) {
    let state = scheduler.lock();
    assert_eq!(state.running, 0);
    assert!(state.lanes.is_empty() && state.groups.is_empty() && state.turns.is_empty());
    assert_eq!(state.total_weight, 0);
}

/// A queue whose calls never hit the wait bound while a test drives them.
fn patient(max_running: u32, per_lane: u32) -> Arc<Scheduler> {
    Scheduler::new(FairShare {
        max_running,
        per_lane,
        max_wait: Duration::from_secs(3600),
    })
}

/// The tenants of the calls admitted so far, in order.
type Order = Arc<std::sync::Mutex<Vec<String>>>;

/// A call on `lane` that records its tenant in `order` when admitted and
/// runs until `finish` gives it a permit (permits go first come, first
/// served, so to the calls admitted first).
fn call(
    scheduler: &Arc<Scheduler>,
    lane: Lane,
    order: &Order,
    finish: &Arc<Semaphore>,
) -> JoinHandle<()> {
    let (scheduler, order, finish) = (Arc::clone(scheduler), Arc::clone(order), Arc::clone(finish));
    tokio::spawn(async move {
        let admission = scheduler.admit(&lane).await.expect("admitted");
        order.lock().unwrap().push(lane.tenant().to_owned());
        finish.acquire().await.expect("open").forget();
        drop(admission);
    })
}

/// Lets the spawned calls run until `ready` holds.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never: {what}");
}

/// `tenant`'s calls running and waiting.
fn calls_of(scheduler: &Arc<Scheduler>, tenant: &str) -> (u32, usize) {
    let state = scheduler.lock();
    let running = state
        .groups
        .get(&Some(Arc::from(tenant)))
        .map_or(0, |group| group.running);
    let waiting = state
        .lanes
        .iter()
        .filter(|(lane, _)| lane.tenant() == tenant)
        .map(|(_, lane)| lane.waiting.len())
        .sum();
    (running, waiting)
}

fn admitted(order: &Order) -> usize {
    order.lock().unwrap().len()
}

async fn finish_all(calls: Vec<JoinHandle<()>>, finish: &Semaphore) {
    finish.add_permits(calls.len());
    for call in calls {
        call.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn backlogged_tenants_are_admitted_in_proportion_to_their_weights() {
    let scheduler = patient(1, 8);
    let (order, finish) = (Order::default(), Arc::new(Semaphore::new(0)));
    let mut calls = Vec::new();
    for (tenant, weight) in [("light", 1), ("heavy", 3)] {
        for n in 0..40 {
            let lane = Lane::of_tenant(tenant, weight, format!("source:{tenant}-{}", n % 4));
            calls.push(call(&scheduler, lane, &order, &finish));
        }
    }
    until("one call runs and 79 wait", || {
        admitted(&order) == 1
            && calls_of(&scheduler, "light").1 + calls_of(&scheduler, "heavy").1 == 79
    })
    .await;
    finish_all(calls, &finish).await;
    let order = order.lock().unwrap();
    // While both are backlogged (the first 40 admissions of 80), weight 3
    // gets three turns to weight 1's one.
    let light = order[..40]
        .iter()
        .filter(|tenant| *tenant == "light")
        .count();
    assert!(
        (9..=11).contains(&light),
        "light got {light} of 40: {order:?}"
    );
    drop(order);
    assert_idle(&scheduler);
}

#[tokio::test(start_paused = true)]
async fn a_tenant_flooding_many_lanes_delays_another_tenants_call_by_one_admission_at_most() {
    let scheduler = patient(1, 8);
    let (order, finish) = (Order::default(), Arc::new(Semaphore::new(0)));
    let mut calls: Vec<_> = (0..100)
        .map(|n| {
            let lane = Lane::of_tenant("flood", 1, format!("source:flood-{}", n % 20));
            call(&scheduler, lane, &order, &finish)
        })
        .collect();
    until("the flood queued", || {
        calls_of(&scheduler, "flood") == (1, 99)
    })
    .await;
    // The flood is well under way when the other tenant's call comes.
    finish.add_permits(10);
    until("ten flood calls finished", || admitted(&order) == 11).await;
    calls.push(call(
        &scheduler,
        Lane::of_tenant("quiet", 1, "source:quiet"),
        &order,
        &finish,
    ));
    until("the quiet call queued", || {
        calls_of(&scheduler, "quiet") == (0, 1)
    })
    .await;
    finish.add_permits(2);
    until("two more admitted", || admitted(&order) == 13).await;
    assert!(
        order.lock().unwrap()[11..13].contains(&"quiet".to_owned()),
        "{:?}",
        order.lock().unwrap()
    );
    finish_all(calls, &finish).await;
    assert_idle(&scheduler);
}

#[tokio::test(start_paused = true)]
async fn a_tenant_alone_may_use_the_whole_pool() {
    let scheduler = scheduler(4, 8);
    // Another tenant of three times the weight runs a call but has none
    // waiting: its share does not leave places idle.
    let other = scheduler
        .admit(&Lane::of_tenant("other", 3, "source:other"))
        .await
        .unwrap();
    let lone = Lane::of_tenant("lone", 1, "source:lone");
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(scheduler.admit(&lone).await.expect("admitted at once"));
    }
    drop(other);
    held.push(scheduler.admit(&lone).await.expect("admitted at once"));
    assert_eq!(calls_of(&scheduler, "lone"), (4, 0));
    // Only the pool bounds it.
    let fifth = scheduler.admit(&lone);
    let mut fifth = std::pin::pin!(fifth);
    assert!(waiting(&mut fifth).await);
    held.pop();
    assert!(
        !waiting(&mut fifth).await,
        "the freed place is the lone tenant's"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tenant_stays_within_its_share_while_another_waits() {
    let scheduler = patient(4, 8);
    let (order, finish) = (Order::default(), Arc::new(Semaphore::new(0)));
    let on =
        |tenant: &str, n: usize| Lane::of_tenant(tenant, 1, format!("source:{tenant}-{}", n % 5));
    let mut calls: Vec<_> = (0..10)
        .map(|n| call(&scheduler, on("a", n), &order, &finish))
        .collect();
    until("a fills the pool", || calls_of(&scheduler, "a") == (4, 6)).await;
    calls.extend((0..3).map(|n| call(&scheduler, on("b", n), &order, &finish)));
    until("b queued", || calls_of(&scheduler, "b") == (0, 3)).await;
    // The places a frees go to b until b has its share (half the pool)...
    finish.add_permits(2);
    until("two admitted", || admitted(&order) == 6).await;
    assert_eq!(calls_of(&scheduler, "b"), (2, 1));
    assert_eq!(calls_of(&scheduler, "a"), (2, 6));
    // ...then each keeps its share while the other waits: a's freed places
    // go back to a, b's to b.
    finish.add_permits(2);
    until("two more admitted", || admitted(&order) == 8).await;
    assert_eq!(calls_of(&scheduler, "a"), (2, 4));
    assert_eq!(calls_of(&scheduler, "b"), (2, 1));
    finish.add_permits(1);
    until("b's first call finished", || admitted(&order) == 9).await;
    assert_eq!(calls_of(&scheduler, "b"), (2, 0));
    assert_eq!(calls_of(&scheduler, "a"), (2, 4));
    // With nothing of b waiting, a takes the places b frees.
    finish.add_permits(1);
    until("b's second call finished", || admitted(&order) == 10).await;
    assert_eq!(calls_of(&scheduler, "a"), (3, 3));
    finish_all(calls, &finish).await;
    assert_idle(&scheduler);
}

#[tokio::test(start_paused = true)]
async fn an_admission_its_caller_never_took_is_given_back() {
    let scheduler = scheduler(1, 8);
    let held = scheduler.admit(&Lane::new("a")).await.unwrap();
    {
        let lane = Lane::new("b");
        let gone = scheduler.admit(&lane);
        let mut gone = std::pin::pin!(gone);
        assert!(waiting(&mut gone).await);
        // The place is handed to the waiting call, whose caller then goes
        // away before it looks.
        drop(held);
        assert_eq!(scheduler.lock().running, 1);
    }
    assert_idle(&scheduler);
}

#[tokio::test(start_paused = true)]
async fn a_lane_is_its_tenant_and_key_whatever_the_weight() {
    let scheduler = scheduler(16, 1);
    let before = Lane::of_tenant("acme", 1, "render:json-renderer");
    let after = Lane::of_tenant("acme", 5, "render:json-renderer");
    assert_eq!(before, after);
    assert_ne!(before, Lane::of_tenant("globex", 1, "render:json-renderer"));
    assert_ne!(before, Lane::new("render:json-renderer"));
    let _held = scheduler.admit(&before).await.unwrap();
    // A quota change does not give the lane a second place...
    let second = scheduler.admit(&after);
    let mut second = std::pin::pin!(second);
    assert!(waiting(&mut second).await);
    assert_eq!(scheduler.lock().total_weight, 5, "the latest weight counts");
    // ...and another tenant's lane of the same name is not behind it.
    let other = Lane::of_tenant("globex", 1, "render:json-renderer");
    assert!(scheduler.admit(&other).await.is_ok());
}
