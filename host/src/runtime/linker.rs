//! The host side of the plugin worlds: which interfaces a plugin may import
//! and the linkers that provide them. WASI is given without sockets (and so
//! without any network), with filesystem interfaces but no preopened
//! directories; blocks additionally get `wasmhook:plugin/http`.

use wasmtime::Engine;
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};

use super::bindings::{host, http, types};
use super::error::{RuntimeError, chain_message};
use super::state::CallState;
use super::wasi_io::HasTrackedIo;

/// WASI interfaces every plugin may import (without version). Kept in step
/// with [`add_wasi`].
pub(crate) const WASI_IMPORTS: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

/// The wasmhook interfaces every plugin may import.
pub(crate) const PLUGIN_IMPORTS: &[&str] = &["wasmhook:plugin/types", "wasmhook:plugin/host"];

/// The wasmhook interfaces only blocks may import.
pub(crate) const BLOCK_ONLY_IMPORTS: &[&str] = &["wasmhook:plugin/http"];

/// The linkers of one runtime, built once and shared by every plugin.
pub(crate) struct Linkers {
    /// For mappers and renderers: WASI subset + `host`.
    pub(crate) plugin: Linker<CallState>,
    /// For blocks: WASI subset + `host` + `http`.
    pub(crate) block: Linker<CallState>,
}

impl Linkers {
    pub(crate) fn new(engine: &Engine) -> Result<Self, RuntimeError> {
        let build = |with_http: bool| -> wasmtime::Result<Linker<CallState>> {
            let mut linker = Linker::new(engine);
            add_wasi(&mut linker)?;
            types::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
            host::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
            if with_http {
                http::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
            }
            Ok(linker)
        };
        let linkers = build(false).and_then(|plugin| {
            Ok(Linkers {
                plugin,
                block: build(true)?,
            })
        });
        linkers.map_err(|error| RuntimeError::Linker(chain_message(&error)))
    }
}

/// `wasi:io` resources live in the store's resource table.
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

fn io_table(state: &mut CallState) -> &mut ResourceTable {
    state.ctx().table
}

/// What `wasmtime_wasi::p2::add_to_linker_async` adds, minus `wasi:sockets`,
/// with `wasi:io/poll` marked in the call's activity. The async variants:
/// a blocking WASI call is a future the call's deadline can drop.
fn add_wasi(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    type S = CallState;
    wasi::io::error::add_to_linker::<S, HasIo>(linker, io_table)?;
    wasi::io::poll::add_to_linker::<S, HasTrackedIo>(linker, CallState::tracked_io)?;
    wasi::io::streams::add_to_linker::<S, HasIo>(linker, io_table)?;
    wasi::clocks::wall_clock::add_to_linker::<S, WasiClocks>(linker, S::clocks)?;
    wasi::clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(linker, S::clocks)?;
    wasi::filesystem::types::add_to_linker::<S, WasiFilesystem>(linker, S::filesystem)?;
    wasi::filesystem::preopens::add_to_linker::<S, WasiFilesystem>(linker, S::filesystem)?;
    wasi::random::random::add_to_linker::<S, WasiRandom>(linker, S::random)?;
    wasi::random::insecure::add_to_linker::<S, WasiRandom>(linker, S::random)?;
    wasi::random::insecure_seed::add_to_linker::<S, WasiRandom>(linker, S::random)?;
    wasi::cli::exit::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::environment::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::stdin::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::stdout::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::stderr::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::terminal_input::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::terminal_output::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::terminal_stdin::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::terminal_stdout::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    wasi::cli::terminal_stderr::add_to_linker::<S, WasiCli>(linker, S::cli)?;
    Ok(())
}
