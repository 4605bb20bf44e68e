//! Requests that cannot be sent as configured are not retried (issue 13):
//! an endpoint whose header template fills in, from the event, a value that
//! would split the request (a line break: the request cannot be built) or
//! that HTTP forbids (another control character: the outbound client
//! refuses it) fails its delivery after exactly one attempt, the attempt
//! saying why, and the receiver gets nothing — while an event whose value
//! is fine goes through the same endpoint with its header filled in.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::TestServer;

/// A status event whose `status.description` is `description`.
fn event_described(message_id: &str, description: &str) -> Value {
    json!({
        "event_type": "status", "channel": "sms", "channel_value": "+15555550100",
        "status": {"status": "failed", "vendor_status": "UNDELIVERED",
                   "timestamp": 1_672_310_923_000_i64, "description": description},
        "reference": {"vendor_message_id": message_id}, "source": "crm"
    })
}

/// The endpoint's deliveries once every one of them has had an attempt.
async fn attempted(server: &TestServer, endpoint: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, list) = server
            .get(&format!("/v1/endpoints/{endpoint}/deliveries"))
            .await;
        assert_eq!(status, 200, "{list}");
        let deliveries = list.as_array().cloned().unwrap_or_default();
        if deliveries.len() == count
            && deliveries
                .iter()
                .all(|delivery| delivery["attempt_count"].as_u64() >= Some(1))
        {
            return deliveries;
        }
        assert!(Instant::now() < deadline, "no attempt in time: {list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes an event whose description is `description` to an endpoint
/// sending it in a header, and returns the delivery's detail once it has
/// had its first attempt.
async fn deliver_described(description: &str) -> (Value, TestReceiver, TestServer, String) {
    let server = TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    let receiver = TestReceiver::start().await;
    let (status, endpoint) = server
        .post(
            "/v1/endpoints",
            &json!({
                "url": receiver.url("/hook"),
                "headers": [{"name": "X-Status-Note", "value": "note: ${status.description}"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post("/v1/events", &event_described("bad-1", description))
        .await;
    assert_eq!(status, 202, "{body}");
    let deliveries = attempted(&server, &endpoint, 1).await;
    let id = deliveries[0]["id"].as_str().unwrap();
    let (status, detail) = server.get(&format!("/v1/deliveries/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    (detail, receiver, server, endpoint)
}

/// The delivery failed at its first attempt, not to be retried, and the
/// attempt says why (`error_kind`, an error containing `says`).
fn assert_failed_once(detail: &Value, error_kind: &str, says: &str) {
    assert_eq!(detail["state"], "failed", "{detail}");
    assert_eq!(detail["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail["next_attempt_at"], Value::Null, "{detail}");
    let last_error = detail["last_error"].as_str().unwrap_or_default();
    assert!(last_error.ends_with("(not_retryable)"), "{last_error}");
    let attempt = &detail["attempts"][0];
    assert_eq!(attempt["error_kind"], error_kind, "{attempt}");
    let error = attempt["error"].as_str().unwrap_or_default();
    assert!(error.contains(says), "{error}");
    assert_eq!(
        attempt["status"],
        Value::Null,
        "nothing answered: {attempt}"
    );
}

/// The same endpoint still delivers an event whose value is fine, with its
/// header filled in: it is the one request the receiver ever gets.
async fn assert_a_fine_value_goes_through(
    server: &TestServer,
    receiver: &TestReceiver,
    endpoint: &str,
) {
    let (status, body) = server
        .post(
            "/v1/events",
            &event_described("good-1", "unknown subscriber"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("x-status-note"),
        Some("note: unknown subscriber")
    );
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["reference"]["vendor_message_id"], "good-1");
    attempted(server, endpoint, 2).await;
    assert_eq!(receiver.count(), 1, "the bad event never reached it");
}

/// A line break filled in from the event would split the request: it
/// cannot be built, and building it again would fail the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_value_that_cannot_be_built_fails_after_one_attempt() {
    let (detail, receiver, server, endpoint) =
        deliver_described("rejected\r\nX-Injected: yes").await;
    assert_failed_once(&detail, "bad_request", "headers[0]");
    assert_eq!(detail["attempts"][0]["request"], Value::Null, "not built");
    assert!(receiver.received().is_empty());
    assert_a_fine_value_goes_through(&server, &receiver, &endpoint).await;
    server.stop().await;
}

/// A control character is no line break, so the request is built, but it
/// is not valid in an HTTP header: the outbound client refuses to send it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_value_http_forbids_fails_after_one_attempt() {
    let (detail, receiver, server, endpoint) = deliver_described("bell \u{7} rung").await;
    assert_failed_once(&detail, "invalid_request", "x-status-note");
    let shown = &detail["attempts"][0]["request"]["headers"];
    assert!(
        shown
            .as_array()
            .unwrap()
            .contains(&json!(["x-status-note", "note: bell \u{7} rung"])),
        "{shown}"
    );
    assert!(receiver.received().is_empty());
    assert_a_fine_value_goes_through(&server, &receiver, &endpoint).await;
    server.stop().await;
}
