//! wasmhook: a webhook server whose vendor- and customer-specific parts are
//! WebAssembly components. The library holds the server (`app::run`), its
//! API, store and plugin runtime, and the `wasmhook` command line; `main.rs`
//! only calls [`cli::main`].

pub mod admin;
pub mod api;
pub mod app;
pub mod blocks;
pub mod cli;
pub mod config;
pub mod connections;
pub mod delivery;
pub mod domain;
pub mod ids;
pub mod ingest;
pub mod outbound;
pub mod registry;
pub mod runtime;
pub mod shutdown;
pub mod store;
pub mod telemetry;
