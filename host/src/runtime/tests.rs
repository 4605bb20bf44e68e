//! Runtime tests on hand-written component text: loading and refusals, the
//! artifact cache (including a tampered entry), limits and error mapping.
//! Real Rust guests are exercised end to end in the workspace's `tests/`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wasmhook_sdk::{BlockInput, Callback, ErrorKind};

use super::*;

/// A `block` component whose `run` executes `body` (core wasm instructions
/// that leave the address of a `result<string, plugin-error>` on the stack).
/// Data at 16: `{"ok":true}` (11 bytes); at 32: `not json` (8 bytes).
fn block_wat(body: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
  (core module $m
    (memory (export "memory") 1)
    (global $heap (mut i32) (i32.const 1024))
    (data (i32.const 16) "{{\"ok\":true}}")
    (data (i32.const 32) "not json")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $heap))
      (global.set $heap (i32.add (local.get $p) (i32.add (local.get 3) (i32.const 8))))
      (local.get $p))
    (func (export "run") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      {body}))
  (core instance $i (instantiate $m))
  (type $kind' (enum "invalid-input" "unsupported" "invalid-config" "upstream" "internal"))
  (export $kind "error-kind" (type $kind'))
  (type $error' (record (field "kind" $kind) (field "message" string)))
  (export $error "plugin-error" (type $error'))
  (type $input' (record (field "event" string) (field "contact" string) (field "data" string)))
  (export $input "block-input" (type $input'))
  (func $run (param "input" $input) (param "config" string) (result (result string (error $error)))
    (canon lift (core func $i "run") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (export "run" (func $run)))"#
    );
    wat::parse_str(text).expect("test component text is valid")
}

/// `Ok(<len bytes at ptr>)`.
fn returns_ok(ptr: u32, len: u32) -> String {
    format!(
        "(i32.store8 (i32.const 0) (i32.const 0)) (i32.store (i32.const 4) (i32.const {ptr})) \
         (i32.store (i32.const 8) (i32.const {len})) (i32.const 0)"
    )
}

fn ok_block() -> Vec<u8> {
    block_wat(&returns_ok(16, 11))
}

/// A small pool: tests create many runtimes in one process.
fn small() -> RuntimeConfig {
    RuntimeConfig {
        max_instances: 4,
        ..RuntimeConfig::default()
    }
}

fn runtime() -> Runtime {
    runtime_with(small())
}

fn runtime_with(config: RuntimeConfig) -> Runtime {
    Runtime::new(config).unwrap()
}

fn load(runtime: &Runtime, bytes: &[u8]) -> Result<Plugin, LoadError> {
    load_with(runtime, bytes, LimitsOverride::default())
}

fn load_with(runtime: &Runtime, bytes: &[u8], limits: LimitsOverride) -> Result<Plugin, LoadError> {
    runtime.load(PluginId::new("test", "7"), bytes, &limits, &json!({}))
}

fn run(plugin: &Plugin) -> Result<(Value, CallStats), CallError> {
    plugin.run_block(&BlockInput::default(), &json!({}), Arc::new(DenyAllHttp))
}

#[test]
fn plugin_and_runtime_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Plugin>();
    assert_send_sync::<Runtime>();
}

#[test]
fn block_runs_and_returns_json() {
    let runtime = runtime();
    let plugin = load(&runtime, &ok_block()).unwrap();
    assert_eq!(plugin.world(), World::Block);
    assert!(!plugin.cache_hit());
    let (data, stats) = run(&plugin).unwrap();
    assert_eq!(data, json!({"ok": true}));
    assert!(stats.memory_peak_bytes >= 64 * 1024);
    assert_eq!(stats.logs_dropped, 0);
}

#[test]
fn inspect_reports_world_exports_size_and_hash() {
    let bytes = ok_block();
    let info = runtime().inspect(&bytes).unwrap();
    assert_eq!(info.world, World::Block);
    assert!(info.exports.contains(&"run".to_owned()));
    assert!(info.imports.is_empty());
    assert_eq!(info.size_bytes, bytes.len() as u64);
    assert_eq!(info.sha256, sha256_hex(&bytes));
}

#[test]
fn load_refuses_what_is_not_a_component() {
    let runtime = runtime();
    let err = load(&runtime, b"definitely not wasm").err().unwrap();
    assert!(matches!(err, LoadError::NotWasm), "{err}");

    let module = wat::parse_str("(module)").unwrap();
    let err = load(&runtime, &module).err().unwrap();
    assert!(matches!(err, LoadError::CoreModule), "{err}");

    let precompiled = runtime
        .shared
        .engine
        .precompile_component(&ok_block())
        .unwrap();
    let err = load(&runtime, &precompiled).err().unwrap();
    assert!(matches!(err, LoadError::Precompiled), "{err}");

    let err = load(&runtime, &wat::parse_str("(component)").unwrap())
        .err()
        .unwrap();
    assert!(matches!(err, LoadError::UnknownWorld { .. }), "{err}");
}

#[test]
fn load_refuses_an_oversized_component() {
    let runtime = runtime_with(RuntimeConfig {
        max_component_bytes: 100,
        ..small()
    });
    let err = load(&runtime, &ok_block()).err().unwrap();
    assert!(
        matches!(err, LoadError::TooLarge { limit: 100, .. }),
        "{err}"
    );
}

#[test]
fn load_refuses_a_component_over_the_compile_budget_even_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cached = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..small()
    };
    // Compiled (and cached) under the default budget...
    load(&runtime_with(cached.clone()), &ok_block()).unwrap();
    // ...and refused under a budget it does not fit, before the cache.
    let runtime = runtime_with(RuntimeConfig {
        budget: Budget {
            max_functions: 1,
            ..Budget::default()
        },
        ..cached
    });
    let err = load(&runtime, &ok_block()).err().unwrap();
    match err {
        LoadError::OverBudget { code, detail } => {
            assert_eq!(code, "too_many_functions");
            assert!(detail.contains("at least 2 core functions"), "{detail}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn load_refuses_a_world_function_of_the_wrong_type() {
    let bytes = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "f")))
            (export "run" (func $run)))"#,
    )
    .unwrap();
    let err = load(&runtime(), &bytes).err().unwrap();
    assert!(
        matches!(
            err,
            LoadError::ExportType {
                world: World::Block,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn load_refuses_a_memory_cap_above_the_runtime_maximum() {
    let runtime = runtime();
    let over = LimitsOverride {
        memory_bytes: Some(RuntimeConfig::DEFAULT_MAX_MEMORY_BYTES + 1),
        ..LimitsOverride::default()
    };
    let err = load_with(&runtime, &ok_block(), over).err().unwrap();
    assert!(
        matches!(
            err,
            LoadError::LimitTooHigh {
                field: "memory_bytes",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn cache_hit_on_second_load_and_tampered_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..small()
    };
    let bytes = ok_block();

    let first = load(&runtime_with(config.clone()), &bytes).unwrap();
    assert!(!first.cache_hit());
    let runtime = runtime_with(config.clone());
    let second = load(&runtime, &bytes).unwrap();
    assert!(second.cache_hit());
    assert_eq!(run(&second).unwrap().0, json!({"ok": true}));

    // Flip bytes in the middle of the artifact: the digest no longer matches.
    let artifact = runtime
        .shared
        .cache
        .as_ref()
        .unwrap()
        .artifact_path(&sha256_hex(&bytes));
    let mut tampered = std::fs::read(&artifact).unwrap();
    let middle = tampered.len() / 2;
    for byte in &mut tampered[middle..middle + 16] {
        *byte ^= 0x5a;
    }
    std::fs::write(&artifact, &tampered).unwrap();

    let third = load(&runtime_with(config.clone()), &bytes).unwrap();
    assert!(!third.cache_hit(), "a tampered artifact must not be used");
    assert_eq!(run(&third).unwrap().0, json!({"ok": true}));
    let rewritten = std::fs::read(&artifact).unwrap();
    assert_ne!(
        rewritten, tampered,
        "the entry is rewritten from the component"
    );

    let fourth = load(&runtime_with(config), &bytes).unwrap();
    assert!(fourth.cache_hit());
}

#[test]
fn endless_loop_times_out() {
    let runtime = runtime();
    let looping = block_wat("(loop $forever (br $forever)) (i32.const 0)");
    let over = LimitsOverride {
        timeout_ms: Some(50),
        ..LimitsOverride::default()
    };
    let plugin = load_with(&runtime, &looping, over).unwrap();
    let outcome =
        plugin.run_block_outcome(&BlockInput::default(), &json!({}), Arc::new(DenyAllHttp));
    let err = outcome.result.unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { limit_ms: 50, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("test@7"), "{err}");
    assert!(outcome.stats.duration >= Duration::from_millis(50));
    assert!(
        outcome.stats.duration < Duration::from_millis(1000),
        "{:?}",
        outcome.stats.duration
    );
    let next = load(&runtime, &ok_block()).unwrap();
    assert_eq!(run(&next).unwrap().0, json!({"ok": true}));
}

#[test]
fn growing_memory_past_the_cap_is_a_memory_limit() {
    let runtime = runtime();
    // Grow a page at a time until refused, then trap like an allocator would.
    let bomb = block_wat(
        "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable",
    );
    let over = LimitsOverride {
        memory_bytes: Some(1 << 20),
        ..LimitsOverride::default()
    };
    let plugin = load_with(&runtime, &bomb, over).unwrap();
    let outcome =
        plugin.run_block_outcome(&BlockInput::default(), &json!({}), Arc::new(DenyAllHttp));
    let err = outcome.result.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::MemoryLimit {
                limit_bytes: 1048576,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(outcome.stats.memory_peak_bytes, 1 << 20);
    // The freed slot is clean for whatever runs next.
    let next = load(&runtime, &ok_block()).unwrap();
    assert_eq!(run(&next).unwrap().0, json!({"ok": true}));
}

#[test]
fn trap_is_a_value_naming_the_plugin() {
    let plugin = load(&runtime(), &block_wat("unreachable")).unwrap();
    let err = run(&plugin).unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    assert_eq!(err.plugin_id(), PluginId::new("test", "7"));
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn guest_error_value_is_a_plugin_error() {
    // Err(plugin-error { kind: upstream (3), message: "not json" }).
    let body = "(i32.store8 (i32.const 0) (i32.const 1)) (i32.store8 (i32.const 4) (i32.const 3)) \
                (i32.store (i32.const 8) (i32.const 32)) (i32.store (i32.const 12) (i32.const 8)) \
                (i32.const 0)";
    let plugin = load(&runtime(), &block_wat(body)).unwrap();
    match run(&plugin).unwrap_err() {
        CallError::Plugin { error, .. } => {
            assert_eq!(error.kind, ErrorKind::Upstream);
            assert_eq!(error.message, "not json");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn non_json_block_data_is_bad_output() {
    let plugin = load(&runtime(), &block_wat(&returns_ok(32, 8))).unwrap();
    let err = run(&plugin).unwrap_err();
    assert!(matches!(err, CallError::BadOutput { .. }), "{err}");
}

#[test]
fn output_over_the_cap_is_refused() {
    let over = LimitsOverride {
        output_bytes: Some(10),
        ..LimitsOverride::default()
    };
    let plugin = load_with(&runtime(), &ok_block(), over).unwrap();
    let err = run(&plugin).unwrap_err();
    assert!(
        matches!(
            err,
            CallError::OutputTooLarge {
                size: 11,
                limit: 10,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn calling_the_wrong_world_is_an_error_not_a_panic() {
    let plugin = load(&runtime(), &ok_block()).unwrap();
    let err = plugin.map(&Callback::default(), &json!({})).unwrap_err();
    assert!(
        matches!(
            err,
            CallError::WrongWorld {
                expected: World::Mapper,
                actual: World::Block,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fuel_is_metered_when_enabled() {
    let runtime = runtime_with(RuntimeConfig {
        fuel: true,
        ..small()
    });
    let plugin = load(&runtime, &ok_block()).unwrap();
    let (_, stats) = run(&plugin).unwrap();
    assert!(
        stats.fuel_consumed.is_some_and(|fuel| fuel > 0),
        "{stats:?}"
    );

    let looping = block_wat("(loop $forever (br $forever)) (i32.const 0)");
    let over = LimitsOverride {
        fuel: Some(10_000),
        ..LimitsOverride::default()
    };
    let plugin = load_with(&runtime, &looping, over).unwrap();
    let err = run(&plugin).unwrap_err();
    assert!(
        matches!(err, CallError::OutOfFuel { limit: 10_000, .. }),
        "{err}"
    );
}

#[test]
fn more_concurrent_calls_than_instance_slots_wait_instead_of_failing() {
    let runtime = runtime_with(RuntimeConfig {
        max_instances: 2,
        ..small()
    });
    let plugin = load(&runtime, &ok_block()).unwrap();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let plugin = plugin.clone();
            std::thread::spawn(move || (0..20).all(|_| run(&plugin).is_ok()))
        })
        .collect();
    for thread in threads {
        assert!(thread.join().unwrap());
    }
}
