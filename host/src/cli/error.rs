//! Errors of the command line, each naming the file or argument at fault.

use std::path::PathBuf;

use crate::runtime::{CallError, LoadError, RuntimeError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An argument is malformed.
    #[error("invalid {arg}: {detail}")]
    Arg {
        /// The argument's name.
        arg: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(RuntimeError),
    /// The component was refused.
    #[error("{path}: refused: {source}")]
    Load {
        /// The component file.
        path: PathBuf,
        /// Why it was refused.
        source: LoadError,
    },
    /// The plugin call failed.
    #[error("{path}: {source}")]
    Call {
        /// The component file.
        path: PathBuf,
        /// What went wrong.
        source: CallError,
    },
    /// The server's configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The server could not start or stopped badly.
    #[error(transparent)]
    Serve(#[from] crate::app::ServeError),
    /// The result could not be printed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
