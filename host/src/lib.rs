//! wasmhook: a webhook server whose vendor- and customer-specific parts are
//! WebAssembly components. The library holds the server (`app::run`), its
//! API, store and plugin runtime, and the `wasmhook` command line; `main.rs`
//! only calls [`cli::main`].

pub(crate) mod admin;
pub(crate) mod api;
pub mod app;
pub(crate) mod blocks;
pub mod cli;
pub mod config;
pub mod connections;
pub(crate) mod delivery;
pub mod domain;
pub(crate) mod ids;
pub(crate) mod ingest;
pub(crate) mod outbound;
pub(crate) mod registry;
pub(crate) mod retention;
pub mod runtime;
pub(crate) mod shutdown;
pub(crate) mod store;
pub(crate) mod telemetry;
