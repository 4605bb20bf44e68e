//! What the host gives a plugin: leveled logging, the plugin-wide
//! configuration and (for blocks) outbound HTTP. Inside a wasm component these
//! call the host's imports; in native `cargo test` they use the stand-ins in
//! [`crate::testing`], so plugin logic is testable without wasm.
//!
//! ```
//! use wasmhook_sdk::{LogLevel, host, testing};
//!
//! host::warn("unknown event type `bounce_v2`, skipped");
//! let logs = testing::take_logs();
//! assert_eq!(logs[0].0, LogLevel::Warn);
//! ```

use crate::config::Config;
use crate::model::{HttpError, HttpRequest, HttpResponse, LogLevel};

#[cfg(all(feature = "guest", target_arch = "wasm32"))]
use crate::guest as backend;
#[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
use crate::testing as backend;

/// Writes a log line at `level` (capped per call by the host).
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::log(LogLevel::Trace, "raw body: {}");
/// assert_eq!(testing::take_logs(), [(LogLevel::Trace, "raw body: {}".to_string())]);
/// ```
pub fn log(level: LogLevel, message: &str) {
    backend::log(level, message);
}

/// Logs at debug level.
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::debug("3 events mapped");
/// assert_eq!(testing::take_logs(), [(LogLevel::Debug, "3 events mapped".to_string())]);
/// ```
pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

/// Logs at info level.
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::info("3 events mapped");
/// assert_eq!(testing::take_logs(), [(LogLevel::Info, "3 events mapped".to_string())]);
/// ```
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at warn level.
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::warn("3 events mapped");
/// assert_eq!(testing::take_logs(), [(LogLevel::Warn, "3 events mapped".to_string())]);
/// ```
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Logs at error level.
///
/// ```
/// use wasmhook_sdk::{LogLevel, host, testing};
///
/// host::error("3 events mapped");
/// assert_eq!(testing::take_logs(), [(LogLevel::Error, "3 events mapped".to_string())]);
/// ```
pub fn error(message: &str) {
    log(LogLevel::Error, message);
}

/// The plugin-wide configuration the operator set (`{}` when none), as
/// opposed to the per-call [`Config`] a plugin function receives. Natively
/// it is what [`crate::testing::set_plugin_config`] set.
///
/// ```
/// use wasmhook_sdk::{host, json, testing};
///
/// assert_eq!(host::plugin_config().0, json!({}));
/// testing::set_plugin_config(json!({"api_base": "https://api.example.com"}));
/// assert_eq!(host::plugin_config().get_str("api_base"), Some("https://api.example.com"));
/// ```
pub fn plugin_config() -> Config {
    backend::plugin_config()
}

/// Sends an HTTP request through the host (blocks only: mappers and
/// renderers are not linked with outbound HTTP and are refused at load time
/// if they call it). Natively it is answered by the responder set with
/// [`crate::testing::respond_with`], and refused without one.
///
/// ```
/// use wasmhook_sdk::{HttpError, HttpRequest, host, json, testing};
///
/// let request = HttpRequest {
///     method: "GET".into(),
///     url: "https://api.example.com/contacts/42".into(),
///     ..HttpRequest::default()
/// };
/// assert!(matches!(host::send(&request), Err(HttpError::Refused(_))));
///
/// testing::respond_with(|_| Ok(testing::json_response(&json!({"tier": "gold"}))));
/// let response = host::send(&request).unwrap();
/// assert_eq!(response.status, 200);
/// assert_eq!(response.body, br#"{"tier":"gold"}"#);
/// ```
pub fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    backend::send(request)
}
