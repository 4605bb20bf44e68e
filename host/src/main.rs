//! The `wasmhook` binary: everything happens in [`wasmhook::cli::main`].

/// mimalloc rather than the system allocator: the server allocates and
/// frees many small buffers per request (JSON, sled nodes, HTTP), where
/// glibc's malloc measured ~12% of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    wasmhook::cli::main()
}
