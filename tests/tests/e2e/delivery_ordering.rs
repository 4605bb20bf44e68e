//! Delivery ordering end to end, on a scaled clock with a one-second retry
//! schedule: FIFO per key (one contact's failing event holds only that
//! contact; the others go meanwhile, each in order), what a delivery that
//! fails for good does to the ones behind it (`hold` until released or
//! retried, `skip`), and the same for the endpoint ordered as a whole.
//! Every wait is for a state, never for time to pass.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::receiver::{Received, Script, TestReceiver};
use wasmhook_tests::server::{TestServer, json_of};

/// A server that may reach loopback, its delivery clock 600x: a retry one
/// second out comes within a few milliseconds.
async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
        config.clock_scale = 600.0;
    })
    .await
}

/// An endpoint to `receiver` ordered as `ordering`, retrying after a
/// second, three attempts in all.
async fn endpoint(server: &TestServer, receiver: &TestReceiver, ordering: Value) -> String {
    let (status, body) = server
        .post(
            "/v1/endpoints",
            &json!({"url": receiver.url("/hook"), "ordering": ordering,
                    "retry": {"schedule_secs": [1], "max_attempts": 3}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Publishes a status event for `contact` whose vendor message id is
/// `message_id`.
async fn publish(server: &TestServer, contact: &str, message_id: &str) {
    let event = json!({
        "event_type": "status", "channel": "sms", "channel_value": contact,
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1_672_310_923_000_i64},
        "reference": {"vendor_message_id": message_id}, "source": "crm"
    });
    let (status, body) = server.post("/v1/events", &event).await;
    assert_eq!(status, 202, "{body}");
}

/// The vendor message ids of what arrived, in arrival order.
fn arrived(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["reference"]["vendor_message_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The ids that start with `prefix`, in order.
fn of(ids: &[String], prefix: &str) -> Vec<String> {
    ids.iter()
        .filter(|id| id.starts_with(prefix))
        .cloned()
        .collect()
}

/// The endpoint's delivery of the event with vendor message id `message_id`.
async fn delivery(server: &TestServer, endpoint: &str, message_id: &str) -> Value {
    let (_, list) = server
        .get(&format!("/v1/endpoints/{endpoint}/deliveries"))
        .await;
    for delivery in list.as_array().unwrap() {
        let id = delivery["id"].as_str().unwrap();
        let (_, detail) = server.get(&format!("/v1/deliveries/{id}")).await;
        let (_, event) = server
            .get(&format!("/v1/events/{}", detail["event"].as_str().unwrap()))
            .await;
        if event["reference"]["vendor_message_id"] == message_id {
            return detail;
        }
    }
    panic!("no delivery of {message_id}: {list}");
}

/// Waits until the delivery of `message_id` satisfies `done`.
async fn wait_until(
    server: &TestServer,
    endpoint: &str,
    message_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let current = delivery(server, endpoint, message_id).await;
        if done(&current) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "{message_id} never {what}: {current}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn action(server: &TestServer, delivery_id: &str, action: &str) -> (u16, Value) {
    json_of(
        server
            .admin(
                Method::POST,
                &format!("/v1/deliveries/{delivery_id}/{action}"),
            )
            .send()
            .await
            .unwrap(),
    )
    .await
}

const ANN: &str = "+15555550001";
const BOB: &str = "+15555550002";
const CAT: &str = "+15555550003";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_key_a_failing_contact_holds_only_itself_until_released() {
    let server = server().await;
    // Ann's receiver side is broken: every event of hers fails.
    let receiver = TestReceiver::with_script(Script {
        fail_bodies: vec![(ANN.to_owned(), 503)],
        ..Script::default()
    })
    .await;
    let endpoint = endpoint(&server, &receiver, json!({"mode": "key"})).await;
    for (contact, id) in [
        (ANN, "ann-1"),
        (BOB, "bob-1"),
        (CAT, "cat-1"),
        (ANN, "ann-2"),
        (BOB, "bob-2"),
        (ANN, "ann-3"),
        (CAT, "cat-2"),
        (BOB, "bob-3"),
    ] {
        publish(&server, contact, id).await;
    }
    // Ann's first event fails three times and is held; Bob's and Cat's go
    // meanwhile, each contact's in order.
    let held = wait_until(&server, &endpoint, "ann-1", "held", |d| d["held"] == true).await;
    assert_eq!(held["state"], "failed", "{held}");
    assert_eq!(held["attempts"].as_array().unwrap().len(), 3, "{held}");
    assert_eq!(held["ordering_key"], ANN);
    let received = receiver.wait_for(3 + 5, Duration::from_secs(30)).await;
    let ids = arrived(&received);
    assert_eq!(of(&ids, "bob"), ["bob-1", "bob-2", "bob-3"], "{ids:?}");
    assert_eq!(of(&ids, "cat"), ["cat-1", "cat-2"], "{ids:?}");
    assert_eq!(of(&ids, "ann"), ["ann-1"; 3], "{ids:?}");

    // Held: Ann's later events stay queued while others keep going.
    publish(&server, BOB, "bob-4").await;
    let received = receiver.wait_for(9, Duration::from_secs(30)).await;
    assert_eq!(arrived(&received).last().unwrap(), "bob-4");
    let waiting = delivery(&server, &endpoint, "ann-2").await;
    assert_eq!(
        (
            waiting["state"].as_str(),
            waiting["attempts"].as_array().unwrap().len()
        ),
        (Some("pending"), 0),
        "{waiting}"
    );
    assert_eq!(of(&arrived(&receiver.received()), "ann").len(), 3);

    // The receiver is fixed; releasing the held delivery lets Ann's others
    // go, in order, and leaves it failed.
    receiver.script(|script| script.fail_bodies.clear());
    let (status, released) = action(&server, held["id"].as_str().unwrap(), "release").await;
    assert_eq!(
        (status, &released["held"]),
        (200, &json!(false)),
        "{released}"
    );
    let received = receiver.wait_for(11, Duration::from_secs(30)).await;
    let ids = arrived(&received);
    assert_eq!(
        of(&ids, "ann"),
        ["ann-1", "ann-1", "ann-1", "ann-2", "ann-3"]
    );
    let released = delivery(&server, &endpoint, "ann-1").await;
    assert_eq!(released["state"], "failed", "{released}");
    // Releasing what holds nothing is refused.
    let (status, body) = action(&server, held["id"].as_str().unwrap(), "release").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_key_with_skip_the_next_event_of_the_key_goes_after_a_final_failure() {
    let server = server().await;
    // Only Ann's first event fails.
    let receiver = TestReceiver::with_script(Script {
        fail_bodies: vec![("ann-1".to_owned(), 500)],
        ..Script::default()
    })
    .await;
    let endpoint = endpoint(
        &server,
        &receiver,
        json!({"mode": "key", "key": "channel_value", "after_final_failure": "skip"}),
    )
    .await;
    for (contact, id) in [
        (ANN, "ann-1"),
        (ANN, "ann-2"),
        (BOB, "bob-1"),
        (ANN, "ann-3"),
    ] {
        publish(&server, contact, id).await;
    }
    let received = receiver.wait_for(3 + 3, Duration::from_secs(30)).await;
    let ids = arrived(&received);
    assert_eq!(
        of(&ids, "ann"),
        ["ann-1", "ann-1", "ann-1", "ann-2", "ann-3"],
        "the next one waits for the final failure, then goes: {ids:?}"
    );
    assert_eq!(of(&ids, "bob"), ["bob-1"]);
    let failed = delivery(&server, &endpoint, "ann-1").await;
    assert_eq!(
        (&failed["state"], &failed["held"]),
        (&json!("failed"), &json!(false))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_endpoint_holds_after_a_final_failure_until_the_head_is_retried() {
    let server = server().await;
    let receiver = TestReceiver::with_script(Script {
        fail_bodies: vec![("first".to_owned(), 503)],
        ..Script::default()
    })
    .await;
    // The older spelling: the whole endpoint in order, holding.
    let endpoint = endpoint(&server, &receiver, json!("strict")).await;
    for (contact, id) in [(ANN, "first"), (BOB, "second"), (CAT, "third")] {
        publish(&server, contact, id).await;
    }
    let held = wait_until(&server, &endpoint, "first", "held", |d| d["held"] == true).await;
    assert_eq!(held["state"], "failed");
    assert!(held.get("ordering_key").is_none(), "{held}");
    // Nothing else went, though others are due: another endpoint's event
    // going proves the engine kept dispatching meanwhile.
    let other = TestReceiver::start().await;
    let (status, _) = server
        .post("/v1/endpoints", &json!({"url": other.url("/other")}))
        .await;
    assert_eq!(status, 201);
    publish(&server, BOB, "fourth").await;
    other.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(arrived(&receiver.received()), ["first"; 3]);
    let waiting = delivery(&server, &endpoint, "second").await;
    assert_eq!(
        waiting["attempts"].as_array().unwrap().len(),
        0,
        "{waiting}"
    );

    // Retried by hand once the receiver works: the head goes first, then
    // the rest, in order.
    receiver.script(|script| script.fail_bodies.clear());
    let (status, retried) = action(&server, held["id"].as_str().unwrap(), "retry").await;
    assert_eq!(
        (status, &retried["state"], &retried["held"]),
        (200, &json!("pending"), &json!(false)),
        "{retried}"
    );
    let received = receiver.wait_for(3 + 4, Duration::from_secs(30)).await;
    assert_eq!(
        arrived(&received)[3..],
        ["first", "second", "third", "fourth"]
    );
    server.stop().await;
}
