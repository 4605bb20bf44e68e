//! Building blocks of the tests: a runtime with test-sized limits, loading
//! plugins and guests by name.

use wasmhook::runtime::{LimitsOverride, Plugin, PluginId, Runtime, RuntimeConfig};

pub use wasmhook_tests::{
    fixtures_dir, guest_bytes, plugin_bytes, plugin_bytes_tagged, plugin_path, repo_root,
};

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

/// Fixture folders with expectations, and the mapper each is meant for
/// (`fieldmap-<vendor>` folders are for the declarative `fieldmap` mapper).
pub fn fixture_folders() -> Vec<(String, String)> {
    let mut folders: Vec<(String, String)> =
        std::fs::read_dir(repo_root().join("plugins/fixtures"))
            .expect("plugins/fixtures exists")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.join("expected.json").exists())
            .map(|path| {
                let folder = path.file_name().unwrap().to_string_lossy().into_owned();
                let plugin = if folder.starts_with("fieldmap-") {
                    "fieldmap".to_string()
                } else {
                    folder.clone()
                };
                (folder, plugin)
            })
            .collect();
    folders.sort();
    folders
}
