//! `wasmhook plugin check`: what a component is, or why the host refuses it.

use std::io::Write;
use std::process::ExitCode;

use super::error::CliError;
use super::input::read;
use super::progress::Progress;
use super::{CheckArgs, runtime};

/// Prints the component's world, exports, imports, size and hash; a refused
/// component is an error naming the file and the reason.
pub(super) fn check(args: &CheckArgs) -> Result<ExitCode, CliError> {
    let runtime = runtime(&args.cache)?;
    let bytes = read(&args.wasm)?;
    let info = {
        // Checking compiles the component: seconds the first time.
        let _progress = Progress::start(format!("compiling {} …", args.wasm.display()));
        runtime.inspect(&bytes)
    }
    .map_err(|source| CliError::Load {
        path: args.wasm.clone(),
        source,
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "world    {}", info.world)?;
    writeln!(out, "exports  {}", info.exports.join(", "))?;
    writeln!(out, "imports  {}", info.imports.join("\n         "))?;
    writeln!(out, "size     {} bytes", info.size_bytes)?;
    writeln!(out, "sha256   {}", info.sha256)?;
    Ok(ExitCode::SUCCESS)
}
