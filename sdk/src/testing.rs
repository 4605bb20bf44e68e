//! Native stand-ins for the host, so plugin logic runs under plain
//! `cargo test`: logs are captured, the plugin config and the HTTP responder
//! are set by the test. State is per thread (each test runs on its own).
//!
//! These only take effect natively: inside a wasm component [`crate::host`]
//! calls the real host.
//!
//! ```
//! use wasmhook_sdk::prelude::*;
//! use wasmhook_sdk::testing;
//!
//! #[block]
//! fn lookup(input: BlockInput, _config: Config) -> Result<Value, PluginError> {
//!     let id = path::get_str(&input.contact, "id").unwrap_or_default();
//!     let response = host::send(&HttpRequest {
//!         method: "GET".into(),
//!         url: format!("https://crm.example.com/contacts/{id}"),
//!         ..HttpRequest::default()
//!     })?;
//!     host::info(&format!("CRM answered {}", response.status));
//!     serde_json::from_slice(&response.body).map_err(|e| PluginError::upstream(e.to_string()))
//! }
//!
//! # fn main() {
//! testing::respond_with(|request| {
//!     assert!(request.url.ends_with("/contacts/42"));
//!     Ok(testing::json_response(&json!({"tier": "gold"})))
//! });
//! let input = BlockInput { contact: json!({"id": 42}), ..Default::default() };
//! assert_eq!(lookup(input, Config::default()).unwrap(), json!({"tier": "gold"}));
//! assert_eq!(testing::take_sent().len(), 1);
//! assert_eq!(testing::take_logs(), [(LogLevel::Info, "CRM answered 200".to_string())]);
//! # }
//! ```

use std::cell::RefCell;

use serde_json::Value;

use crate::config::Config;
use crate::model::{HttpError, HttpRequest, HttpResponse, LogLevel};

type Responder = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse, HttpError>>;

thread_local! {
    static LOGS: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
    static PLUGIN_CONFIG: RefCell<Value> = RefCell::new(Value::Object(Default::default()));
    static RESPONDER: RefCell<Option<Responder>> = RefCell::new(None);
    static SENT: RefCell<Vec<HttpRequest>> = const { RefCell::new(Vec::new()) };
}

/// Records a log line (native stand-in for the host's `log`).
pub(crate) fn log(level: LogLevel, message: &str) {
    LOGS.with(|logs| logs.borrow_mut().push((level, message.to_string())));
}

/// The plugin config set with [`set_plugin_config`].
pub(crate) fn plugin_config() -> Config {
    PLUGIN_CONFIG.with(|c| Config(c.borrow().clone()))
}

/// Answers with the responder set by [`respond_with`], refusing otherwise.
pub(crate) fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    SENT.with(|sent| sent.borrow_mut().push(request.clone()));
    RESPONDER.with(|r| match r.borrow_mut().as_mut() {
        Some(responder) => responder(request),
        None => Err(HttpError::Refused(
            "no HTTP responder in this test (call wasmhook_sdk::testing::respond_with)".into(),
        )),
    })
}

/// Takes the log lines written so far on this thread (and clears them).
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::info("one");
/// host::error("two");
/// let logs = testing::take_logs();
/// assert_eq!(logs, [(LogLevel::Info, "one".to_string()), (LogLevel::Error, "two".to_string())]);
/// assert!(testing::take_logs().is_empty());
/// ```
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

/// Sets what [`crate::host::plugin_config`] returns on this thread.
///
/// ```
/// use wasmhook_sdk::{host, json, testing};
///
/// testing::set_plugin_config(json!({"region": "eu"}));
/// assert_eq!(host::plugin_config().get_str("region"), Some("eu"));
/// ```
pub fn set_plugin_config(config: Value) {
    PLUGIN_CONFIG.with(|c| *c.borrow_mut() = config);
}

/// Answers this thread's outbound requests ([`crate::host::send`]) with
/// `responder`, which may also fail them.
///
/// ```
/// use wasmhook_sdk::{HttpError, HttpRequest, host, testing};
///
/// testing::respond_with(|_| Err(HttpError::Timeout));
/// let error = host::send(&HttpRequest::default()).unwrap_err();
/// assert_eq!(error, HttpError::Timeout);
/// ```
pub fn respond_with(
    responder: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
) {
    RESPONDER.with(|r| *r.borrow_mut() = Some(Box::new(responder)));
}

/// Takes the requests sent so far on this thread (and clears them),
/// whether or not they were answered.
///
/// ```
/// use wasmhook_sdk::{HttpRequest, host, testing};
///
/// let request = HttpRequest { method: "DELETE".into(), url: "https://x.example/1".into(), ..Default::default() };
/// let _ = host::send(&request);
/// assert_eq!(testing::take_sent(), [request]);
/// ```
pub fn take_sent() -> Vec<HttpRequest> {
    SENT.with(|sent| std::mem::take(&mut *sent.borrow_mut()))
}

/// A 200 response with a JSON body, for responders.
///
/// ```
/// use wasmhook_sdk::{json, testing};
///
/// let response = testing::json_response(&json!({"ok": true}));
/// assert_eq!(response.status, 200);
/// assert_eq!(response.header("Content-Type"), Some("application/json"));
/// assert_eq!(response.body, br#"{"ok":true}"#);
/// ```
pub fn json_response(body: &Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}
