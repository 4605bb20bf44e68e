use wasmhook_sdk::prelude::*;

#[mapper]
fn map(callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
    let _ = callback.payload()?;
    Ok(Vec::new())
}

mod renderer {
    use wasmhook_sdk::prelude::*;

    #[renderer]
    fn render(request: RenderRequest) -> Result<Rendered, PluginError> {
        Ok(Rendered { content_type: "text/plain".into(), body: request.data.to_string().into_bytes() })
    }
}

mod block {
    use wasmhook_sdk::prelude::*;

    #[block]
    fn run(input: BlockInput, _config: Config) -> Result<Value, PluginError> {
        Ok(input.data)
    }
}

fn main() {}
