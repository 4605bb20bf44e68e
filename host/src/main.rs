//! The `wasmhook` binary: everything happens in [`wasmhook::cli::main`].

fn main() -> std::process::ExitCode {
    wasmhook::cli::main()
}
