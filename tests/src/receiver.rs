//! A webhook receiver for tests: a real HTTP server on 127.0.0.1:0 that
//! records every request (time, method, URI, headers, body) and answers
//! as scripted: a status per request number or per body content, or a
//! delay; or holds every answer until released, so a test can act while
//! deliveries are surely in flight; or pauses before recording (a stalled
//! network or receiver), so requests sent meanwhile arrive all at once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived, since the receiver started.
    pub at: Duration,
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

impl Received {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Statuses for the first requests, in order; 200 after them.
    pub statuses: Vec<u16>,
    /// Extra headers on the scripted (non-200) answers.
    pub fail_headers: Vec<(String, String)>,
    /// Wait this long before answering every request.
    pub delay: Duration,
    /// Answer this status to requests whose body contains the text (the
    /// first match wins; before `statuses`).
    pub fail_bodies: Vec<(String, u16)>,
}

#[derive(Clone)]
struct Shared {
    started: Instant,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    /// `true` while answers are held.
    held: Arc<tokio::sync::watch::Sender<bool>>,
    /// `true` while requests wait before being recorded.
    paused: Arc<tokio::sync::watch::Sender<bool>>,
    /// Requests waiting in a pause.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Requests recorded and not answered yet.
    unanswered: Arc<std::sync::atomic::AtomicUsize>,
}

/// A running receiver.
pub struct TestReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl TestReceiver {
    /// Starts a receiver answering 200 to everything.
    pub async fn start() -> Self {
        Self::with_script(Script::default()).await
    }

    /// Starts a receiver answering as `script` says.
    pub async fn with_script(script: Script) -> Self {
        let shared = Shared {
            started: Instant::now(),
            received: Arc::new(Mutex::new(Vec::new())),
            script: Arc::new(Mutex::new(script)),
            held: Arc::new(tokio::sync::watch::Sender::new(false)),
            paused: Arc::new(tokio::sync::watch::Sender::new(false)),
            waiting: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            unanswered: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        };
        let app = Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestReceiver { addr, shared, task }
    }

    /// When the receiver started: `Received::at` counts from here.
    pub fn started(&self) -> Instant {
        self.shared.started
    }

    /// Holds every answer (requests are still recorded) until
    /// [`TestReceiver::release`].
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Answers the held requests and stops holding.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// Changes how the receiver answers from the next request on.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.shared.script.lock().expect("lock"));
    }

    /// Lets requests wait before they are recorded (and answered) until
    /// [`TestReceiver::resume`]: like a stalled network, what is sent
    /// meanwhile arrives at once.
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Records and answers the requests waiting in a pause, and stops
    /// pausing.
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
    }

    /// How many requests wait in a pause.
    pub fn waiting(&self) -> usize {
        self.shared
            .waiting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many requests were recorded and wait for their answer (held,
    /// or in a scripted delay).
    pub fn unanswered(&self) -> usize {
        self.shared
            .unanswered
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.shared.received.lock().expect("lock").len()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    /// Waits until at least `count` requests arrived, or panics after
    /// `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "receiver got {} of {count} requests within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Shared>, request: Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    if *shared.paused.borrow() {
        use std::sync::atomic::Ordering::SeqCst;
        shared.waiting.fetch_add(1, SeqCst);
        let _ = shared.paused.subscribe().wait_for(|paused| !*paused).await;
        shared.waiting.fetch_sub(1, SeqCst);
    }
    let (delay, status, headers) = {
        let mut received = shared.received.lock().expect("lock");
        shared
            .unanswered
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        received.push(Received {
            at: shared.started.elapsed(),
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        });
        let script = shared.script.lock().expect("lock");
        let text = String::from_utf8_lossy(&received[received.len() - 1].body);
        let by_body = script
            .fail_bodies
            .iter()
            .find(|(needle, _)| text.contains(needle.as_str()))
            .map(|(_, status)| *status);
        match by_body.or_else(|| script.statuses.get(received.len() - 1).copied()) {
            Some(status) => (script.delay, status, script.fail_headers.clone()),
            None => (script.delay, 200, Vec::new()),
        }
    };
    let _ = shared.held.subscribe().wait_for(|held| !*held).await;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    shared
        .unanswered
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), "ok").into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
