//! Tests of the outbound client against real sockets on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use reqwest::Method;
use tokio::net::TcpListener;
use url::Url;

use super::*;

/// A receiver on 127.0.0.1:0: `/ok`, `/redirect` (302 to `/target`, which
/// counts its hits), `/big` (1 MiB), `/busy` (503 with `Retry-After: 7`)
/// and `/echo-agent`.
struct Receiver {
    address: SocketAddr,
    target_hits: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Receiver {
        let target_hits = Arc::new(AtomicUsize::new(0));
        let hits = Arc::clone(&target_hits);
        let app = Router::new()
            .route(
                "/ok",
                get(|| async { "ok" }).post(|body: String| async move { body }),
            )
            .route(
                "/redirect",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/target")], "moved") }),
            )
            .route(
                "/target",
                get(move || {
                    hits.fetch_add(1, Ordering::SeqCst);
                    async { "followed" }
                }),
            )
            .route("/big", get(|| async { vec![b'x'; 1 << 20] }))
            .route(
                "/busy",
                get(|| async {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::RETRY_AFTER, "7")],
                    )
                }),
            )
            .route(
                "/echo-agent",
                get(|headers: axum::http::HeaderMap| async move {
                    headers
                        .get(header::USER_AGENT)
                        .map(|value| value.as_bytes().to_vec())
                        .unwrap_or_default()
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let address = listener.local_addr().expect("receiver address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            address,
            target_hits,
        }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.address)).expect("receiver url")
    }
}

fn client(allowlist: &[&str]) -> OutboundClient {
    OutboundClient::new(OutboundConfig {
        allowlist: allowlist.iter().map(|entry| (*entry).to_owned()).collect(),
        ..OutboundConfig::default()
    })
    .expect("client")
}

fn get_request(url: Url) -> OutboundRequest {
    OutboundRequest::new(Method::GET, url)
}

async fn send_err(client: &OutboundClient, request: OutboundRequest) -> OutboundError {
    match client.send(request).await {
        Err(error) => error,
        Ok(response) => panic!("expected an error, got status {}", response.status),
    }
}

#[tokio::test]
async fn loopback_is_refused_unless_allowlisted() {
    let receiver = Receiver::start().await;

    let error = send_err(&client(&[]), get_request(receiver.url("/ok"))).await;
    assert_eq!(error.kind(), "refused_target");
    let OutboundError::RefusedTarget { target, refusal } = &error else {
        panic!("refused_target expected: {error}");
    };
    assert_eq!(target, "127.0.0.1");
    assert_eq!(refusal.address.to_string(), "127.0.0.1");
    assert_eq!(refusal.reason, "loopback");

    let response = client(&["127.0.0.1/32"])
        .send(get_request(receiver.url("/ok")))
        .await
        .expect("allowlisted loopback answers");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_excerpt, b"ok");
    assert!(!response.truncated);
    assert!(response.is_success());
}

#[tokio::test]
async fn a_host_name_is_judged_by_the_addresses_it_resolves_to() {
    let receiver = Receiver::start().await;
    let port = receiver.address.port();
    let url = Url::parse(&format!("http://localhost:{port}/ok")).expect("url");

    // localhost reaches the resolver (no IP literal), whose refusal must
    // surface as refused_target, naming the host and the loopback address.
    let error = send_err(&client(&[]), get_request(url.clone())).await;
    assert_eq!(error.kind(), "refused_target", "{error}");
    let OutboundError::RefusedTarget { target, refusal } = &error else {
        panic!("refused_target expected: {error}");
    };
    assert_eq!(target, "localhost");
    assert_eq!(refusal.reason, "loopback");
    assert!(error.to_string().contains("localhost"), "{error}");

    // Allowed by host name, and by the network of the resolved address.
    for allowlist in [["localhost"], ["127.0.0.0/8"]] {
        let response = client(&allowlist)
            .send(get_request(url.clone()))
            .await
            .expect("allowlisted localhost answers");
        assert_eq!(response.body_excerpt, b"ok", "{allowlist:?}");
    }
}

#[test]
fn resolved_addresses_are_filtered_by_the_policy() {
    let policy = AddressPolicy::from_allowlist(&["192.168.7.0/24"]).expect("allowlist");
    let resolved: Vec<SocketAddr> = ["10.0.0.1:0", "93.184.216.34:0", "192.168.7.9:0", "[::1]:0"]
        .iter()
        .map(|text| text.parse().expect("address"))
        .collect();
    let allowed = allowed_addresses(&policy, "rebinding.example", resolved.clone())
        .expect("some addresses allowed");
    let allowed: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    assert_eq!(allowed, ["93.184.216.34:0", "192.168.7.9:0"]);

    let only_private = vec![resolved[0], resolved[3]];
    let error = allowed_addresses(&policy, "rebinding.example", only_private)
        .expect_err("nothing left to connect to");
    let refused = error
        .downcast_ref::<ResolvedRefusal>()
        .expect("a refusal, not a lookup failure");
    assert_eq!(refused.refusal.address.to_string(), "10.0.0.1");

    let by_name = AddressPolicy::from_allowlist(&["rebinding.example"]).expect("allowlist");
    let all = allowed_addresses(&by_name, "Rebinding.Example.", resolved).expect("allowlisted");
    assert_eq!(all.len(), 4);
}

#[tokio::test]
async fn ip_literals_are_checked_before_sending() {
    let client = client(&[]);
    for (url, reason) in [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1:8080/", "private (RFC 1918)"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("https://0x7f.1/", "loopback"),
    ] {
        let url = Url::parse(url).expect("url");
        let error = send_err(&client, get_request(url.clone())).await;
        let OutboundError::RefusedTarget { refusal, .. } = &error else {
            panic!("{url}: refused_target expected, got {error}");
        };
        assert_eq!(refusal.reason, reason, "{url}");
        assert_eq!(client.check_url(&url), Err(error));
    }
}

#[tokio::test]
async fn only_http_and_well_formed_requests_are_sent() {
    let client = client(&["127.0.0.1"]);
    for url in [
        "ftp://127.0.0.1/file",
        "file:///etc/passwd",
        "data:text/plain,hi",
    ] {
        let error = send_err(&client, get_request(Url::parse(url).expect("url"))).await;
        assert_eq!(error.kind(), "invalid_request", "{url}: {error}");
    }

    let receiver = Receiver::start().await;
    let mut request = get_request(receiver.url("/ok"));
    request.headers = vec![("bad header".to_owned(), "x".to_owned())];
    let error = send_err(&client, request).await;
    assert_eq!(error.kind(), "invalid_request");
    assert!(error.to_string().contains("\"bad header\""), "{error}");

    let mut request = get_request(receiver.url("/ok"));
    request.headers = vec![("authorization".to_owned(), "secret\nvalue".to_owned())];
    let error = send_err(&client, request).await;
    assert_eq!(error.kind(), "invalid_request");
    assert!(
        !error.to_string().contains("secret"),
        "value not echoed: {error}"
    );
}

#[tokio::test]
async fn posts_the_body_with_headers_and_the_user_agent() {
    let receiver = Receiver::start().await;
    let client = client(&["127.0.0.1"]);
    let mut request = OutboundRequest::new(Method::POST, receiver.url("/ok"));
    request.headers = vec![("content-type".to_owned(), "text/plain".to_owned())];
    request.body = b"hello receiver".to_vec();
    let response = client.send(request).await.expect("post answered");
    assert_eq!(response.body_excerpt, b"hello receiver");

    let response = client
        .send(get_request(receiver.url("/echo-agent")))
        .await
        .expect("agent echoed");
    assert_eq!(
        String::from_utf8_lossy(&response.body_excerpt),
        OutboundConfig::default().user_agent
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver = Receiver::start().await;
    let response = client(&["127.0.0.1"])
        .send(get_request(receiver.url("/redirect")))
        .await
        .expect("3xx is a response");
    assert_eq!(response.status, 302);
    assert_eq!(response.header("Location"), Some("/target"));
    assert_eq!(response.body_excerpt, b"moved");
    assert_eq!(receiver.target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    // Accept and hold every connection without reading or answering.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });

    let client = client(&["127.0.0.1"]);
    let mut request = get_request(Url::parse(&format!("http://{address}/")).expect("url"));
    request.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let error = send_err(&client, request).await;
    assert_eq!(error.kind(), "timeout", "{error}");
    assert!(matches!(
        error,
        OutboundError::Timeout { after, phase: "waiting for the response", .. }
            if after == Duration::from_millis(300)
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the per-call timeout"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let url = Url::parse(&format!("http://{address}/")).expect("url");
    let error = send_err(&client(&["127.0.0.1"]), get_request(url)).await;
    assert_eq!(error.kind(), "connect", "{error}");
    assert!(error.to_string().contains(&address.to_string()), "{error}");
}

#[tokio::test]
async fn tls_to_a_plain_http_receiver_is_a_tls_error() {
    let receiver = Receiver::start().await;
    let url = Url::parse(&format!("https://{}/ok", receiver.address)).expect("url");
    let error = send_err(&client(&["127.0.0.1"]), get_request(url)).await;
    assert_eq!(error.kind(), "tls", "{error}");
}

#[tokio::test]
async fn an_unresolvable_host_is_a_dns_error() {
    let url = Url::parse("http://wasmhook-test.invalid/").expect("url");
    let mut request = get_request(url);
    request.timeout = Some(Duration::from_secs(10));
    let error = send_err(&client(&[]), request).await;
    assert_eq!(error.kind(), "dns", "{error}");
    assert!(
        error.to_string().contains("wasmhook-test.invalid"),
        "{error}"
    );
}

#[tokio::test]
async fn a_big_body_keeps_a_bounded_excerpt() {
    let receiver = Receiver::start().await;
    let response = client(&["127.0.0.1"])
        .send(get_request(receiver.url("/big")))
        .await
        .expect("big body answered");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body_excerpt.len(),
        OutboundConfig::DEFAULT_MAX_EXCERPT_BYTES
    );
    assert!(response.truncated);

    let small = OutboundClient::new(OutboundConfig {
        allowlist: vec!["127.0.0.1".to_owned()],
        max_excerpt_bytes: 2,
        ..OutboundConfig::default()
    })
    .expect("client");
    let exact = small
        .send(get_request(receiver.url("/ok")))
        .await
        .expect("ok answered");
    assert_eq!(
        (exact.body_excerpt.as_slice(), exact.truncated),
        (&b"ok"[..], false)
    );
}

#[tokio::test]
async fn retry_after_is_read_from_the_response() {
    let receiver = Receiver::start().await;
    let response = client(&["127.0.0.1"])
        .send(get_request(receiver.url("/busy")))
        .await
        .expect("503 is a response");
    assert_eq!(response.status, 503);
    assert_eq!(retry_after(&response), Some(Duration::from_secs(7)));
}

#[test]
fn retry_after_parses_seconds_and_http_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        parse_retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    for unreadable in ["", "-5", "1.5", "soon", "99999999999999999999999"] {
        assert_eq!(parse_retry_after(unreadable, now), None, "{unreadable:?}");
    }
}

#[test]
fn setup_errors_name_the_bad_entry() {
    let error = OutboundClient::new(OutboundConfig {
        allowlist: vec!["127.0.0.1/8".to_owned(), "http://receiver".to_owned()],
        ..OutboundConfig::default()
    })
    .expect_err("bad entry refused");
    assert!(error.to_string().contains("\"http://receiver\""), "{error}");

    let error = OutboundClient::new(OutboundConfig {
        user_agent: "bad\nagent".to_owned(),
        ..OutboundConfig::default()
    })
    .expect_err("bad agent refused");
    assert!(matches!(error, OutboundSetupError::UserAgent(_)));
}
