//! A *mapper* that calls the host's outbound HTTP, which only blocks may
//! import: the host must refuse to load it, naming the import.

use wasmhook_sdk::prelude::*;

#[mapper]
fn map(_callback: Callback, _config: Config) -> Result<Vec<Event>, PluginError> {
    let response = host::send(&HttpRequest {
        method: "GET".into(),
        url: "http://127.0.0.1:9/".into(),
        ..HttpRequest::default()
    })?;
    Err(PluginError::internal(format!(
        "unexpected response {}",
        response.status
    )))
}
