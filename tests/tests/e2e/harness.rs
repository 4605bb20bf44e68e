//! Building blocks of the tests: a runtime with test-sized limits, loading
//! plugins and guests by name.

use wasmhook::runtime::{LimitsOverride, Plugin, PluginId, Runtime, RuntimeConfig};

pub use wasmhook_tests::{fixtures_dir, guest_bytes, plugin_bytes, plugin_path, repo_root};

/// A runtime without a compile cache and with the default limits.
pub fn runtime() -> Runtime {
    runtime_with(RuntimeConfig::default())
}

/// A runtime with `config`.
pub fn runtime_with(config: RuntimeConfig) -> Runtime {
    Runtime::new(config).expect("runtime starts")
}

/// Loads first-party plugin `name` as version 1.
pub fn load_plugin(runtime: &Runtime, name: &str) -> Plugin {
    runtime
        .load(
            PluginId::new(name, "1"),
            &plugin_bytes(name),
            &LimitsOverride::default(),
            &serde_json::json!({}),
        )
        .unwrap_or_else(|e| panic!("plugin {name} loads: {e}"))
}

/// Loads test guest `name` with `limits`.
pub fn load_guest(runtime: &Runtime, name: &str, limits: LimitsOverride) -> Plugin {
    runtime
        .load(
            PluginId::new(name, "1"),
            &guest_bytes(name),
            &limits,
            &serde_json::json!({}),
        )
        .unwrap_or_else(|e| panic!("guest {name} loads: {e}"))
}
