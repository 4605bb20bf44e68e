//! The `wasmhook` binary: parses the command line and hands it to the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("WASMHOOK_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    let cli = wasmhook::cli::Cli::parse();
    match wasmhook::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            // The error's message already includes its cause, one line.
            eprintln!("wasmhook: {error}");
            ExitCode::FAILURE
        }
    }
}
