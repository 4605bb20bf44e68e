//! `wasmhook __compile-plugin`: the hidden subcommand a server runs as a
//! child process to compile one upload within its limits (see
//! `runtime::Compiler::Subprocess`). Not for people: it prints the engine
//! hash the server checks, and its exit code says how it failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::runtime::{ChildRequest, compile_child};

/// Arguments of `wasmhook __compile-plugin`.
#[derive(Debug, Clone, Args)]
pub struct CompilePluginArgs {
    /// The component to compile.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the compiled artifact.
    #[arg(long)]
    pub output: PathBuf,
    /// This process's address-space limit, bytes.
    #[arg(long)]
    pub memory_bytes: u64,
    /// Compile for an engine that meters fuel.
    #[arg(long)]
    pub fuel: bool,
}

/// Compiles, prints `engine-hash <hex>` on success; on failure prints the
/// reason on stderr and exits with the code the server reads.
pub(super) fn compile_plugin(args: &CompilePluginArgs) -> ExitCode {
    let request = ChildRequest {
        input: args.input.clone(),
        output: args.output.clone(),
        memory_bytes: args.memory_bytes,
        fuel: args.fuel,
    };
    match compile_child(&request) {
        Ok(hash) => {
            println!("engine-hash {hash}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("wasmhook: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::super::{Cli, Command};
    use crate::runtime::ChildRequest;

    #[test]
    fn the_servers_request_parses_and_the_command_is_hidden() {
        let request = ChildRequest {
            input: "/tmp/a.wasm".into(),
            output: "/tmp/a.cwasm".into(),
            memory_bytes: 123,
            fuel: true,
        };
        let argv = std::iter::once("wasmhook".into()).chain(request.to_args());
        let cli = Cli::try_parse_from(argv).unwrap();
        let Command::CompilePlugin(args) = cli.command else {
            panic!("not the compile command: {cli:?}");
        };
        assert_eq!(args.input, request.input);
        assert_eq!(args.output, request.output);
        assert_eq!(args.memory_bytes, 123);
        assert!(args.fuel);

        let help = Cli::command().render_help().to_string();
        assert!(!help.contains(crate::runtime::COMPILE_SUBCOMMAND), "{help}");
    }
}
