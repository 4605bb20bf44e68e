//! The `wasmhook` server and CLI built inside the test package, so the
//! end-to-end tests and benchmarks can run it (`CARGO_BIN_EXE_wasmhook-e2e`):
//! the same `main` and allocator as `host/src/main.rs`. Its own name keeps
//! `cargo run` at the root unambiguous (only `host` builds `wasmhook`).

/// The allocator of the real binary (see `host/src/main.rs`), so tests and
/// benchmarks measure what operators run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wasmhook::cli::main()
}
