//! What every world shares: plugin errors and log levels.

use serde::{Deserialize, Serialize};

use super::HttpError;

/// Severity of a plugin log line.
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

/// The kind of a plugin failure.
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

/// The error every plugin function returns instead of panicking.
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
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }

    /// The input could not be understood.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidInput, message)
    }

    /// Well-formed input this plugin does not handle.
    pub fn unsupported(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Unsupported, message)
    }

    /// Configuration is wrong.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::InvalidConfig, message)
    }

    /// An outbound request failed.
    pub fn upstream(message: impl Into<String>) -> Self {
        PluginError::new(ErrorKind::Upstream, message)
    }

    /// A bug in the plugin.
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
