//! The `wasmhook plugin run|check` command line, as a user runs it: the
//! acceptance example (a Gupshup delivered sample through the gupshup
//! mapper), stats on stderr, and clear failures.

use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{fixtures_dir, guest_bytes, plugin_path};

pub(super) fn wasmhook(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .args(args)
        .env("WASMHOOK_CACHE_DIR", cache.path())
        .output()
        .expect("wasmhook runs")
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[test]
fn plugin_run_maps_a_gupshup_delivered_sample() {
    let plugin = plugin_path("gupshup");
    let input = fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json");
    let output = wasmhook(&[
        "plugin",
        "run",
        plugin.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let mapped = stdout_json(&output);
    let event = &mapped["events"][0];
    assert_eq!(event["event_type"], "status");
    assert_eq!(event["status"]["status"], "delivered");
    assert_eq!(event["channel"], "whatsapp");
    assert!(
        event["reference"]["vendor_message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        event["channel_value"]
            .as_str()
            .is_some_and(|to| !to.is_empty())
    );
    let timestamp = event["status"]["timestamp"]
        .as_i64()
        .expect("epoch ms timestamp");
    assert!(
        timestamp > 1_000_000_000_000,
        "milliseconds, not seconds: {timestamp}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("duration") && stderr.contains("memory"),
        "stats on stderr: {stderr}"
    );
}

#[test]
fn plugin_run_takes_a_get_query_and_config() {
    let plugin = plugin_path("meta-whatsapp");
    let output = wasmhook(&[
        "plugin",
        "run",
        plugin.to_str().unwrap(),
        "--method",
        "GET",
        "--query",
        "hub.mode=subscribe&hub.verify_token=s3cret&hub.challenge=1158201444",
        "--config",
        r#"{"verify_token": "s3cret"}"#,
    ]);
    let mapped = stdout_json(&output);
    assert_eq!(mapped["events"], serde_json::json!([]));
    assert_eq!(mapped["reply"]["status"], 200);
}

#[test]
fn plugin_run_fails_clearly_on_a_plugin_error() {
    let plugin = plugin_path("gupshup");
    let input = fixtures_dir("gupshup").join("wa-v3-enqueued.original.txt");
    let output = wasmhook(&[
        "plugin",
        "run",
        plugin.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--content-type",
        "application/json",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gupshup"), "names the plugin: {stderr}");
    assert!(
        stderr.contains("invalid input"),
        "says what was wrong: {stderr}"
    );
}

#[test]
fn plugin_check_reports_the_world_or_the_refusal() {
    let plugin = plugin_path("http-block");
    let output = wasmhook(&["plugin", "check", plugin.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("block"), "{report}");
    assert!(
        report.contains("wasmhook:plugin/http"),
        "imports listed: {report}"
    );

    let dir = tempfile::tempdir().unwrap();
    let forbidden = dir.path().join("forbidden.wasm");
    std::fs::write(&forbidden, guest_bytes("forbidden-socket")).unwrap();
    let output = wasmhook(&["plugin", "check", forbidden.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("wasi:sockets"),
        "names the import: {stderr}"
    );
    assert!(
        stderr.contains("forbidden.wasm"),
        "names the file: {stderr}"
    );
}

/// `--timeout-ms` holds for a guest that sleeps in a WASI call, and the
/// message says where it was stuck (the audit saw a 30 s sleep run to its
/// end under `--timeout-ms 100`).
#[test]
fn plugin_run_stops_a_sleeping_guest_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hostile.wasm");
    std::fs::write(&wasm, guest_bytes("hostile")).unwrap();
    let input = dir.path().join("callback.json");
    std::fs::write(&input, "{}").unwrap();
    let started = std::time::Instant::now();
    let output = wasmhook(&[
        "plugin",
        "run",
        wasm.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--config",
        r#"{"attack": "sleep"}"#,
        "--timeout-ms",
        "100",
    ]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a timed-out call fails: {stderr}");
    assert!(
        stderr.contains("timed out after 100 ms") && stderr.contains("wasi:io/poll"),
        "{stderr}"
    );
    // Compiling the guest takes a moment; the 30 s sleep must not.
    assert!(
        took < std::time::Duration::from_secs(20),
        "took {took:?}: {stderr}"
    );
}
