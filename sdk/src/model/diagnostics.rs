//! What every world shares: plugin errors and log levels.
//!
//! Every plugin function returns `Result<_, PluginError>`; the error's
//! [`ErrorKind`] tells the host whether the input, the configuration, an
//! upstream call or the plugin itself is at fault:
//!
//! ```
//! use wasmhook_sdk::{ErrorKind, PluginError, Value};
//!
//! fn parse(body: &str) -> Result<Value, PluginError> {
//!     serde_json::from_str(body).map_err(|e| PluginError::invalid_input(format!("body: {e}")))
//! }
//!
//! assert_eq!(parse("{").unwrap_err().kind, ErrorKind::InvalidInput);
//! ```

use serde::{Deserialize, Serialize};

use super::HttpError;

/// Severity of a plugin log line, ordered from least to most severe.
///
/// ```
/// use wasmhook_sdk::{LogLevel, host};
///
/// assert!(LogLevel::Warn > LogLevel::Info);
/// assert_eq!(serde_json::to_value(LogLevel::Warn).unwrap(), "warn");
/// host::log(LogLevel::Info, "mapped 3 events");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Informational.
    Info,
    /// Something odd but handled.
    Warn,
    /// Something failed.
    Error,
}

/// The kind of a plugin failure; serialised in `snake_case`
/// (`invalid_input`, ...).
///
/// ```
/// use wasmhook_sdk::{ErrorKind, PluginError};
///
/// let error = PluginError::unsupported("event type `bounce_v2`");
/// assert_eq!(error.kind, ErrorKind::Unsupported);
/// assert_eq!(serde_json::to_value(ErrorKind::InvalidConfig).unwrap(), "invalid_config");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The input could not be understood.
    InvalidInput,
    /// Well-formed input this plugin does not handle.
    Unsupported,
    /// Configuration is wrong.
    InvalidConfig,
    /// An outbound request failed.
    Upstream,
    /// A bug in the plugin.
    Internal,
}

/// The error every plugin function returns instead of panicking. Its
/// `Display` is `kind: message`.
///
/// ```
/// use wasmhook_sdk::{ErrorKind, PluginError};
///
/// let error = PluginError::invalid_config("config.channel: unknown channel `fax`");
/// assert_eq!(error.kind, ErrorKind::InvalidConfig);
/// assert_eq!(error.to_string(), "invalid config: config.channel: unknown channel `fax`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PluginError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A message naming what was wrong.
    pub message: String,
}

impl PluginError {
    /// A failure of `kind` with `message`.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::new(ErrorKind::Internal, "unreachable branch");
    /// assert_eq!(error, PluginError::internal("unreachable branch"));
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }

    /// The input could not be understood.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::invalid_input("body is not JSON");
    /// assert_eq!(error.kind, ErrorKind::InvalidInput);
    /// assert_eq!(error.to_string(), "invalid input: body is not JSON");
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidInput, message)
    }

    /// Well-formed input this plugin does not handle.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::unsupported("event type `click_v2`");
    /// assert_eq!(error.kind, ErrorKind::Unsupported);
    /// assert_eq!(error.to_string(), "unsupported: event type `click_v2`");
    /// ```
    pub fn unsupported(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Unsupported, message)
    }

    /// Configuration is wrong.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::invalid_config("config.token is missing");
    /// assert_eq!(error.kind, ErrorKind::InvalidConfig);
    /// assert_eq!(error.to_string(), "invalid config: config.token is missing");
    /// ```
    pub fn invalid_config(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidConfig, message)
    }

    /// An outbound request failed.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::upstream("CRM answered 503");
    /// assert_eq!(error.kind, ErrorKind::Upstream);
    /// assert_eq!(error.to_string(), "upstream: CRM answered 503");
    /// ```
    pub fn upstream(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Upstream, message)
    }

    /// A bug in the plugin.
    ///
    /// ```
    /// use wasmhook_sdk::{ErrorKind, PluginError};
    ///
    /// let error = PluginError::internal("status table is empty");
    /// assert_eq!(error.kind, ErrorKind::Internal);
    /// assert_eq!(error.to_string(), "internal: status table is empty");
    /// ```
    pub fn internal(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Internal => "internal",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<HttpError> for PluginError {
    fn from(error: HttpError) -> Self {
        PluginError::upstream(error.to_string())
    }
}
