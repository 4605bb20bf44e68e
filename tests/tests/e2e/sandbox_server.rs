//! The sandbox seen from a live server: hostile plugins on one source hurt
//! only that source. Its calls queue in their own lane of the fair queue,
//! other sources' callbacks are answered at once, and callbacks that wait
//! past the bound get a 503 with `Retry-After` (the vendor resends).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use wasmhook_tests::server::TestServer;

use crate::harness::{fixtures_dir, guest_bytes};

/// Uploads the hostile guest as plugin `hostile` and a source running the
/// `attack` on it; returns the source's token.
async fn hostile_source(server: &TestServer, source: &str, attack: &str) -> String {
    let response = server
        .admin(Method::PUT, "/v1/plugins/hostile?activate=true")
        .body(guest_bytes("hostile"))
        .send()
        .await
        .unwrap();
    assert!(
        [200, 201].contains(&response.status().as_u16()),
        "upload: {}",
        response.status()
    );
    server
        .create_source(source, "hostile", json!({ "attack": attack }))
        .await
}

async fn post(server: &TestServer, source: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/ingest/{source}")))
        .header("x-wasmhook-token", token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("ingest request")
}

/// The running-calls gauge of the default tenant's `lane` from `/metrics`.
async fn running_in(server: &TestServer, lane: &str) -> u32 {
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("wasmhook_plugin_calls_running{{tenant=\"default\",lane=\"{lane}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u32)
}

async fn wait_for_running(server: &TestServer, lane: &str, wanted: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while running_in(server, lane).await < wanted {
        assert!(
            Instant::now() < deadline,
            "lane {lane} never had {wanted} calls running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// With ten hostile calls in flight on one source (sleeping in WASI, or
/// spinning in guest code), a normal callback on another source is
/// answered in under 100 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_calls_on_one_source_leave_another_source_fast() {
    let delivered = std::fs::read(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
        .expect("gupshup fixture");
    for attack in ["sleep", "loop"] {
        let server = TestServer::start_with(|config| {
            // Long enough that the hostile calls are surely in flight while
            // the normal callbacks are timed.
            config.plugin_timeout_ms = 5_000;
            config.plugin_queue_wait_ms = 30_000;
        })
        .await;
        let source = format!("hostile-{attack}");
        let hostile_token = hostile_source(&server, &source, attack).await;
        let normal_token = server.create_source("normal", "gupshup", json!({})).await;
        // Warm the normal source (its mapper is loaded on first use).
        let warm = post(&server, "normal", &normal_token, delivered.clone()).await;
        assert_eq!(warm.status(), 202);

        let hostile: Vec<_> = (0..10)
            .map(|_| {
                let client = server.client.clone();
                let url = server.url(&format!("/ingest/{source}"));
                let token = hostile_token.clone();
                tokio::spawn(async move {
                    client
                        .post(url)
                        .header("x-wasmhook-token", token)
                        .header("content-type", "application/json")
                        .body("{}")
                        .send()
                        .await
                })
            })
            .collect();
        // The lane runs its share (8 by default); the other two wait.
        wait_for_running(&server, &format!("source:{source}"), 8).await;

        let mut latencies = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let response = post(&server, "normal", &normal_token, delivered.clone()).await;
            latencies.push(started.elapsed());
            assert_eq!(response.status(), 202, "{attack}: normal callback refused");
        }
        assert!(
            running_in(&server, &format!("source:{source}")).await > 0,
            "{attack}: the hostile calls were still in flight while timing"
        );
        latencies.sort();
        let worst = *latencies.last().unwrap();
        assert!(
            worst < Duration::from_millis(100),
            "{attack}: a normal callback took {worst:?} beside ten hostile calls ({latencies:?})"
        );
        for call in hostile {
            let response = call.await.unwrap().expect("hostile request answered");
            // Stopped at the deadline: the server's side failed (a 500
            // asks the vendor to resend), kept as rejected.
            assert_eq!(response.status(), 500, "{attack}");
        }
        server.stop().await;
    }
}

/// A callback that cannot get its turn within the bound is answered 503
/// with `Retry-After`, and the mapper never ran for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_waiting_past_the_bound_get_503_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.plugin_timeout_ms = 5_000;
        config.plugin_lane_calls = 2;
        config.plugin_queue_wait_ms = 300;
    })
    .await;
    let token = hostile_source(&server, "sleepy", "sleep").await;
    let running: Vec<_> = (0..2)
        .map(|_| {
            let client = server.client.clone();
            let url = server.url("/ingest/sleepy");
            let token = token.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("x-wasmhook-token", token)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
            })
        })
        .collect();
    wait_for_running(&server, "source:sleepy", 2).await;

    let started = Instant::now();
    let response = post(&server, "sleepy", &token, b"{}".to_vec()).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "busy", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("source:sleepy"),
        "the detail names the lane: {body}"
    );
    assert!(
        waited >= Duration::from_millis(300),
        "refused early: {waited:?}"
    );
    for call in running {
        assert_eq!(call.await.unwrap().unwrap().status(), 500);
    }
    // Only the two calls that ran (and timed out) were kept as rejected;
    // the refused one is the vendor's to resend.
    let (status, rejected) = server.get("/v1/sources/sleepy/rejected").await;
    assert_eq!(status, 200);
    assert_eq!(rejected.as_array().map(Vec::len), Some(2), "{rejected}");
    server.stop().await;
}
