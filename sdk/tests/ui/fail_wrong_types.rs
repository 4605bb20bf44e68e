use wasmhook_sdk::prelude::*;

#[mapper]
fn map(body: String, _config: Config) -> Result<Vec<Event>, PluginError> {
    let _ = body;
    Ok(Vec::new())
}

fn main() {}
