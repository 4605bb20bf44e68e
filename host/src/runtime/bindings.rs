//! Host bindings generated from `wit/wasmhook.wit`: the shared `types`, `host`
//! and `http` interfaces are generated once (from the `sdk` world) and reused by
//! the three plugin worlds, so a `Callback` or `PluginError` is one Rust type
//! whichever world produced it. Exports are called async (see `engine.rs`);
//! of the imports only a block's `http.send` waits, so only it is async.

#![allow(missing_docs, clippy::all)]

/// The imports every plugin world shares, generated once.
pub(crate) mod shared {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sdk",
        imports: {
            "wasmhook:plugin/http.send": async,
        },
    });
}

/// The `mapper` world: `map(callback, config) -> mapped`.
pub(crate) mod mapper {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mapper",
        exports: { default: async },
        with: {
            "wasmhook:plugin/types": super::shared::wasmhook::plugin::types,
            "wasmhook:plugin/host": super::shared::wasmhook::plugin::host,
        },
    });
}

/// The `renderer` world: `render(request) -> rendered`.
pub(crate) mod renderer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "renderer",
        exports: { default: async },
        with: {
            "wasmhook:plugin/types": super::shared::wasmhook::plugin::types,
            "wasmhook:plugin/host": super::shared::wasmhook::plugin::host,
        },
    });
}

/// The `block` world: `run(input, config) -> json`, with the `http` import.
pub(crate) mod block {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "block",
        exports: { default: async },
        with: {
            "wasmhook:plugin/types": super::shared::wasmhook::plugin::types,
            "wasmhook:plugin/host": super::shared::wasmhook::plugin::host,
            "wasmhook:plugin/http": super::shared::wasmhook::plugin::http,
        },
    });
}

pub(crate) use shared::wasmhook::plugin::{host, http, types};
