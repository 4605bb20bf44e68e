//! The compile cache: a plugin loaded once is loaded from its compiled
//! artifact after a host restart, and a corrupted artifact is recompiled from
//! the component, never trusted.

use std::path::{Path, PathBuf};

use serde_json::json;
use wasmhook::runtime::{LimitsOverride, Plugin, PluginId, Runtime, RuntimeConfig};
use wasmhook_sdk::Callback;

use crate::harness::{fixtures_dir, plugin_bytes};

/// A "host start": a fresh runtime over the same cache directory.
fn start_host(cache_dir: &Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache_dir.to_path_buf()),
        ..RuntimeConfig::default()
    })
    .expect("runtime starts")
}

fn load_gupshup(runtime: &Runtime) -> Plugin {
    runtime
        .load(
            PluginId::new("gupshup", "1"),
            &plugin_bytes("gupshup"),
            &LimitsOverride::default(),
            &json!({}),
        )
        .expect("gupshup loads")
}

fn delivered_callback() -> Callback {
    let body =
        std::fs::read(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json")).unwrap();
    Callback::json(body)
}

fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_plugin_survives_a_restart_through_the_compile_cache() {
    let cache = tempfile::tempdir().unwrap();
    let first = load_gupshup(&start_host(cache.path()));
    assert!(!first.cache_hit(), "a fresh cache cannot hit");
    let (before, _) = first.map(&delivered_callback(), &json!({})).unwrap();
    drop(first);
    assert_eq!(
        artifacts(cache.path()).len(),
        1,
        "one compiled artifact written"
    );

    let again = load_gupshup(&start_host(cache.path()));
    assert!(
        again.cache_hit(),
        "the restarted host loads the compiled artifact"
    );
    let (after, _) = again.map(&delivered_callback(), &json!({})).unwrap();
    assert_eq!(
        before, after,
        "the cached plugin maps exactly as the compiled one"
    );
}

#[test]
fn a_corrupted_cache_entry_is_recompiled_not_trusted() {
    let cache = tempfile::tempdir().unwrap();
    load_gupshup(&start_host(cache.path()));
    let artifact = artifacts(cache.path()).pop().expect("artifact written");
    let original = std::fs::read(&artifact).unwrap();

    // Flip bytes in the middle of the compiled code.
    let mut corrupted = original.clone();
    let middle = corrupted.len() / 2;
    for byte in &mut corrupted[middle..middle + 64] {
        *byte ^= 0xA5;
    }
    std::fs::write(&artifact, &corrupted).unwrap();

    let recompiled = load_gupshup(&start_host(cache.path()));
    assert!(
        !recompiled.cache_hit(),
        "a corrupted entry must not count as a hit"
    );
    let (mapped, _) = recompiled.map(&delivered_callback(), &json!({})).unwrap();
    assert_eq!(mapped.events.len(), 1);
    assert_ne!(
        std::fs::read(&artifact).unwrap(),
        corrupted,
        "the bad entry was replaced"
    );

    let trusted_again = load_gupshup(&start_host(cache.path()));
    assert!(
        trusted_again.cache_hit(),
        "the rewritten entry is sound again"
    );
}
