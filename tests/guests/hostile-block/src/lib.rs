//! A block that misbehaves on request, to prove a block run's failures are
//! values: `config.attack` = `panic` traps (`plugin_trap`), `loop` spins
//! until the host's deadline (`plugin_timeout`), `sleep` blocks in
//! `wasi:io/poll` for a minute (also `plugin_timeout`), `none` (the default)
//! returns `{"ok": true}`, proving the next run after an attack still works.

use std::hint::black_box;

use wasmhook_sdk::prelude::*;

#[block]
fn run(_input: BlockInput, config: Config) -> Result<Value, PluginError> {
    match config.get_str("attack").unwrap_or("none") {
        "panic" => panic!("the hostile block panics on purpose"),
        "loop" => loop {
            black_box(());
        },
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(60));
            Ok(json!({"slept": true}))
        }
        "none" => Ok(json!({"ok": true})),
        other => Err(PluginError::invalid_config(format!(
            "config.attack: unknown attack `{other}` (panic, loop, sleep or none)"
        ))),
    }
}
