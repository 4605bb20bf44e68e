//! Publishing a batch of events with `POST /v1/events`: every element stored
//! and delivered to a real receiver, the answers one per element in order;
//! a batch over the cap refused; one invalid element refusing all of them,
//! named by its index; a single event answered as before.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::TestServer;

/// The documented cap on one batch.
const MAX_BATCH: usize = 1000;

async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await
}

fn status_event(message_id: &str) -> Value {
    json!({
        "event_type": "status", "channel": "sms", "channel_value": "+15555550100",
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1_672_310_923_000_i64},
        "reference": {"vendor_message_id": message_id}, "source": "batch"
    })
}

async fn event_count(server: &TestServer) -> usize {
    let (status, page) = server.get("/v1/events?source=batch&limit=1000").await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_stored_whole_answered_in_order_and_delivered() {
    let server = server().await;
    let receiver = TestReceiver::start().await;
    let (status, endpoint) = server
        .post("/v1/endpoints", &json!({"url": receiver.url("/hook")}))
        .await;
    assert_eq!(status, 201, "{endpoint}");

    const N: usize = 40;
    let mut batch: Vec<Value> = (0..N).map(|i| status_event(&format!("b-{i}"))).collect();
    // A resend inside the batch is a duplicate of the element it repeats.
    batch.push(status_event("b-3"));
    let (status, answers) = server.post("/v1/events", &Value::from(batch)).await;
    assert_eq!(status, 202, "{answers}");
    let answers = answers.as_array().expect("an array of answers");
    assert_eq!(answers.len(), N + 1);
    let mut ids = Vec::new();
    for answer in &answers[..N] {
        assert_eq!(
            (answer["accepted"].as_u64(), answer["duplicates"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(answer["events"][0]["duplicate"], false, "{answer}");
        ids.push(answer["events"][0]["id"].as_str().unwrap().to_owned());
    }
    let resend = &answers[N];
    assert_eq!(resend["duplicates"], 1, "{resend}");
    assert_eq!(
        resend["events"][0]["id"],
        ids[3].as_str(),
        "points at the first"
    );

    // Answers are in the batch's order: each id holds its element's event.
    for (i, id) in ids.iter().enumerate() {
        let (status, event) = server.get(&format!("/v1/events/{id}")).await;
        assert_eq!(status, 200, "{event}");
        assert_eq!(event["reference"]["vendor_message_id"], format!("b-{i}"));
    }
    assert_eq!(event_count(&server).await, N);

    // Each event is delivered once to the endpoint.
    let received = receiver.wait_for(N, Duration::from_secs(20)).await;
    let delivered: HashSet<String> = received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(delivered, ids.iter().cloned().collect::<HashSet<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_or_empty_batch_is_refused_and_nothing_is_stored() {
    let server = server().await;
    // Small events, so the batch is over the cap but within the body limit.
    let small = |i: usize| {
        json!({"event_type": "status", "channel": "sms", "status": {"status": "sent"},
               "reference": {"vendor_message_id": format!("o-{i}")}, "source": "batch"})
    };
    let oversize: Vec<Value> = (0..=MAX_BATCH).map(small).collect();
    let (status, body) = server.post("/v1/events", &Value::from(oversize)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("batch_too_large")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("1000") && detail.contains("1001"),
        "{detail}"
    );

    let (status, body) = server.post("/v1/events", &json!([])).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("empty_batch")),
        "{body}"
    );
    assert_eq!(event_count(&server).await, 0);

    // At the cap exactly, it is taken.
    let full: Vec<Value> = (0..MAX_BATCH).map(small).collect();
    let (status, answers) = server.post("/v1/events", &Value::from(full)).await;
    assert_eq!(status, 202, "{answers}");
    assert_eq!(answers.as_array().unwrap().len(), MAX_BATCH);
    assert_eq!(event_count(&server).await, MAX_BATCH);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_element_refuses_the_batch_naming_its_index() {
    let server = server().await;
    let good = |i: usize| status_event(&format!("g-{i}"));

    // A field of the wrong type, caught while reading.
    let mut batch: Vec<Value> = (0..5).map(good).collect();
    batch[3]["event_type"] = json!("telegram");
    let (status, body) = server.post("/v1/events", &Value::from(batch)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_field")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("[3].event_type"), "{detail}");

    // A rule the types cannot say, caught before anything is stored.
    let mut batch: Vec<Value> = (0..5).map(good).collect();
    batch[2].as_object_mut().unwrap().remove("status");
    let (status, body) = server.post("/v1/events", &Value::from(batch)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_field")),
        "{body}"
    );
    assert_eq!(
        body["detail"],
        "[2].status: required when event_type is `status`"
    );
    assert_eq!(event_count(&server).await, 0, "all or nothing");

    // A single event is answered as before: one object, no index.
    let mut single = good(9);
    single.as_object_mut().unwrap().remove("status");
    let (status, body) = server.post("/v1/events", &single).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["detail"],
        "status: required when event_type is `status`"
    );
    let (status, body) = server.post("/v1/events", &good(9)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(
        body["events"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("evt_")
    );
    server.stop().await;
}
