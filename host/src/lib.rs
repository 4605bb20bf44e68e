//! wasmhook: a webhook server whose vendor- and customer-specific parts are
//! WebAssembly components. This crate holds the plugin runtime (the only
//! module that knows wasmtime) and the `wasmhook` command line.

pub mod cli;
pub mod runtime;
