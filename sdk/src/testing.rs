//! Native stand-ins for the host, so plugin logic runs under plain
//! `cargo test`: logs are captured, the plugin config and the HTTP responder
//! are set by the test. State is per thread (each test runs on its own).

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

/// Takes the log lines written so far on this thread.
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

/// Sets what [`crate::host::plugin_config`] returns on this thread.
pub fn set_plugin_config(config: Value) {
    PLUGIN_CONFIG.with(|c| *c.borrow_mut() = config);
}

/// Answers this thread's outbound requests with `responder`.
pub fn respond_with(
    responder: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
) {
    RESPONDER.with(|r| *r.borrow_mut() = Some(Box::new(responder)));
}

/// Takes the requests sent so far on this thread.
pub fn take_sent() -> Vec<HttpRequest> {
    SENT.with(|sent| std::mem::take(&mut *sent.borrow_mut()))
}

/// A 200 response with a JSON body, for responders.
pub fn json_response(body: &Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}
