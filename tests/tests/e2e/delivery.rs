//! The delivery engine end to end with real receivers on loopback: signed
//! requests verified by the independent `standardwebhooks` crate (also
//! across a secret rotation), retries with a stable `webhook-id` and growing
//! delays on a scaled clock, strict order across an outage, rate limits,
//! isolation from a hanging endpoint, the SSRF refusal of loopback, and
//! the delivery metrics of a server of its own.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use wasmhook_tests::logged::LoggedServer;
use wasmhook_tests::receiver::{Script, TestReceiver};
use wasmhook_tests::server::{TestServer, json_of};

/// A server whose outbound client may reach loopback, with its delivery
/// clock running `scale` times faster.
async fn server(scale: f64) -> TestServer {
    TestServer::start_with(|config| {
        config.outbound_allowlist = vec!["127.0.0.1/32".into()];
        config.clock_scale = scale;
    })
    .await
}

async fn create_endpoint(server: &TestServer, body: Value) -> Value {
    let (status, endpoint) = server.post("/v1/endpoints", &body).await;
    assert_eq!(status, 201, "{endpoint}");
    endpoint
}

fn status_event(message_id: &str) -> Value {
    json!({
        "event_type": "status", "channel": "sms", "channel_value": "+15555550100",
        "status": {"status": "delivered", "vendor_status": "DELIVERED", "timestamp": 1_672_310_923_000_i64},
        "reference": {"vendor_message_id": message_id}, "source": "crm"
    })
}

async fn publish(server: &TestServer, message_id: &str) -> String {
    let (status, body) = server.post("/v1/events", &status_event(message_id)).await;
    assert_eq!(status, 202, "{body}");
    body["events"][0]["id"].as_str().unwrap().to_owned()
}

fn verify(secret: &str, received: &wasmhook_tests::receiver::Received) -> bool {
    let webhook = standardwebhooks::Webhook::new(secret).expect("secret parses");
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in &received.headers {
        headers.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(value).unwrap(),
        );
    }
    webhook.verify(&received.body, &headers).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_per_standard_webhooks_also_across_a_rotation() {
    let server = server(1.0).await;
    let receiver = TestReceiver::start().await;
    let endpoint = create_endpoint(&server, json!({"url": receiver.url("/hook")})).await;
    let old_secret = endpoint["secret"].as_str().unwrap().to_owned();
    let id = endpoint["id"].as_str().unwrap();

    let event_id = publish(&server, "sig-1").await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let first = &received[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert!(first.header("webhook-id").unwrap().starts_with("msg_"));
    assert!(
        verify(&old_secret, first),
        "signature verifies with the endpoint's secret"
    );
    assert!(
        !verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", first),
        "and not with another"
    );
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["id"], event_id);
    assert_eq!(body["reference"]["vendor_message_id"], "sig-1");

    let (status, rotated) = server
        .post(
            &format!("/v1/endpoints/{id}/rotate-secret"),
            &json!({"grace_period_secs": 3600}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    publish(&server, "sig-2").await;
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    let second = &received[1];
    assert!(verify(&new_secret, second), "the new secret verifies");
    assert!(
        verify(&old_secret, second),
        "the old secret still verifies in its grace period"
    );
    assert_eq!(
        second
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    // The delivery and its attempt are visible, without secrets.
    let (_, deliveries) = server.get(&format!("/v1/endpoints/{id}/deliveries")).await;
    assert_eq!(deliveries.as_array().unwrap().len(), 2);
    let delivery_id = first.header("webhook-id").unwrap();
    let (status, detail) = server.get(&format!("/v1/deliveries/{delivery_id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["state"], "succeeded");
    assert_eq!(detail["attempts"][0]["status"], 200);
    assert!(
        detail["attempts"][0]["request"]["headers"]
            .as_array()
            .is_some()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_three_times_gets_the_event_on_attempt_four_with_growing_delays() {
    // 600x: the 1, 2, 4 minute delays take 0.1, 0.2, 0.4 s.
    let server = server(600.0).await;
    let receiver = TestReceiver::with_script(Script {
        statuses: vec![500, 503, 502],
        ..Script::default()
    })
    .await;
    let endpoint = create_endpoint(&server, json!({"url": receiver.url("/flaky")})).await;
    publish(&server, "retry-1").await;
    let received = receiver.wait_for(4, Duration::from_secs(20)).await;
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one webhook-id across retries: {ids:?}"
    );
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "delays grow: {gaps:?}"
    );
    // ~1 minute scaled (jitter ±10 %), not immediate.
    assert!(gaps[0] >= Duration::from_millis(80), "{gaps:?}");
    // The receiver answered before the attempt is recorded: wait for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let detail = loop {
        let (_, detail) = server.get(&format!("/v1/deliveries/{}", ids[0])).await;
        if detail["state"] == "succeeded" {
            break detail;
        }
        assert!(std::time::Instant::now() < deadline, "{detail}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 4);
    assert_eq!(detail["attempts"][0]["status"], 500);
    assert_eq!(detail["attempts"][0]["error_kind"], "http_status");
    let _ = endpoint;
    server.stop().await;
}

/// A target the address rules always refuse (a loopback, private or
/// link-local IP literal, `localhost`) is refused when the endpoint is
/// saved, naming the rule, instead of failing every delivery later; the
/// operator's allowlist lets it in. (Names that resolve to such addresses
/// are refused at delivery time, on the resolved address: see the
/// outbound client's tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_targets_are_refused_unless_allowlisted() {
    let server = TestServer::start().await;
    let receiver = TestReceiver::start().await;
    for url in [
        receiver.url("/hook"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://localhost:{}/hook", receiver.addr.port()),
        "https://[::1]/hook".to_owned(),
    ] {
        let (status, body) = server.post("/v1/endpoints", &json!({"url": url})).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("target_refused")),
            "{url}: {body}"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("url: ") && detail.contains("outbound allowlist"),
            "{detail}"
        );
    }
    // An update to such a URL is refused the same way and changes nothing.
    let endpoint = create_endpoint(&server, json!({"url": "https://hooks.example.com/x"})).await;
    let id = endpoint["id"].as_str().unwrap();
    let (status, body) = json_of(
        server
            .admin(Method::PATCH, &format!("/v1/endpoints/{id}"))
            .json(&json!({"url": "http://10.0.0.7/x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("target_refused")),
        "{body}"
    );
    let (_, unchanged) = server.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(unchanged["url"], "https://hooks.example.com/x");
    assert!(receiver.received().is_empty());
    server.stop().await;

    // Allowlisted, the same loopback receiver is a valid target.
    let allowlisted = self::server(1.0).await;
    create_endpoint(&allowlisted, json!({"url": receiver.url("/hook")})).await;
    allowlisted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_slow_another() {
    let server = server(1.0).await;
    let hanging = TestReceiver::with_script(Script {
        delay: Duration::from_secs(20),
        ..Script::default()
    })
    .await;
    let healthy = TestReceiver::start().await;
    create_endpoint(&server, json!({"url": hanging.url("/slow")})).await;
    create_endpoint(&server, json!({"url": healthy.url("/fast")})).await;
    for i in 0..40 {
        publish(&server, &format!("hang-{i}")).await;
    }
    let started = std::time::Instant::now();
    healthy.wait_for(40, Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // The hanging one holds at most its own slots.
    assert!(
        hanging.received().len() <= 16,
        "{}",
        hanging.received().len()
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_endpoints_get_the_rendered_fields_in_the_query_and_renderers_shape_bodies() {
    let server = server(1.0).await;
    let receiver = TestReceiver::start().await;
    create_endpoint(
        &server,
        json!({"url": receiver.url("/dlr?fixed=1"), "method": "GET",
               "renderer": {"plugin": "form-renderer", "format": "form",
                            "template": "msgid={{ reference.vendor_message_id }}&status={{ status.status }}&mobile={{ channel_value }}"},
               "headers": [{"name": "X-Status", "value": "${status.status}"}]}),
    )
    .await;
    create_endpoint(
        &server,
        json!({"url": receiver.url("/xml"),
               "renderer": {"plugin": "xml-renderer", "format": "xml",
                            "template": "<dlr><id>{{ reference.vendor_message_id }}</id><to>{{ channel_value }}</to></dlr>"}}),
    )
    .await;
    publish(&server, "m<1>").await;
    let received = receiver.wait_for(2, Duration::from_secs(10)).await;
    let get = received.iter().find(|r| r.method == "GET").expect("a GET");
    let query: Vec<(String, String)> = form_pairs(get.uri.split_once('?').unwrap().1);
    assert!(query.contains(&("fixed".into(), "1".into())), "{query:?}");
    assert!(
        query.contains(&("msgid".into(), "m<1>".into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("mobile".into(), "+15555550100".into())),
        "{query:?}"
    );
    assert!(get.body.is_empty());
    assert_eq!(get.header("x-status"), Some("delivered"));
    let xml = received
        .iter()
        .find(|r| r.uri == "/xml")
        .expect("the XML POST");
    assert!(xml.header("content-type").unwrap().contains("xml"));
    let text = String::from_utf8(xml.body.to_vec()).unwrap();
    assert!(text.contains("<id>m&lt;1&gt;</id>"), "{text}");
    server.stop().await;
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_by_hand() {
    let server = server(1.0).await;
    let receiver = TestReceiver::with_script(Script {
        statuses: vec![500],
        ..Script::default()
    })
    .await;
    let endpoint = create_endpoint(
        &server,
        json!({"url": receiver.url("/hook"), "retry": {"max_attempts": 1}}),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap();
    publish(&server, "manual-1").await;
    // One attempt allowed, answered 500: the delivery fails at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let delivery_id = loop {
        let (_, list) = server
            .get(&format!("/v1/endpoints/{id}/deliveries?state=failed"))
            .await;
        if let Some(first) = list.as_array().and_then(|l| l.first()) {
            break first["id"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, body) = json_of(
        server
            .admin(Method::POST, &format!("/v1/deliveries/{delivery_id}/retry"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    let (status, _) = server
        .post("/v1/deliveries/msg_nope/retry", &json!({}))
        .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_order_holds_across_a_receiver_outage_with_100_events() {
    // The receiver is down for its first 5 requests; at 600x the retries
    // come within a second.
    let server = server(600.0).await;
    let receiver = TestReceiver::with_script(Script {
        statuses: vec![503; 5],
        ..Script::default()
    })
    .await;
    create_endpoint(
        &server,
        json!({"url": receiver.url("/ordered"), "ordering": "strict"}),
    )
    .await;
    let mut published = Vec::new();
    for i in 0..100 {
        published.push(publish(&server, &format!("order-{i}")).await);
    }
    let received = receiver.wait_for(105, Duration::from_secs(60)).await;
    // While the first delivery was retrying nothing else went.
    let first_ids: Vec<&str> = received[..6]
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(
        first_ids.iter().all(|id| *id == first_ids[0]),
        "{first_ids:?}"
    );
    let delivered: Vec<String> = received[5..]
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(delivered, published, "delivered in event order");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_of_5_per_second_paces_deliveries_and_drops_none() {
    let server = server(1.0).await;
    let receiver = TestReceiver::start().await;
    create_endpoint(
        &server,
        json!({"url": receiver.url("/paced"), "rate_limit": 5}),
    )
    .await;
    for i in 0..16 {
        publish(&server, &format!("rate-{i}")).await;
    }
    let received = receiver.wait_for(16, Duration::from_secs(10)).await;
    let span = received[15].at - received[0].at;
    let rate = 15.0 / span.as_secs_f64();
    assert!(
        (4.0..=6.0).contains(&rate),
        "measured {rate:.2} requests/s over {span:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 16, "each event exactly once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sends_show_request_and_response_and_saving_a_url_can_verify_it() {
    let server = server(1.0).await;
    let receiver = TestReceiver::with_script(Script {
        statuses: vec![404],
        ..Script::default()
    })
    .await;
    // The first GET answers 404: the verification refuses the URL.
    let (status, body) = server
        .post(
            "/v1/endpoints?verify=true",
            &json!({"url": receiver.url("/hook")}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("verification_failed")),
        "{body}"
    );
    assert!(body["detail"].as_str().unwrap().contains("404"), "{body}");
    let (_, endpoints) = server.get("/v1/endpoints").await;
    assert_eq!(endpoints.as_array().unwrap().len(), 0, "nothing saved");
    // The next answers 200: saved.
    let endpoint = create_endpoint(&server, json!({"url": receiver.url("/hook")})).await;
    let id = endpoint["id"].as_str().unwrap();
    let (status, _) = server
        .admin(Method::PATCH, &format!("/v1/endpoints/{id}?verify=true"))
        .json(&json!({"description": "verified"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);

    let (status, sent) = server
        .post(&format!("/v1/endpoints/{id}/test"), &json!({}))
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["response"]["status"], 200, "{sent}");
    assert_eq!(sent["request"]["method"], "POST");
    assert!(
        sent["request"]["headers"]
            .to_string()
            .contains("webhook-signature")
    );
    let last = receiver.received().pop().unwrap();
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["source"], "wasmhook-test");
    assert!(verify(endpoint["secret"].as_str().unwrap(), &last));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_credentials_are_sent_but_never_shown_and_410_disables_the_endpoint() {
    let server = server(1.0).await;
    let receiver = TestReceiver::with_script(Script {
        statuses: vec![200, 410],
        ..Script::default()
    })
    .await;
    let (status, connector) = server
        .post(
            "/v1/connectors",
            &json!({"name": "crm", "auth": {"kind": "basic", "username": "ann", "password": "pa55-word-secret"}}),
        )
        .await;
    assert_eq!(status, 201, "{connector}");
    let endpoint = create_endpoint(
        &server,
        json!({"url": receiver.url("/auth"), "connector": connector["id"], "ordering": "strict"}),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap();
    publish(&server, "auth-1").await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    // "ann:pa55-word-secret" in base64.
    assert_eq!(
        received[0].header("authorization"),
        Some("Basic YW5uOnBhNTUtd29yZC1zZWNyZXQ=")
    );
    let delivery_id = received[0].header("webhook-id").unwrap();
    let (_, detail) = server.get(&format!("/v1/deliveries/{delivery_id}")).await;
    assert!(
        !detail.to_string().contains("YW5uOnBhNTUtd29yZC1zZWNyZXQ="),
        "{detail}"
    );
    assert!(!detail.to_string().contains("pa55-word-secret"));

    // The next delivery gets 410 Gone: the endpoint is disabled and the
    // delivery waits (pending) instead of being lost.
    publish(&server, "auth-2").await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, current) = server.get(&format!("/v1/endpoints/{id}")).await;
        if current["enabled"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "endpoint still enabled: {current}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publish(&server, "auth-3").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing goes to a disabled endpoint"
    );
    let (_, pending) = server
        .get(&format!("/v1/endpoints/{id}/deliveries?state=pending"))
        .await;
    assert_eq!(pending.as_array().unwrap().len(), 2, "{pending}");
    // Enabled again: both go, in order.
    let response = server
        .admin(Method::PATCH, &format!("/v1/endpoints/{id}"))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = receiver.wait_for(4, Duration::from_secs(10)).await;
    let ids: Vec<String> = received[2..]
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["reference"]["vendor_message_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["auth-2", "auth-3"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_endpoint_fails_its_waiting_deliveries_visibly() {
    let server = server(1.0).await;
    let receiver = TestReceiver::start().await;
    let endpoint = create_endpoint(
        &server,
        json!({"url": receiver.url("/gone"), "enabled": false}),
    )
    .await;
    let id = endpoint["id"].as_str().unwrap();
    publish(&server, "orphan-1").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let delivery_id = loop {
        let (_, list) = server
            .get(&format!("/v1/endpoints/{id}/deliveries?state=pending"))
            .await;
        if let Some(first) = list.as_array().and_then(|l| l.first()) {
            break first["id"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no pending delivery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, _) = json_of(
        server
            .admin(Method::DELETE, &format!("/v1/endpoints/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 204);
    let (status, delivery) = server.get(&format!("/v1/deliveries/{delivery_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .starts_with("endpoint_deleted")
    );
    assert!(receiver.received().is_empty());
    server.stop().await;
}

/// The value of the `/metrics` sample named exactly `series` (name and
/// labels as printed), if there is one.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_deliveries_and_attempts_per_endpoint_and_sample_the_queue() {
    // A process of its own: the queue gauges are per server, and in-process
    // test servers share one metrics recorder.
    let server = LoggedServer::launch(env!("CARGO_BIN_EXE_wasmhook-e2e")).await;
    let receiver = TestReceiver::start().await;
    let (status, live, _) = server
        .call(
            Method::POST,
            "/v1/endpoints",
            Some(json!({"url": receiver.url("/hook")})),
        )
        .await;
    assert_eq!(status, 201, "{live}");
    let live: Value = serde_json::from_str(&live).unwrap();
    let live = live["id"].as_str().unwrap().to_owned();
    // A disabled endpoint's deliveries wait: they are the queue.
    let (status, parked, _) = server
        .call(
            Method::POST,
            "/v1/endpoints",
            Some(json!({"url": receiver.url("/parked"), "enabled": false})),
        )
        .await;
    assert_eq!(status, 201, "{parked}");
    for message_id in ["m-1", "m-2", "m-3"] {
        let (status, body, _) = server
            .call(Method::POST, "/v1/events", Some(status_event(message_id)))
            .await;
        assert_eq!(status, 202, "{body}");
    }
    receiver.wait_for(3, Duration::from_secs(10)).await;
    let expected = [
        (
            format!(
                "wasmhook_deliveries_total{{tenant=\"default\",endpoint=\"{live}\",outcome=\"delivered\"}}"
            ),
            3.0,
        ),
        (
            format!(
                "wasmhook_delivery_attempts_total{{tenant=\"default\",endpoint=\"{live}\",outcome=\"success\"}}"
            ),
            3.0,
        ),
        (
            format!(
                "wasmhook_delivery_attempt_seconds_count{{tenant=\"default\",endpoint=\"{live}\"}}"
            ),
            3.0,
        ),
        ("wasmhook_delivery_queue_depth".to_owned(), 3.0),
    ];
    // The queue is sampled every few seconds; the oldest waiting delivery
    // is a second old or more once a sample falls a second after publishing.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let (status, metrics, _) = server.call(Method::GET, "/metrics", None).await;
        assert_eq!(status, 200);
        let oldest = sample(&metrics, "wasmhook_delivery_oldest_pending_seconds");
        if expected
            .iter()
            .all(|(series, value)| sample(&metrics, series) == Some(*value))
            && oldest.is_some_and(|age| age >= 1.0)
        {
            break metrics;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never showed {expected:?} and an oldest pending age of 1 s or more:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(receiver.count(), 3, "the parked endpoint got nothing");
    assert!(
        metrics.contains("wasmhook_delivery_attempt_seconds_bucket{tenant=\"default\",endpoint=")
    );
}
