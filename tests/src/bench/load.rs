//! The benchmarks' load generator: raw HTTP/1.1 keep-alive connections (one
//! per request in flight) from one thread, spread over the nodes of a
//! system, each sending distinct gupshup callbacks to `/ingest/{source}` or
//! batches of the events they map to to `/v1/events` — as little CPU as a
//! generator can take from the cores it shares with the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::process::GupshupCallbacks;
use crate::server::ADMIN_TOKEN;

/// What the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One gupshup callback per request to `/ingest/{source}`.
    Ingest,
    /// `POST /v1/events` with this many events per request.
    Publish {
        /// Events per request.
        batch: usize,
    },
}

impl Mode {
    /// `ingest` or `publish`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ingest => "ingest",
            Mode::Publish { .. } => "publish",
        }
    }

    /// Events stored per request answered 202.
    pub fn events_per_request(self) -> usize {
        match self {
            Mode::Ingest => 1,
            Mode::Publish { batch } => batch,
        }
    }
}

/// Where and what to send.
#[derive(Clone)]
pub struct Target {
    /// The nodes; connection `k` goes to `nodes[k % nodes.len()]`.
    pub nodes: Vec<SocketAddr>,
    /// The gupshup source (its ingest token).
    pub source: String,
    /// The source's ingest token.
    pub token: String,
    /// Ingest or publish.
    pub mode: Mode,
    /// The callback bodies.
    pub callbacks: Arc<GupshupCallbacks>,
    /// The next message number: every request's ids are distinct.
    pub next_id: Arc<AtomicU64>,
}

/// What one run of load came to.
pub struct Run {
    /// Per request answered 202, sorted.
    pub latencies: Vec<Duration>,
    /// Requests answered otherwise.
    pub failures: u64,
    /// From the first request to the last answer.
    pub elapsed: Duration,
}

impl Run {
    /// Requests answered 202 per second.
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Keeps `concurrency` requests in flight for `duration`, or until the
/// message number reaches `until` (a fixed count of requests).
pub async fn drive(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    until: Option<u64>,
) -> Run {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|connection| {
            let addr = target.nodes[connection % target.nodes.len()];
            tokio::spawn(worker(target.clone(), addr, deadline, until))
        })
        .collect();
    let mut run = Run {
        latencies: Vec::new(),
        failures: 0,
        elapsed: Duration::ZERO,
    };
    for worker in workers {
        let (latencies, failures) = worker.await.expect("load worker");
        run.latencies.extend(latencies);
        run.failures += failures;
    }
    run.elapsed = started.elapsed();
    run.latencies.sort();
    run
}

/// One connection to `addr`, one request at a time, until `deadline` (or
/// the message number `until`): the latencies of the 202s and the number
/// of other answers.
async fn worker(
    target: Target,
    addr: SocketAddr,
    deadline: tokio::time::Instant,
    until: Option<u64>,
) -> (Vec<Duration>, u64) {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let ingest_path = format!("/ingest/{}", target.source);
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let mut latencies = Vec::new();
    let mut failures = 0;
    while tokio::time::Instant::now() < deadline {
        let per_request = target.mode.events_per_request() as u64;
        let first = target.next_id.fetch_add(per_request, Ordering::Relaxed);
        if until.is_some_and(|until| first >= until) {
            break;
        }
        let builder = Request::builder()
            .method(Method::POST)
            .header("host", addr.to_string())
            .header("content-type", "application/json");
        let request = match target.mode {
            Mode::Ingest => builder
                .uri(&ingest_path)
                .header("x-wasmhook-token", &target.token)
                .body(Full::new(Bytes::from(
                    target.callbacks.body(&format!("bench-{first}")),
                ))),
            Mode::Publish { batch } => builder
                .uri("/v1/events")
                .header("authorization", &admin)
                .body(Full::new(Bytes::from(publish_batch(
                    &target.callbacks,
                    &target.source,
                    first,
                    batch,
                )))),
        }
        .expect("request");
        let sent = Instant::now();
        let response = sender.send_request(request).await.expect("send request");
        let status = response.status();
        let body = response.into_body().collect().await.expect("response body");
        if status == StatusCode::ACCEPTED {
            latencies.push(sent.elapsed());
        } else {
            failures += 1;
            if failures == 1 {
                eprintln!(
                    "answer {status}: {}",
                    String::from_utf8_lossy(&body.to_bytes())
                );
            }
        }
    }
    (latencies, failures)
}

/// A `POST /v1/events` body: `batch` distinct events, each the one a gupshup
/// callback maps to, with that callback as its `vendor_response`.
fn publish_batch(
    callbacks: &GupshupCallbacks,
    source: &str,
    first_id: u64,
    batch: usize,
) -> String {
    let mut body = String::from("[");
    for n in 0..batch {
        if n > 0 {
            body.push(',');
        }
        let message_id = format!("bench-{}", first_id + n as u64);
        body.push_str(&format!(
            r#"{{"event_type":"status","channel":"whatsapp","channel_value":"918x98xx21x4","status":{{"status":"delivered","vendor_status":"delivered","timestamp":1672310923000}},"reference":{{"vendor_message_id":"{message_id}"}},"vendor_name":"gupshup","source":"{source}","vendor_response":{{"gupshup":{}}}}}"#,
            callbacks.body(&message_id)
        ));
    }
    body.push(']');
    body
}
