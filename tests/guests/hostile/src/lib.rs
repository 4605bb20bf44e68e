//! A mapper that misbehaves on request, to prove the host's limits: the
//! source config's `attack` picks what it does; `none` maps nothing and
//! returns one event, proving the next call after an attack still works.
//! `many_events` returns `count` (default 100,000) events from any callback;
//! `bad_reply` answers the vendor with `status` (default 101) and `body`.

use std::hint::black_box;

use wasmhook_sdk::prelude::*;

#[mapper]
fn map(_callback: Callback, config: Config) -> Result<Mapped, PluginError> {
    let events = match config.get_str("attack").unwrap_or("none") {
        "many_events" => {
            let count = config
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(100_000);
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            // Distinct message ids: a host that stored them would keep
            // every one (no dedupe).
            Ok((0..count)
                .map(|i| ok_event().message_id(Some(format!("m{i}"))))
                .collect())
        }
        "bad_reply" => {
            let status = config
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|status| u16::try_from(status).ok())
                .unwrap_or(101);
            let body = config.get_str("body").unwrap_or("").as_bytes().to_vec();
            return Ok(Mapped {
                events: vec![ok_event()],
                reply: Some(Reply {
                    status,
                    content_type: "text/plain".to_owned(),
                    body,
                }),
            });
        }
        "loop" => loop {
            black_box(());
        },
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(black_box(vec![1u8; 1 << 20]));
            }
        }
        "stack" => Ok(vec![
            ok_event().message_id(Some(deep(black_box(1)).to_string())),
        ]),
        "shadow_stack" => Ok(vec![recurse(black_box(1))]),
        "panic" => panic!("the hostile guest panics on purpose"),
        "huge_output" => {
            let blob = "x".repeat(4 << 20);
            Ok(vec![ok_event().raw(Value::String(blob))])
        }
        "log_flood" => {
            for i in 0..1_000_000u32 {
                host::info(&format!("flood line {i}"));
            }
            Ok(vec![ok_event()])
        }
        // Blocking WASI calls: a sleep is `subscribe-duration` plus
        // `pollable.block`; reading stdin waits on an input stream.
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(30));
            Ok(vec![ok_event()])
        }
        "stdin" => {
            let mut input = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)
                .map_err(|error| PluginError::internal(error.to_string()))?;
            std::thread::sleep(std::time::Duration::from_secs(30));
            Ok(vec![ok_event().message_id(Some(input.len().to_string()))])
        }
        "none" => Ok(vec![ok_event()]),
        other => Err(PluginError::invalid_config(format!(
            "unknown attack `{other}`"
        ))),
    };
    events.map(Mapped::from)
}

fn ok_event() -> Event {
    Event::status(Channel::Other, Status::Delivered, "hostile").message_id(Some("ok".into()))
}

/// Unbounded recursion with small frames: exhausts the wasm call stack
/// (wasmtime's "call stack exhausted" trap).
#[allow(unconditional_recursion)]
fn deep(depth: u64) -> u64 {
    black_box(deep(black_box(depth + 1))).wrapping_add(depth)
}

/// Unbounded recursion with large frames the optimiser cannot remove: they
/// live on Rust's shadow stack in linear memory, which overflows first (an
/// out-of-bounds memory trap).
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> Event {
    let frame = black_box([depth; 64]);
    let event = recurse(black_box(depth + 1));
    black_box(frame);
    event
}
