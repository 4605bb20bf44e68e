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
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
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
    /// A data dir could not be copied to PostgreSQL.
    #[error(transparent)]
    Migrate(#[from] crate::store::MigrateError),
    /// A client command was given no admin token.
    #[error(
        "no admin token for {server}: pass --token or set WASMHOOK_TOKEN; a server started \
         without one keeps a generated one in DATA_DIR/admin_token: \
         `export WASMHOOK_TOKEN=$(cat wasmhook-data/admin_token)`"
    )]
    NoToken {
        /// The server's URL.
        server: String,
    },
    /// Nothing answered at the server's address.
    #[error("cannot reach the server at {server} (is `wasmhook serve` running?): {cause}")]
    Unreachable {
        /// The server's URL.
        server: String,
        /// Why the connection failed.
        cause: String,
    },
    /// The server answered with an error.
    #[error("{method} {path}: {status} {code}: {detail}")]
    Api {
        /// The request's method.
        method: String,
        /// The request's path and query.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The error's `code`.
        code: String,
        /// The error's `detail`.
        detail: String,
    },
    /// A request got no usable answer (timeout, broken connection, not JSON).
    #[error("{method} {path}: {detail}")]
    BadAnswer {
        /// The request's method.
        method: String,
        /// The request's path and query.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The result could not be printed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
