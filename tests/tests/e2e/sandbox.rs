//! Hostile guests are contained: each attack is stopped (or refused at
//! load time) with the right typed error, within its limit, and the same
//! plugin's next normal call still works. What a call hands back is capped
//! too: its events, its output bytes (structure included) and its reply.

use std::time::{Duration, Instant};

use serde_json::json;
use wasmhook::runtime::{
    CallError, CallPhase, Limits, LimitsOverride, LoadError, Plugin, PluginId, RuntimeConfig,
};
use wasmhook_sdk::{Callback, LogLevel};

use crate::harness::{guest_bytes, load_guest, runtime, runtime_with};

fn attack(plugin: &Plugin, name: &str) -> Result<(), CallError> {
    plugin
        .map(&Callback::json("{}"), &json!({ "attack": name }))
        .map(|_| ())
}

/// The call after an attack maps normally: nothing of the attack lingers.
fn assert_next_call_works(plugin: &Plugin) {
    let (mapped, _) = plugin
        .map(&Callback::json("{}"), &json!({ "attack": "none" }))
        .expect("a normal call after the attack succeeds");
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(
        mapped.events[0].reference.vendor_message_id.as_deref(),
        Some("ok")
    );
}

#[test]
fn infinite_loop_times_out_at_its_deadline() {
    let runtime = runtime();
    let limits = LimitsOverride {
        timeout_ms: Some(200),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let started = Instant::now();
    let error = attack(&plugin, "loop").unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, CallError::Timeout { limit_ms: 200, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("hostile@1"),
        "error names the plugin: {error}"
    );
    assert!(
        took >= Duration::from_millis(200),
        "stopped early: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "stopped late: {took:?}");
    assert_next_call_works(&plugin);
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let runtime = runtime();
    let limits = LimitsOverride {
        memory_bytes: Some(16 << 20),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let error = attack(&plugin, "memory").unwrap_err();
    assert!(
        matches!(error, CallError::MemoryLimit { limit_bytes, .. } if limit_bytes == 16 << 20),
        "{error}"
    );
    assert_next_call_works(&plugin);
}

#[test]
fn stack_overflow_is_a_trap() {
    let runtime = runtime();
    let plugin = load_guest(&runtime, "hostile", LimitsOverride::default());
    let error = attack(&plugin, "stack").unwrap_err();
    match &error {
        CallError::Trap { message, .. } => assert!(message.contains("stack"), "{message}"),
        other => panic!("expected a trap, got {other}"),
    }
    assert_next_call_works(&plugin);
}

#[test]
fn shadow_stack_overflow_is_a_trap() {
    let runtime = runtime();
    let plugin = load_guest(&runtime, "hostile", LimitsOverride::default());
    let error = attack(&plugin, "shadow_stack").unwrap_err();
    match &error {
        CallError::Trap { message, .. } => {
            assert!(message.contains("out of bounds"), "{message}")
        }
        other => panic!("expected a trap, got {other}"),
    }
    assert_next_call_works(&plugin);
}

#[test]
fn panic_is_a_trap_with_the_panic_message() {
    let runtime = runtime();
    let plugin = load_guest(&runtime, "hostile", LimitsOverride::default());
    let outcome = plugin.map_outcome(&Callback::json("{}"), &json!({ "attack": "panic" }));
    let error = outcome.result.unwrap_err();
    assert!(matches!(error, CallError::Trap { .. }), "{error}");
    let said_why = error.to_string().contains("panics on purpose")
        || outcome
            .stats
            .logs
            .iter()
            .any(|(_, line)| line.contains("panics on purpose"));
    assert!(
        said_why,
        "the panic message reaches the operator: {error} / {:?}",
        outcome.stats.logs
    );
    assert_next_call_works(&plugin);
}

#[test]
fn huge_output_is_refused_over_the_output_cap() {
    let runtime = runtime();
    let limits = LimitsOverride {
        output_bytes: Some(1 << 20),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let error = attack(&plugin, "huge_output").unwrap_err();
    assert!(
        matches!(error, CallError::OutputTooLarge { limit, .. } if limit == 1 << 20),
        "{error}"
    );
    assert_next_call_works(&plugin);
}

/// Guest memory that lets the hostile mapper build its 100,000 events.
const FLOOD_MEMORY_BYTES: u64 = 128 << 20;

#[test]
fn a_flood_of_events_is_refused_over_the_event_cap() {
    let runtime = runtime();
    // Building 100,000 events through the SDK takes the guest more than
    // the default 64 MiB (and may take more than a second on a loaded
    // machine); an operator may well give a plugin more, and the event cap
    // must hold whatever the memory and time.
    let limits = LimitsOverride {
        memory_bytes: Some(FLOOD_MEMORY_BYTES),
        timeout_ms: Some(30_000),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    // 100,000 events from a two-byte callback.
    let error = attack(&plugin, "many_events").unwrap_err();
    match &error {
        CallError::TooManyEvents { count, limit, .. } => {
            assert_eq!((*count, *limit), (100_000, Limits::DEFAULT_MAX_EVENTS))
        }
        other => panic!("expected too many events, got {other}"),
    }
    let message = error.to_string();
    for part in ["hostile@1", "100000 events", "cap of 5000", "max_events"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert_next_call_works(&plugin);

    // Exactly the cap is fine.
    let config = json!({"attack": "many_events", "count": Limits::DEFAULT_MAX_EVENTS});
    let (mapped, _) = plugin.map(&Callback::json("{}"), &config).unwrap();
    assert_eq!(mapped.events.len() as u64, Limits::DEFAULT_MAX_EVENTS);
}

#[test]
fn empty_events_count_against_the_output_cap_too() {
    let runtime = runtime();
    // The event cap raised out of the way: what is left is the output cap,
    // which counts each event's structure, not only its text (the 20,000
    // events carry ~0.2 MB of text, far under a 1 MiB cap).
    let limits = LimitsOverride {
        max_events: Some(Limits::MAX_EVENTS),
        output_bytes: Some(1 << 20),
        timeout_ms: Some(30_000),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let config = json!({"attack": "many_events", "count": 20_000});
    let error = plugin
        .map(&Callback::json("{}"), &config)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(error, CallError::OutputTooLarge { size, limit, .. }
            if limit == 1 << 20 && size > 20_000 * Limits::EVENT_BYTES),
        "{error}"
    );
    assert_next_call_works(&plugin);
}

#[test]
fn a_reply_a_vendor_should_not_get_is_refused_naming_the_field() {
    let runtime = runtime();
    let plugin = load_guest(&runtime, "hostile", LimitsOverride::default());
    let bad_reply = |config| {
        plugin
            .map(&Callback::json("{}"), &config)
            .map(|_| ())
            .unwrap_err()
    };
    let cases = [
        (json!({"attack": "bad_reply"}), "reply.status: 101"),
        (
            json!({"attack": "bad_reply", "status": 204, "body": "surprise"}),
            "reply.body: must be empty with status 204",
        ),
        (
            json!({"attack": "bad_reply", "status": 200, "body": "x".repeat(70_000)}),
            "reply.body: 70000 bytes",
        ),
    ];
    for (config, expected) in cases {
        match bad_reply(config) {
            CallError::BadOutput { detail, .. } => {
                assert!(detail.starts_with(expected), "{detail}")
            }
            other => panic!("expected bad output, got {other}"),
        }
        assert_next_call_works(&plugin);
    }
    // A sensible reply passes.
    let config = json!({"attack": "bad_reply", "status": 200, "body": "challenge-42"});
    let (mapped, _) = plugin.map(&Callback::json("{}"), &config).unwrap();
    let reply = mapped.reply.expect("the reply");
    assert_eq!((reply.status, reply.body), (200, b"challenge-42".to_vec()));
}

#[test]
fn log_flood_is_capped_and_counted() {
    let runtime = runtime();
    let limits = LimitsOverride {
        log_bytes: Some(4096),
        timeout_ms: Some(30_000),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let (mapped, stats) = plugin
        .map(&Callback::json("{}"), &json!({ "attack": "log_flood" }))
        .expect("a flooding plugin still returns its result");
    assert_eq!(mapped.events.len(), 1);
    let kept: usize = stats.logs.iter().map(|(_, line)| line.len()).sum();
    assert!(
        kept <= 4096,
        "kept {kept} bytes of logs over a 4096-byte cap"
    );
    assert!(
        stats.logs_dropped > 900_000,
        "dropped only {}",
        stats.logs_dropped
    );
    assert!(stats.logs.iter().all(|(level, _)| *level == LogLevel::Info));
    assert_next_call_works(&plugin);
}

#[test]
fn a_mapper_importing_outbound_http_is_refused_naming_the_import() {
    let error = runtime()
        .inspect(&guest_bytes("forbidden-http"))
        .unwrap_err();
    match &error {
        LoadError::UnsatisfiedImport { import, .. } => {
            assert!(import.contains("wasmhook:plugin/http"), "{error}")
        }
        other => panic!("expected an unsatisfied import, got {other}"),
    }
}

#[test]
fn a_component_importing_sockets_is_refused_naming_the_import() {
    let error = runtime()
        .inspect(&guest_bytes("forbidden-socket"))
        .unwrap_err();
    match &error {
        LoadError::UnsatisfiedImport { import, .. } => {
            assert!(import.contains("wasi:sockets"), "{error}")
        }
        other => panic!("expected an unsatisfied import, got {other}"),
    }
}

#[test]
fn a_core_module_is_refused() {
    let core = wat::parse_str(r#"(module (func (export "map")))"#).unwrap();
    let error = runtime().inspect(&core).unwrap_err();
    assert!(matches!(error, LoadError::CoreModule), "{error}");
    assert!(
        error.to_string().contains("wasm32-wasip2"),
        "the error says how to fix it: {error}"
    );
}

#[test]
fn random_bytes_are_refused() {
    // A fixed pseudo-random sequence (xorshift), so a failure is repeatable.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let error = runtime().inspect(&bytes).unwrap_err();
    assert!(matches!(error, LoadError::NotWasm), "{error}");
}

#[test]
fn an_oversized_component_is_refused() {
    let runtime = runtime_with(RuntimeConfig {
        max_component_bytes: 64 << 10,
        ..RuntimeConfig::default()
    });
    let error = runtime.inspect(&guest_bytes("hostile")).unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { limit, .. } if limit == 64 << 10),
        "{error}"
    );
}

#[test]
fn a_component_of_no_known_world_is_refused() {
    let component =
        wat::parse_str(r#"(component (core module $m) (core instance (instantiate $m)))"#).unwrap();
    let error = runtime().inspect(&component).unwrap_err();
    assert!(matches!(error, LoadError::UnknownWorld { .. }), "{error}");
}

#[test]
fn a_plugin_is_called_only_in_its_own_world() {
    let runtime = runtime();
    let plugin = runtime
        .load(
            PluginId::new("hostile", "1"),
            &guest_bytes("hostile"),
            &LimitsOverride::default(),
            &json!({}),
        )
        .unwrap();
    let request = wasmhook_sdk::RenderRequest {
        template: None,
        format: wasmhook_sdk::BodyFormat::Json,
        data: json!({}),
        config: json!({}),
    };
    let error = plugin.render(&request).unwrap_err();
    assert!(matches!(error, CallError::WrongWorld { .. }), "{error}");
}

/// A guest blocked in a WASI call (a sleep: `subscribe-duration` and
/// `pollable.block`; a read of stdin) is stopped at its deadline like one
/// running code, and the error says where it was stuck.
#[test]
fn a_mapper_blocked_in_wasi_is_stopped_at_its_deadline_and_the_error_says_where() {
    let runtime = runtime();
    let limits = LimitsOverride {
        timeout_ms: Some(200),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    for attack_name in ["sleep", "stdin"] {
        let started = Instant::now();
        let error = attack(&plugin, attack_name).unwrap_err();
        let took = started.elapsed();
        match &error {
            CallError::Timeout {
                limit_ms: 200,
                during: CallPhase::WasiPoll { .. },
                ..
            } => {}
            other => panic!("{attack_name}: expected a timeout in wasi:io/poll, got {other}"),
        }
        let message = error.to_string();
        assert!(
            message.contains("timed out after 200 ms") && message.contains("wasi:io/poll"),
            "{attack_name}: {message}"
        );
        assert!(
            took >= Duration::from_millis(200),
            "{attack_name}: stopped early: {took:?}"
        );
        assert!(
            took < Duration::from_millis(300),
            "{attack_name}: not stopped within deadline + 100 ms: {took:?}"
        );
    }
    assert_next_call_works(&plugin);
}

/// A guest spinning in its own code says so: the two kinds of timeout are
/// told apart.
#[test]
fn a_spinning_mapper_times_out_in_plugin_code() {
    let runtime = runtime();
    let limits = LimitsOverride {
        timeout_ms: Some(100),
        ..LimitsOverride::default()
    };
    let plugin = load_guest(&runtime, "hostile", limits);
    let error = attack(&plugin, "loop").unwrap_err();
    assert!(
        matches!(
            error,
            CallError::Timeout {
                during: CallPhase::Guest,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("running plugin code"), "{error}");
}
