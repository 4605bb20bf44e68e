//! A customer's own HTTP resource for block tests: a real server on
//! 127.0.0.1:0 that a workflow block calls. It records every request (the
//! body parsed by its content type, as a real resource would: JSON, XML or
//! text; a body that does not parse is answered 400) and answers per path
//! as scripted — JSON, XML, text, any status, after a delay.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A request body as the resource understood it.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// No body.
    Empty,
    /// `application/json` (or `+json`), parsed.
    Json(Value),
    /// `application/xml` or `text/xml` (or `+xml`), parsed into a JSON
    /// value the way `wasmhook_sdk::xml` reads XML.
    Xml(Value),
    /// Any other content type, as text.
    Text(String),
    /// The body did not parse as its content type said; why.
    Invalid(String),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string (percent-encoded, as sent), `""` when none.
    pub query: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
    /// The body parsed by its content type.
    pub parsed: Parsed,
}

impl Hit {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }

    /// The query parameters, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value)
    }
}

/// How the resource answers requests to one path.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body (none when empty).
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Answer {
    /// 200 with a JSON body.
    pub fn json(value: Value) -> Self {
        Answer::typed("application/json", value.to_string().into_bytes())
    }

    /// 200 with an XML body.
    pub fn xml(text: &str) -> Self {
        Answer::typed("application/xml", text.as_bytes().to_vec())
    }

    /// 200 with a plain-text body.
    pub fn text(text: &str) -> Self {
        Answer::typed("text/plain; charset=utf-8", text.as_bytes().to_vec())
    }

    /// 200 with `body` as `content_type`.
    pub fn typed(content_type: &str, body: Vec<u8>) -> Self {
        Answer {
            status: 200,
            content_type: Some(content_type.to_owned()),
            body,
            delay: Duration::ZERO,
        }
    }

    /// The same answer with another status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same answer after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Default)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    routes: Arc<Mutex<HashMap<String, Answer>>>,
}

/// A running resource.
pub struct TestResource {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl TestResource {
    /// Starts a resource that answers 404 (JSON) until routes are added.
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the resource");
        let addr = listener.local_addr().expect("resource addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestResource { addr, shared, task }
    }

    /// Answers requests to `path` (any method, any query) with `answer`.
    pub fn route(&self, path: &str, answer: Answer) -> &Self {
        self.shared
            .routes
            .lock()
            .expect("lock")
            .insert(path.to_owned(), answer);
        self
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().expect("lock").clone()
    }

    /// The requests to `path` so far.
    pub fn hits_on(&self, path: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|hit| hit.path == path)
            .collect()
    }

    /// The last request to `path`; panics when there was none.
    pub fn last_on(&self, path: &str) -> Hit {
        self.hits_on(path)
            .pop()
            .unwrap_or_else(|| panic!("the resource got no request on {path}"))
    }
}

impl Drop for TestResource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Parses `body` as its content type says.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Parsed {
    if body.is_empty() {
        return Parsed::Empty;
    }
    let mime = content_type
        .and_then(|value| value.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Ok(text) = std::str::from_utf8(body) else {
        return Parsed::Invalid("the body is not UTF-8".into());
    };
    if mime == "application/json" || mime.ends_with("+json") {
        return match serde_json::from_str(text) {
            Ok(value) => Parsed::Json(value),
            Err(error) => Parsed::Invalid(format!("not JSON: {error}")),
        };
    }
    if mime.ends_with("/xml") || mime.ends_with("+xml") {
        return match wasmhook_sdk::xml::xml_to_value(text) {
            Ok(value) => Parsed::Xml(value),
            Err(error) => Parsed::Invalid(format!("not XML: {}", error.message)),
        };
    }
    Parsed::Text(text.to_owned())
}

async fn serve(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let parsed = parse_body(content_type, &body);
    let hit = Hit {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        parsed: parsed.clone(),
    };
    let answer = shared.routes.lock().expect("lock").get(&hit.path).cloned();
    shared.hits.lock().expect("lock").push(hit);
    if let Parsed::Invalid(why) = parsed {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "bad_body", "detail": why})),
        )
            .into_response();
    }
    let Some(answer) = answer else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no such resource"})),
        )
            .into_response();
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    if let Some(content_type) = answer
        .content_type
        .and_then(|value| HeaderValue::from_str(&value).ok())
    {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}
