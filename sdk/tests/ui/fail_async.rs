use wasmhook_sdk::prelude::*;

#[renderer]
async fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
    let _ = request;
    Err(PluginError::internal("no"))
}

fn main() {}
