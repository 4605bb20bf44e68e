//! Rate limits as the receiver sees them, after a stall: the receiver (or
//! the network to it) stalls while deliveries are sent, so those arrive at
//! once when it recovers; no 1-second window of arrivals may then hold more
//! than the limit, at 20/s and at 100/s. Real time, a few seconds each:
//! the limit holds however loaded the machine, since a request counts
//! against it from before it is sent until a second after its answer.

use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook_tests::receiver::{Received, TestReceiver};
use wasmhook_tests::server::TestServer;

/// The most arrivals within any window `[t, t + 1 s)`.
fn worst_window(received: &[Received]) -> usize {
    let mut times: Vec<Duration> = received.iter().map(|r| r.at).collect();
    times.sort();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Publishes `count` events, 8 requests at a time.
async fn publish(server: &TestServer, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..count.div_ceil(8) {
        for i in chunk * 8..(chunk * 8 + 8).min(count) {
            let request = server
                .admin(reqwest::Method::POST, "/v1/events")
                .json(&json!({
                    "event_type": "status", "channel": "sms", "channel_value": "+15555550100",
                    "status": {"status": "delivered"},
                    "reference": {"vendor_message_id": format!("paced-{i}")}, "source": "crm"
                }));
            tasks.spawn(async move { request.send().await.map(|r| r.status().as_u16()) });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status.unwrap().unwrap(), 202);
        }
    }
}

/// Sends `count` events to an endpoint limited to `per_second` through a
/// stall, and returns the most arrivals in one second.
async fn through_a_stall(per_second: u32, count: usize) -> usize {
    let server = TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    let receiver = TestReceiver::start().await;
    receiver.pause();
    let (status, body) = server
        .post(
            "/v1/endpoints",
            &json!({"url": receiver.url("/paced"), "rate_limit": per_second}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    publish(&server, count).await;
    // The stall: requests pile up, unanswered, to the endpoint's
    // concurrency (16).
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.waiting() < 16 {
        assert!(
            Instant::now() < deadline,
            "{} requests waiting",
            receiver.waiting()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    receiver.resume();
    let received = receiver.wait_for(count, Duration::from_secs(60)).await;
    let mut ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "every event once, none dropped");
    server.stop().await;
    worst_window(&received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_second_holds_more_than_20_arrivals_at_20_per_second_after_a_stall() {
    let worst = through_a_stall(20, 60).await;
    eprintln!("20/s: at most {worst} arrivals in one second");
    assert!(worst <= 20, "{worst} arrivals in one second at 20/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_second_holds_more_than_100_arrivals_at_100_per_second_after_a_stall() {
    let worst = through_a_stall(100, 200).await;
    eprintln!("100/s: at most {worst} arrivals in one second");
    assert!(worst <= 100, "{worst} arrivals in one second at 100/s");
}
