use wasmhook_sdk::prelude::*;

#[mapper]
fn map(callback: Callback) -> Result<Vec<Event>, PluginError> {
    let _ = callback;
    Ok(Vec::new())
}

fn main() {}
