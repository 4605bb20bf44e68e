//! The `wasmhook` binary, built inside the test package so the end-to-end
//! tests can run it (`CARGO_BIN_EXE_wasmhook`): the same one-line `main` as
//! `host/src/main.rs`.

fn main() -> std::process::ExitCode {
    wasmhook::cli::main()
}
