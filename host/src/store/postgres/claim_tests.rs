//! Claims across nodes: two stores on one database stand for two nodes.
//! The endpoint's cap holds across them, an `endpoint`-ordered endpoint has
//! one delivery in flight anywhere, a key's next delivery waits for its
//! head, a rate limit paces starts across both, and a dead node's leases
//! run out and go to the other.

use std::time::{Duration, Instant};

use super::PgStore;
use super::fixtures::{endpoint, t};
use super::test_db::test_db;
use crate::domain::delivery::{Attempt, Delivery, DeliveryState};
use crate::domain::endpoint::{Endpoint, OrderingMode};
use crate::domain::tenant::default_tenant;
use crate::ids::{DeliveryId, EventId};

/// Far enough in the future that every delivery is due.
const LATER: u64 = u64::MAX / 4;

/// `count` deliveries to `endpoint`, of events in time order, stored.
async fn pending(
    store: &PgStore,
    endpoint: &Endpoint,
    count: u64,
    key: Option<&str>,
) -> Vec<Delivery> {
    let deliveries: Vec<Delivery> = (0..count)
        .map(|i| {
            Delivery::new(
                default_tenant(),
                endpoint.id,
                EventId::new(1_000 + i),
                1_000 + i,
            )
            .keyed(key.map(str::to_owned))
        })
        .collect();
    store.record_fanout(&deliveries, &[]).await.unwrap();
    deliveries
}

async fn claim(store: &PgStore, endpoint: &Endpoint, limit: usize, cap: usize) -> Vec<DeliveryId> {
    store
        .claim_due(endpoint, LATER, limit, cap)
        .await
        .unwrap()
        .due
        .into_iter()
        .map(|due| due.id)
        .collect()
}

/// Records a successful attempt of `id` (which ends its lease).
async fn succeed(store: &PgStore, id: DeliveryId) {
    let mut delivery = store.delivery(id).await.unwrap().unwrap();
    delivery.state = DeliveryState::Succeeded;
    delivery.next_attempt_at = None;
    delivery.attempts += 1;
    let attempt = Attempt {
        number: delivery.attempts,
        started_at: 1,
        duration_ms: 1,
        request: None,
        status: Some(200),
        response_excerpt: None,
        error_kind: None,
        error: None,
    };
    store
        .commit_attempt(&delivery, &attempt, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_across_nodes_and_a_recorded_attempt_frees_its_place() {
    let db = test_db!();
    let (one, two) = (db.store().await, db.store().await);
    let hook = endpoint(&t(), None);
    pending(&one, &hook, 10, None).await;

    let first = claim(&one, &hook, 8, 5).await;
    assert_eq!(first.len(), 5, "the cap, not the node's room");
    assert!(
        claim(&two, &hook, 8, 5).await.is_empty(),
        "the cap is full on node one"
    );
    succeed(&one, first[0]).await;
    let second = claim(&two, &hook, 8, 5).await;
    assert_eq!(second.len(), 1, "one place freed");
    assert!(
        !first.contains(&second[0]),
        "never a delivery leased to the other node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_ordered_endpoint_has_one_delivery_in_flight_anywhere_in_event_order() {
    let db = test_db!();
    let (one, two) = (db.store().await, db.store().await);
    let mut hook = endpoint(&t(), None);
    hook.config.ordering.mode = OrderingMode::Endpoint;
    let deliveries = pending(&one, &hook, 3, None).await;

    assert_eq!(claim(&one, &hook, 16, 16).await, vec![deliveries[0].id]);
    assert!(claim(&two, &hook, 16, 16).await.is_empty());
    assert!(claim(&one, &hook, 16, 16).await.is_empty());
    succeed(&one, deliveries[0].id).await;
    assert_eq!(claim(&two, &hook, 16, 16).await, vec![deliveries[1].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_next_delivery_waits_for_its_head_on_any_node() {
    let db = test_db!();
    let (one, two) = (db.store().await, db.store().await);
    let mut hook = endpoint(&t(), None);
    hook.config.ordering.mode = OrderingMode::Key;
    let a = pending(&one, &hook, 2, Some("a")).await;
    let b: Vec<Delivery> = (0..1)
        .map(|i| {
            Delivery::new(
                default_tenant(),
                hook.id,
                EventId::new(2_000 + i),
                2_000 + i,
            )
            .keyed(Some("b".to_owned()))
        })
        .collect();
    one.record_fanout(&b, &[]).await.unwrap();

    let mut taken = claim(&one, &hook, 1, 16).await;
    assert_eq!(taken, vec![a[0].id], "the earliest due first");
    taken = claim(&two, &hook, 16, 16).await;
    assert_eq!(
        taken,
        vec![b[0].id],
        "a's second waits behind its leased head"
    );
    succeed(&one, a[0].id).await;
    assert_eq!(claim(&two, &hook, 16, 16).await, vec![a[1].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_paces_starts_across_nodes() {
    let db = test_db!();
    let (one, two) = (db.store().await, db.store().await);
    let mut hook = endpoint(&t(), None);
    hook.config.rate_limit = Some(2);
    pending(&one, &hook, 4, None).await;

    assert_eq!(
        claim(&one, &hook, 16, 16).await.len(),
        1,
        "one start per claim"
    );
    let paced = two.claim_due(&hook, LATER, 16, 16).await.unwrap();
    assert!(paced.due.is_empty(), "the other node waits its turn");
    let wait = paced.look_again_at.expect("told when to look again") - LATER;
    assert!(
        (1..=501).contains(&wait),
        "half a second at 2/s, not {wait} ms"
    );
    // Once the pace allows (the database's clock), the next start goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if claim(&two, &hook, 16, 16).await.len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pace never allowed a second start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_leases_run_out_and_the_other_node_takes_over() {
    let db = test_db!();
    let dead = db.store().await.with_delivery_lease(200);
    let alive = db.store().await;
    let mut hook = endpoint(&t(), None);
    hook.config.ordering.mode = OrderingMode::Endpoint;
    let deliveries = pending(&alive, &hook, 2, None).await;
    assert_eq!(claim(&dead, &hook, 16, 16).await, vec![deliveries[0].id]);
    assert!(claim(&alive, &hook, 16, 16).await.is_empty(), "leased");
    // The node dies without a word; its lease runs out (the database's
    // clock) and the same head goes to the other node.
    drop(dead);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let taken = claim(&alive, &hook, 16, 16).await;
        if !taken.is_empty() {
            assert_eq!(taken, vec![deliveries[0].id], "still the head, in order");
            break;
        }
        assert!(Instant::now() < deadline, "the lease never ran out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_hands_its_leases_back_at_once() {
    let db = test_db!();
    let stopping = db.store().await;
    let other = db.store().await;
    let hook = endpoint(&t(), None);
    pending(&other, &hook, 3, None).await;
    assert_eq!(claim(&stopping, &hook, 16, 16).await.len(), 3);
    assert!(claim(&other, &hook, 16, 16).await.is_empty());
    stopping.close().await.unwrap();
    assert_eq!(claim(&other, &hook, 16, 16).await.len(), 3);
}
