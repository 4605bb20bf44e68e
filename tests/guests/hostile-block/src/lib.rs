//! A block that misbehaves on request, to prove a block run's failures are
//! values and its requests are capped: `config.attack` = `panic` traps
//! (`plugin_trap`), `loop` spins until the host's deadline
//! (`plugin_timeout`), `sleep` blocks in `wasi:io/poll` for a minute (also
//! `plugin_timeout`), `none` (the default) returns `{"ok": true}`, proving
//! the next run after an attack still works.
//!
//! The request attacks send to `config.url` and return what the host
//! answered as data (they never fail on their own): `spam` sends `count`
//! (default 10,000) GETs; `huge_header` one GET with a 1 MiB header;
//! `connect` and `trace` one request with that method.

use std::hint::black_box;

use wasmhook_sdk::prelude::*;

#[block]
fn run(_input: BlockInput, config: Config) -> Result<Value, PluginError> {
    let url = || {
        config
            .get_str("url")
            .map(str::to_owned)
            .ok_or_else(|| PluginError::invalid_config("config.url: required (a URL)"))
    };
    match config.get_str("attack").unwrap_or("none") {
        "panic" => panic!("the hostile block panics on purpose"),
        "loop" => loop {
            black_box(());
        },
        "spam" => {
            let count = config
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(10_000);
            Ok(spam(&url()?, count))
        }
        "huge_header" => {
            let header = ("x-huge".to_owned(), "h".repeat(1 << 20));
            Ok(outcome(&send("GET", &url()?, vec![header])))
        }
        "connect" => Ok(outcome(&send("CONNECT", &url()?, Vec::new()))),
        "trace" => Ok(outcome(&send("TRACE", &url()?, Vec::new()))),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(60));
            Ok(json!({"slept": true}))
        }
        "none" => Ok(json!({"ok": true})),
        other => Err(PluginError::invalid_config(format!(
            "config.attack: unknown attack `{other}` (panic, loop, sleep, spam, huge_header, \
             connect, trace or none)"
        ))),
    }
}

fn send(
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
) -> Result<HttpResponse, HttpError> {
    host::send(&HttpRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        headers,
        ..HttpRequest::default()
    })
}

/// `count` requests; how many were answered, how many refused, and the
/// first refusal the host gave.
fn spam(url: &str, count: u64) -> Value {
    let (mut answered, mut refused, mut other) = (0u64, 0u64, 0u64);
    let mut first_refusal = None;
    for _ in 0..count {
        match send("GET", url, Vec::new()) {
            Ok(_) => answered += 1,
            Err(HttpError::Refused(why)) => {
                refused += 1;
                first_refusal.get_or_insert(why);
            }
            Err(_) => other += 1,
        }
    }
    json!({
        "answered": answered,
        "refused": refused,
        "other": other,
        "first_refusal": first_refusal,
    })
}

/// What one request came to: its status, or the error's kind and detail.
fn outcome(result: &Result<HttpResponse, HttpError>) -> Value {
    match result {
        Ok(response) => json!({"status": response.status}),
        Err(error) => serde_json::to_value(error).unwrap_or(Value::Null),
    }
}
