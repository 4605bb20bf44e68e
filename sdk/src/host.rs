//! What the host gives a plugin: leveled logging, the plugin-wide
//! configuration and (for blocks) outbound HTTP. Inside a wasm component these
//! call the host's imports; in native `cargo test` they use the stand-ins in
//! [`crate::testing`], so plugin logic is testable without wasm.

use crate::config::Config;
use crate::model::{HttpError, HttpRequest, HttpResponse, LogLevel};

#[cfg(all(feature = "guest", target_arch = "wasm32"))]
use crate::guest as backend;
#[cfg(not(all(feature = "guest", target_arch = "wasm32")))]
use crate::testing as backend;

/// Writes a log line at `level` (capped per call by the host).
pub fn log(level: LogLevel, message: &str) {
    backend::log(level, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(LogLevel::Error, message);
}

/// The plugin-wide configuration the operator set (`{}` when none).
pub fn plugin_config() -> Config {
    backend::plugin_config()
}

/// Sends an HTTP request through the host (blocks only: mappers and
/// renderers are not linked with outbound HTTP and are refused at load time
/// if they call it).
pub fn send(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    backend::send(request)
}
